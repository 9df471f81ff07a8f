package pg

import (
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

func TestPruneHistory(t *testing.T) {
	db := openTest(t)
	// Records at t0+1s … t0+N s for 3 twins; enough to take several chunks.
	const perTwin = pruneChunk*2/3 + 10
	var b twin.Batch
	for _, id := range []string{"p1", "p2", "p3"} {
		for s := uint64(1); s <= perTwin; s++ {
			b.Records = append(b.Records, sampleRecord(id, s))
		}
	}
	b.Alerts = []twin.Alert{sampleAlert("p1", 1, 1)}
	b.Twins = []*twin.Twin{sampleTwin("p1", perTwin)}
	mustCommit(t, db, &b)

	cut := t0.Add((perTwin - 5) * time.Second) // keeps seq >= perTwin-5
	n, err := db.PruneHistory(ctxT(t), cut)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(3 * (perTwin - 6)); n != want {
		t.Errorf("PruneHistory deleted %d, want %d", n, want)
	}
	h, err := db.History(ctxT(t), twin.HistoryQuery{Twin: "p2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 6 || h[0].Seq != perTwin-5 {
		t.Errorf("history after prune: %d records from seq %d, want 6 from %d", len(h), h[0].Seq, perTwin-5)
	}
	// Snapshots and alerts stay.
	if count(t, db, "alerts") != 1 || count(t, db, "twins") != 1 {
		t.Error("PruneHistory touched alerts or twins")
	}
	// Nothing left to prune.
	if n, err := db.PruneHistory(ctxT(t), cut); n != 0 || err != nil {
		t.Errorf("second PruneHistory = %d, %v", n, err)
	}
}

func TestRetentionInBackground(t *testing.T) {
	db := openTest(t, WithRetention(Retention{Keep: time.Hour, Every: 20 * time.Millisecond}))
	now := time.Now().UTC()
	old, fresh := sampleRecord("r", 1), sampleRecord("r", 2)
	old.Time = now.Add(-2 * time.Hour)
	fresh.Time = now
	mustCommit(t, db, &twin.Batch{Records: []twin.Record{old, fresh}})
	deadline := time.Now().Add(10 * time.Second)
	for count(t, db, "history") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the old record was not pruned within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h, err := db.History(ctxT(t), twin.HistoryQuery{Twin: "r"})
	if err != nil || len(h) != 1 || h[0].Seq != 2 {
		t.Fatalf("history = %+v, %v; want the fresh record", h, err)
	}
	// Close stops the pruner.
	done := make(chan struct{})
	go func() { db.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

func TestRetentionInterval(t *testing.T) {
	tests := []struct {
		r    Retention
		want time.Duration
	}{
		{Retention{Keep: 24 * time.Hour}, time.Hour},
		{Retention{Keep: 30 * time.Minute}, 3 * time.Minute},
		{Retention{Keep: time.Minute}, time.Minute},
		{Retention{Keep: time.Hour, Every: time.Second}, time.Second},
	}
	for _, tt := range tests {
		if got := tt.r.interval(); got != tt.want {
			t.Errorf("%+v.interval() = %v, want %v", tt.r, got, tt.want)
		}
	}
}
