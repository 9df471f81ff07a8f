package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestWalkthrough(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"POST /v1/twins: 201 Created",
		"alert: warning excursion_started",
		"alert: critical budget_exceeded",
		"alert: info excursion_ended",
		"status=compromised time_out_of_band_s=2100",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
