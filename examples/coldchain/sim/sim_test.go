package sim_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custos-dev/custos/examples/coldchain/sim"
	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/twin"
)

// TestRun simulates a small fleet against a real runtime and checks the
// story it tells: the failed reefer's load is compromised, the others are
// not, and every twin ends delivered at its pharmacy.
func TestRun(t *testing.T) {
	ctx := context.Background()
	a, err := app.Start(ctx, app.Config{Data: t.TempDir(), NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CacheDir: filepath.Join(os.TempDir(), "custos-test-wazero-cache")})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var progress strings.Builder
	st, err := sim.Run(ctx, sim.Config{API: "http://" + a.HTTPAddr, NATSURL: a.NATS.ClientURL(), NATSOptions: []nats.Option{a.AdminOption()}, Shipments: 3, Pallets: 2, Cases: 2,
		Journey: 6 * time.Hour, Step: 10 * time.Minute, Wall: 500 * time.Millisecond, Seed: 3, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if st.Twins != 3*(1+2+4) || st.Readings == 0 || len(st.Compromised) != 7 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(progress.String(), "100%") {
		t.Errorf("progress never reached 100%%: %q", progress.String())
	}
	// Wait until every reading is applied.
	deadline := time.Now().Add(20 * time.Second)
	for {
		twins, err := a.Store.Twins(ctx, twin.TwinQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var bad []string
		for _, tw := range twins {
			compromised := slices.Contains(st.Compromised, tw.ID)
			switch {
			case compromised && tw.Status != twin.StatusCompromised:
				bad = append(bad, tw.ID+" not compromised: "+tw.Status)
			case !compromised && tw.Status != twin.StatusDelivered:
				bad = append(bad, tw.ID+" not delivered: "+tw.Status)
			case !strings.HasPrefix(tw.Custodian, "pharmacy-"):
				bad = append(bad, tw.ID+" held by "+tw.Custodian)
			}
		}
		if len(twins) == st.Twins && len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d twins; %v", len(twins), bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Running again with the same prefix is refused, not half-applied.
	if _, err := sim.Run(ctx, sim.Config{API: "http://" + a.HTTPAddr, NATSURL: a.NATS.ClientURL(), NATSOptions: []nats.Option{a.AdminOption()}, Shipments: 1, Wall: time.Millisecond}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second run: %v, want an already-exists error", err)
	}
}
