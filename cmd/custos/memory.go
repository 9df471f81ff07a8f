package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// goHeapShare is the part of --memory-limit given to the Go runtime as its
// soft memory limit (runtime/debug.SetMemoryLimit). The rest is for what the
// Go runtime does not count: wazero's compiled code (mapped outside the
// heap), the embedded store's C allocations when built with cgo, and the
// collector's overshoot. With a million resident twins 80 % of 1.5 GiB
// (1.2 GiB) kept the whole process at 1.36–1.45 GiB (docs/performance.md).
const goHeapShare = 0.8

// memorySetting is what setMemoryLimit decided, for the start banner.
type memorySetting struct {
	limit  uint64 // the process's limit in bytes; 0: none
	goMem  int64  // the Go runtime's soft limit; math.MaxInt64: none
	source string // "--memory-limit", "cgroup", "GOMEMLIMIT", "off" or "" (no cgroup limit)
}

func (m memorySetting) String() string {
	switch {
	case m.source == "GOMEMLIMIT":
		return "Go memory limit " + formatBytes(uint64(m.goMem)) + " (GOMEMLIMIT)"
	case m.source == "off":
		return "no limit (--memory-limit off)"
	case m.limit == 0:
		return "no limit (--memory-limit; a container's limit is used when there is one)"
	default:
		return fmt.Sprintf("%s (%s), Go heap up to %s", formatBytes(m.limit), m.source, formatBytes(uint64(m.goMem)))
	}
}

// bytesPerResident is the memory budget per resident twin behind the default
// of --max-resident: a million resident coldchain twins took ~1.1 KB each at
// rest, everything included (packed twin, NATS's index entries for its
// subjects and bucket key, the store's caches), and the Go heap needs room
// above what is live for the collector to work in (docs/performance.md,
// "Fleet scale").
const bytesPerResident = 2 << 10

// defaultMaxResident is the runtime's own cap when no memory limit is known.
const defaultMaxResident = 2_000_000

// maxResident is the cap on resident twins: flag if set (> 0), else one twin
// per bytesPerResident of the process's memory limit (with GOMEMLIMIT, of
// the limit it is goHeapShare of), else (no limit) defaultMaxResident.
func (m memorySetting) maxResident(flag int) int {
	switch {
	case flag > 0:
		return flag
	case m.limit > 0:
		return int(max(min(m.limit/bytesPerResident, math.MaxInt32), 1000))
	case m.source == "GOMEMLIMIT" && m.goMem > 0 && m.goMem < math.MaxInt64:
		return int(max(min(uint64(float64(m.goMem)/goHeapShare)/bytesPerResident, math.MaxInt32), 1000))
	default:
		return defaultMaxResident
	}
}

// setMemoryLimit applies --memory-limit: "auto" takes the limit of the
// process's cgroup (a container's memory limit), if any; "off" sets none;
// otherwise a size (1536MiB, 1.5GiB, 2GB, 1610612736). The Go runtime then
// collects garbage harder as the heap nears goHeapShare of the limit,
// instead of growing it to twice the live heap (GOGC=100) and being killed
// by the kernel. GOMEMLIMIT, Go's own setting, wins when it is set.
func setMemoryLimit(spec string, log *slog.Logger) (memorySetting, error) {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok && v != "" {
		return memorySetting{goMem: debug.SetMemoryLimit(-1), source: "GOMEMLIMIT"}, nil
	}
	var (
		provider memlimit.Provider
		source   string
	)
	switch spec {
	case "off":
		return memorySetting{goMem: debug.SetMemoryLimit(-1), source: "off"}, nil
	case "", "auto":
		provider, source = memlimit.FromCgroup, "cgroup"
	default:
		n, err := parseBytes(spec)
		if err != nil {
			return memorySetting{}, fmt.Errorf("--memory-limit %q: %w", spec, err)
		}
		provider, source = memlimit.Limit(n), "--memory-limit"
	}
	limit, err := provider()
	switch {
	case errors.Is(err, memlimit.ErrNoLimit), errors.Is(err, memlimit.ErrCgroupsNotSupported):
		return memorySetting{goMem: debug.SetMemoryLimit(-1)}, nil
	case err != nil:
		// A cgroup file that cannot be read is no reason not to start.
		log.Warn("memory limit: cannot read the cgroup's limit; running without one", "err", err)
		return memorySetting{goMem: debug.SetMemoryLimit(-1)}, nil
	}
	goMem := int64(math.Min(float64(limit)*goHeapShare, math.MaxInt64))
	debug.SetMemoryLimit(goMem)
	return memorySetting{limit: limit, goMem: goMem, source: source}, nil
}

// parseBytes reads a size: an integer or decimal number with an optional
// unit B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of
// 1024).
func parseBytes(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", unit)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) {
		return 0, errors.New("want a positive size such as 1536MiB or 1.5GiB")
	}
	n := f * mult
	if n < 64<<20 {
		return 0, errors.New("below 64 MiB: too little to run")
	}
	if n >= math.MaxInt64 {
		return 0, errors.New("too large")
	}
	return uint64(n), nil
}

// formatBytes writes n in the largest binary unit that keeps one decimal.
func formatBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return strconv.FormatUint(n, 10) + " B"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[u]
}
