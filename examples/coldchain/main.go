// Command coldchain is the README walk-through as a program: it starts a
// custos runtime on embedded defaults in a temporary directory, creates a
// vaccine pallet twin with the coldchain contract over HTTP, publishes
// temperature readings over NATS like a device would, and prints what a
// dashboard sees: alerts on custos.twin.PAL-1.alert and the twin's state in
// KV bucket custos_twins.
//
//	go run ./examples/coldchain
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "coldchain:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "custos-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	a, err := app.Start(ctx, app.Config{Data: dir, NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer a.Close()
	api := "http://" + a.HTTPAddr

	// 1. Create the twin: a pallet that must stay within 2–8 °C, with 30
	//    minutes of excursion allowed in total.
	body := `{"id":"PAL-1","kind":"pallet","policy":"coldchain","custodian":"factory",
		"params":{"min_c":2,"max_c":8,"excursion_budget_s":1800},"ts":"2026-11-25T09:59:00Z"}`
	resp, err := http.Post(api+"/v1/twins", "application/json", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	fmt.Fprintln(w, "POST /v1/twins:", resp.Status)

	// 2. Connect like a device or a dashboard would, over TCP.
	nc, err := nats.Connect(a.NATS.ClientURL(), a.AdminOption())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	alerts, err := nc.SubscribeSync("custos.twin.PAL-1.alert")
	if err != nil {
		return err
	}

	// 3. Readings: in band, then a reefer failure, then back in band 35
	//    minutes later — 5 minutes over the budget.
	for _, r := range []struct {
		ts string
		v  float64
	}{{"2026-11-25T10:00:00Z", 5.1}, {"2026-11-25T10:10:00Z", 9.5}, {"2026-11-25T10:30:00Z", 11.2}, {"2026-11-25T10:45:00Z", 6.0}} {
		msg := fmt.Sprintf(`{"ts":%q,"sensor":"t1","type":"temperature","value":%g,"unit":"CEL"}`, r.ts, r.v)
		if _, err := js.Publish(ctx, "custos.telemetry.PAL-1", []byte(msg)); err != nil {
			return err
		}
		fmt.Fprintf(w, "published %s %g °C\n", r.ts[11:16], r.v)
	}

	// 4. Alerts as they are raised.
	for i := 0; i < 3; i++ {
		m, err := alerts.NextMsg(10 * time.Second)
		if err != nil {
			return fmt.Errorf("waiting for alert %d: %w", i+1, err)
		}
		var a struct{ Severity, Code string }
		json.Unmarshal(m.Data, &a)
		fmt.Fprintf(w, "alert: %s %s\n", a.Severity, a.Code)
	}

	// 5. The twin's state in KV bucket custos_twins.
	kv, err := js.KeyValue(ctx, "custos_twins")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, err := kv.Get(ctx, "PAL-1")
		if err == nil {
			var t struct {
				Status string `json:"status"`
				Seq    uint64 `json:"seq"`
				View   struct {
					Out float64  `json:"time_out_of_band_s"`
					MKT *float64 `json:"mkt_c"`
				} `json:"view"`
			}
			json.Unmarshal(e.Value(), &t)
			if t.Status == "compromised" && t.View.Out == 2100 && t.View.MKT != nil {
				fmt.Fprintf(w, "kv custos_twins/PAL-1: status=%s time_out_of_band_s=%g mkt_c=%.1f\n", t.Status, t.View.Out, *t.View.MKT)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("twin state not complete in KV: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
