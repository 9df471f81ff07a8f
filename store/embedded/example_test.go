package embedded_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/custos-dev/custos/store/embedded"
	"github.com/custos-dev/custos/twin"
)

func Example() {
	dir, err := os.MkdirTemp("", "custos-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := embedded.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	ev := twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: at, Seq: 1,
		Value: 9.5, Fields: []string{"t1", "CEL"}}
	enc, _ := ev.MarshalBinary()
	module := twin.Keccak256([]byte("module"))
	state := []byte("excursion started")
	digest := twin.NextDigest(twin.Hash{}, "pallet-42", 1, twin.Keccak256(enc), twin.Keccak256(state), module)

	// One atomic, durable write: the snapshot, the history record, an alert.
	err = db.Commit(ctx, &twin.Batch{
		Twins: []*twin.Twin{{ID: "pallet-42", Kind: "pallet", Status: twin.StatusInTransit,
			Custodian: "acme", Seq: 1, Digest: digest, State: state, Alerts: 1, Updated: at}},
		Records: []twin.Record{{Twin: "pallet-42", Seq: 1, Time: at, Kind: ev.Kind, Event: enc,
			EventHash: twin.Keccak256(enc), StateHash: twin.Keccak256(state), Module: module, Digest: digest}},
		Alerts: []twin.Alert{{Twin: "pallet-42", N: 1, Seq: 1, Severity: twin.SeverityWarning,
			Code: "excursion", Message: "9.5 °C above 8 °C", Time: at}},
	})
	if err != nil {
		log.Fatal(err)
	}

	p, _ := db.Twin(ctx, "pallet-42")
	fmt.Println(p.ID, p.Status, p.Seq, p.Digest == digest)
	ts, _ := db.Twins(ctx, twin.TwinQuery{Custodian: "acme"})
	fmt.Println(len(ts), "twin held by acme")
	hist, _ := db.History(ctx, twin.HistoryQuery{Twin: "pallet-42"})
	fmt.Println(len(hist), "record, kind", hist[0].Kind)
	alerts, _ := db.Alerts(ctx, twin.AlertQuery{})
	fmt.Println(alerts[0].Code, alerts[0].Message)
	// Output:
	// pallet-42 in_transit 1 true
	// 1 twin held by acme
	// 1 record, kind reading
	// excursion 9.5 °C above 8 °C
}
