package app_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/twin"
)

// TestBadContractsAreIsolated runs contracts that loop, exhaust memory, trap
// and return oversized output inside the real runtime: each fails only its
// own event (dead letter contract_failed, alert on its twin), and a good twin
// in the same batches goes on.
func TestBadContractsAreIsolated(t *testing.T) {
	a, err := app.Start(context.Background(), app.Config{
		Data: t.TempDir(), NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0", Logger: quietLogger(), CacheDir: testCache(),
		ContractPages: 64, ContractMaxOutput: 64 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	bad := map[string]string{"loop": "fuel", "grow": "memory", "trap": "trap", "bigout": "output_too_large"}
	for name := range bad {
		wasm, err := os.ReadFile("../../contracts/testdata/" + name + ".wasm")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Host.Register(ctx, name, "1.0.0", wasm); err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
		code, body := httpDo(t, a, "POST", "/v1/twins", map[string]any{"id": "BAD-" + name, "kind": "case", "policy": name})
		if code != 201 {
			t.Fatalf("create twin on %s: %d %s", name, code, body)
		}
	}
	createTwin(t, a, "GOOD", `{}`)
	nc, js := client(t, a)
	dlq := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe("custos.dlq.contract_failed", dlq); err != nil {
		t.Fatal(err)
	}
	for name := range bad {
		publish(t, js, "custos.telemetry.BAD-"+name, reading("2026-11-25T10:00:00Z", 5))
		publish(t, js, "custos.telemetry.GOOD", reading("2026-11-25T10:00:00Z", 5))
	}
	good := waitTwin(t, a, "GOOD", func(tw *twin.Twin) bool { return tw.Seq == 5 })
	if good.Status != twin.StatusCreated {
		t.Errorf("good twin status %s", good.Status)
	}
	got := map[string]string{}
	deadline := time.After(20 * time.Second)
	for len(got) < len(bad) {
		select {
		case m := <-dlq:
			subj := m.Header.Get("Custos-Subject")
			got[strings.TrimPrefix(subj, "custos.telemetry.BAD-")] = m.Header.Get("Custos-Error")
		case <-deadline:
			t.Fatalf("dead letters: %v", got)
		}
	}
	for name, kind := range bad {
		if !strings.HasPrefix(got[name], kind) {
			t.Errorf("%s: dead letter error %q, want kind %s", name, got[name], kind)
		}
		tw, err := a.Store.Twin(ctx, "BAD-"+name)
		if err != nil {
			t.Fatal(err)
		}
		// A deterministic failure (all of these, with fuel instead of a
		// deadline) takes a seq and a failure record (state unchanged).
		wantSeq := uint64(2)
		if tw.Seq != wantSeq || tw.Alerts != 1 {
			t.Errorf("%s twin: seq %d alerts %d, want %d and 1 (event not applied, one alert)", name, tw.Seq, tw.Alerts, wantSeq)
		}
		recs, _ := a.Store.History(ctx, twin.HistoryQuery{Twin: "BAD-" + name})
		if wantSeq == 2 && (len(recs) != 2 || recs[1].Failure != kind || recs[1].StateHash != recs[0].StateHash ||
			recs[1].Link(recs[0].Digest) != recs[1].Digest || recs[1].StreamSeq == 0) {
			t.Errorf("%s: failure record %+v", name, recs)
		}
		as, _ := a.Store.Alerts(ctx, twin.AlertQuery{Twin: "BAD-" + name})
		if len(as) != 1 || as[0].Code != "contract_failed" || as[0].Severity != twin.SeverityCritical {
			b, _ := json.Marshal(as)
			t.Errorf("%s alerts: %s", name, b)
		}
	}
}
