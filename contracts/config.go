package contracts

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultMaxMemoryPages = 1024 // 64 MiB
	DefaultCallTimeout    = 500 * time.Millisecond
	DefaultMaxOutputBytes = 1 << 20
	DefaultMaxModuleBytes = 16 << 20
)

// Config configures a Host. Zero fields take the defaults; NewHost rejects
// out-of-range values with an error wrapping ErrInvalidConfig.
type Config struct {
	// CacheDir, if set, keeps compiled machine code on disk across restarts.
	CacheDir string
	// MaxMemoryPages caps each instance's linear memory (64 KiB pages,
	// 1–65536). Growing past it fails the call with Kind "memory".
	MaxMemoryPages uint32
	// CallTimeout bounds each guest call (and instance initialisation).
	CallTimeout time.Duration
	// MaxOutputBytes caps the encoded output of one call.
	MaxOutputBytes int
	// MaxModuleBytes caps the size of a module at Register.
	MaxModuleBytes int
	// PoolSize is the most instances kept per module (default GOMAXPROCS).
	PoolSize int
	// Logger receives instance lifecycle events (default slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.MaxMemoryPages == 0 {
		c.MaxMemoryPages = DefaultMaxMemoryPages
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if c.MaxModuleBytes == 0 {
		c.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if c.PoolSize == 0 {
		c.PoolSize = runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.MaxMemoryPages > 65536:
		return c, fmt.Errorf("%w: MaxMemoryPages %d over 65536", ErrInvalidConfig, c.MaxMemoryPages)
	case c.CallTimeout < time.Millisecond:
		return c, fmt.Errorf("%w: CallTimeout %v under 1ms", ErrInvalidConfig, c.CallTimeout)
	case c.MaxOutputBytes < 64 || c.MaxOutputBytes > 1<<30:
		return c, fmt.Errorf("%w: MaxOutputBytes %d not in [64, 1GiB]", ErrInvalidConfig, c.MaxOutputBytes)
	case c.MaxModuleBytes < 8 || c.MaxModuleBytes > 1<<30:
		return c, fmt.Errorf("%w: MaxModuleBytes %d not in [8, 1GiB]", ErrInvalidConfig, c.MaxModuleBytes)
	case c.PoolSize < 1 || c.PoolSize > 4096:
		return c, fmt.Errorf("%w: PoolSize %d not in [1, 4096]", ErrInvalidConfig, c.PoolSize)
	}
	return c, nil
}
