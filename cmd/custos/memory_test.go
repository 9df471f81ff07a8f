package main

import (
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]uint64{
		"1536MiB": 1536 << 20, "1.5GiB": 3 << 29, "2GB": 2e9, "100MB": 1e8,
		"1610612736": 1610612736, " 1 TiB ": 1 << 40, "65536KiB": 64 << 20,
	} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"": "positive size", "1.5": "too little", "12 parsecs": "unknown unit", "GiB": "positive size",
		"-1GiB": "unknown unit", "0MiB": "positive size", "1e30GiB": "unknown unit", "63MiB": "too little",
		"99999999TiB": "too large", "1..5GiB": "positive size",
	} {
		if _, err := parseBytes(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseBytes(%q): %v, want an error saying %q", in, err, msg)
		}
	}
}

func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	t.Setenv("GOMEMLIMIT", "")
	log := slog.New(slog.DiscardHandler)

	m, err := setMemoryLimit("1.5GiB", log)
	if err != nil {
		t.Fatal(err)
	}
	limit := uint64(3 << 29)
	want := int64(float64(limit) * 0.8)
	if got := debug.SetMemoryLimit(-1); got != want || m.goMem != want || m.limit != 3<<29 || m.source != "--memory-limit" {
		t.Fatalf("1.5GiB: Go limit %d, setting %+v; want %d", got, m, want)
	}
	if s := m.String(); s != "1.5 GiB (--memory-limit), Go heap up to 1.2 GiB" {
		t.Errorf("banner %q", s)
	}

	if _, err := setMemoryLimit("off", log); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Fatalf("off changed the limit to %d", got)
	}
	debug.SetMemoryLimit(math.MaxInt64)

	if _, err := setMemoryLimit("lots", log); err == nil || !strings.Contains(err.Error(), `--memory-limit "lots"`) {
		t.Fatalf("bad size: %v", err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("a refused size set the limit to %d", got)
	}

	// GOMEMLIMIT, Go's own setting, wins over the flag.
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30) // what the runtime read from it at start
	m, err = setMemoryLimit("4GiB", log)
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 || m.source != "GOMEMLIMIT" {
		t.Fatalf("with GOMEMLIMIT: Go limit %d, setting %+v", got, m)
	}

	// auto: whatever the cgroup says; never an error, never below the flag's floor.
	t.Setenv("GOMEMLIMIT", "")
	m, err = setMemoryLimit("auto", log)
	if err != nil {
		t.Fatal(err)
	}
	if m.limit != 0 && (m.source != "cgroup" || m.goMem != int64(float64(m.limit)*0.8)) {
		t.Fatalf("auto: %+v", m)
	}
	t.Logf("auto on this machine: %s", m)
}

func TestMaxResident(t *testing.T) {
	for _, c := range []struct {
		name string
		m    memorySetting
		flag int
		want int
	}{
		{"flag wins", memorySetting{limit: 3 << 29, source: "--memory-limit"}, 5000, 5000},
		{"1.5GiB", memorySetting{limit: 3 << 29, goMem: 1288490188, source: "--memory-limit"}, 0, 786432},
		{"cgroup 8GiB", memorySetting{limit: 8 << 30, source: "cgroup"}, 0, 4194304},
		{"GOMEMLIMIT 1200MiB", memorySetting{goMem: 1200 << 20, source: "GOMEMLIMIT"}, 0, 768000},
		{"GOMEMLIMIT unset but read", memorySetting{goMem: math.MaxInt64, source: "GOMEMLIMIT"}, 0, defaultMaxResident},
		{"no limit", memorySetting{goMem: math.MaxInt64}, 0, defaultMaxResident},
		{"off", memorySetting{goMem: math.MaxInt64, source: "off"}, 0, defaultMaxResident},
		{"tiny limit", memorySetting{limit: 64 << 20, source: "--memory-limit"}, 0, 32768},
	} {
		if got := c.m.maxResident(c.flag); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
