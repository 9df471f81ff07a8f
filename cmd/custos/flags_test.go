package main

import (
	"testing"
	"time"
)

func TestParseInputRetention(t *testing.T) {
	for in, want := range map[string]inputRetention{
		"applied": {applied: true},
		"0":       {},
		"":        {},
		"168h":    {age: 168 * time.Hour},
		"90s":     {age: 90 * time.Second},
	} {
		if got, err := parseInputRetention(in); err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1h", "1", "forever", "Applied", "0s5"} {
		if got, err := parseInputRetention(bad); err == nil {
			t.Errorf("%q: accepted as %+v", bad, got)
		}
	}
}
