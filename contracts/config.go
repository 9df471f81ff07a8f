package contracts

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Defaults for zero Config fields. `custos run` and `custos policy test`
// use the same ones (wasm-policies/ABI.md §6).
const (
	DefaultMaxMemoryPages = 1024 // 64 MiB
	DefaultFuel           = 100_000_000
	DefaultWatchdog       = 30 * time.Second
	DefaultMaxOutputBytes = 1 << 20
	DefaultMaxModuleBytes = 16 << 20
	// MaxFuel is the largest budget a Config or a module's custos.fuel
	// section may ask for.
	MaxFuel = 1 << 40
)

// Config configures a Host. Zero fields take the defaults; NewHost rejects
// out-of-range values with an error wrapping ErrInvalidConfig.
type Config struct {
	// CacheDir, if set, keeps compiled machine code on disk across restarts.
	CacheDir string
	// MaxMemoryPages caps each instance's linear memory (64 KiB pages,
	// 1–65536). Growing past it fails the call with Kind "memory".
	MaxMemoryPages uint32
	// Fuel is the instruction budget of one guest call (see the package
	// doc, "Fuel"), 1000 to MaxFuel; a module may carry its own in a
	// custos.fuel section. Exhausting it fails the call with Kind "fuel".
	Fuel uint64
	// Watchdog is the wall-clock backstop: a call still running after it
	// quarantines its module (Kind "quarantined" for every later call). It
	// never decides the outcome of the call itself. At least 1 s.
	Watchdog time.Duration
	// MaxOutputBytes caps the encoded output of one call.
	MaxOutputBytes int
	// MaxModuleBytes caps the size of a module at Register.
	MaxModuleBytes int
	// PoolSize is the most instances kept per module (default GOMAXPROCS).
	PoolSize int
	// Logger receives instance lifecycle events (default slog.Default()).
	Logger *slog.Logger
	// OnCall, if set, is called after every guest call that ran (success
	// or deterministic failure) with what it used. It must be fast and
	// safe for concurrent use.
	OnCall func(CallStats)
	// OnQuarantine, if set, is called once when the watchdog quarantines a
	// module.
	OnQuarantine func(module string, reason string)
}

// CallStats describes one guest call.
type CallStats struct {
	Module string // sha256 hex
	Entry  string // init, apply, view or migrate
	Twin   string
	Seq    uint64
	Fuel   uint64 // fuel used (the budget when exhausted)
	Kind   string // failure kind, "" on success
}

func (c Config) withDefaults() (Config, error) {
	if c.MaxMemoryPages == 0 {
		c.MaxMemoryPages = DefaultMaxMemoryPages
	}
	if c.Fuel == 0 {
		c.Fuel = DefaultFuel
	}
	if c.Watchdog == 0 {
		c.Watchdog = DefaultWatchdog
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
	case c.Fuel < 1000 || c.Fuel > MaxFuel:
		return c, fmt.Errorf("%w: Fuel %d not in [1000, %d]", ErrInvalidConfig, c.Fuel, uint64(MaxFuel))
	case c.Watchdog < time.Second:
		return c, fmt.Errorf("%w: Watchdog %v under 1s", ErrInvalidConfig, c.Watchdog)
	case c.MaxOutputBytes < 64 || c.MaxOutputBytes > 1<<30:
		return c, fmt.Errorf("%w: MaxOutputBytes %d not in [64, 1GiB]", ErrInvalidConfig, c.MaxOutputBytes)
	case c.MaxModuleBytes < 8 || c.MaxModuleBytes > 1<<30:
		return c, fmt.Errorf("%w: MaxModuleBytes %d not in [8, 1GiB]", ErrInvalidConfig, c.MaxModuleBytes)
	case c.PoolSize < 1 || c.PoolSize > 4096:
		return c, fmt.Errorf("%w: PoolSize %d not in [1, 4096]", ErrInvalidConfig, c.PoolSize)
	}
	return c, nil
}
