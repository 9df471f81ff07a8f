package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// benchBatch builds the batches of BenchmarkCommit: perTwin records for
// each of twins twins, one snapshot per twin, an alert every 50 records.
type benchBatch struct {
	snaps []*twin.Twin
	b     twin.Batch
	ev    []byte
	seq   uint64
}

func newBenchBatch(twins, perTwin int) *benchBatch {
	bb := &benchBatch{}
	ev := twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: time.Unix(1_800_000_000, 0),
		Value: 5.5, Fields: []string{"t1", "CEL"}}
	bb.ev, _ = ev.MarshalBinary()
	for i := range twins {
		bb.snaps = append(bb.snaps, &twin.Twin{
			ID: fmt.Sprintf("bench-pallet-%06d", i), Kind: "pallet", Status: twin.StatusInTransit,
			Custodian: "acme logistics", Contract: twin.ContractRef{Name: "coldchain", Version: "1.0.0"},
			Params: json.RawMessage(`{"min_c":2,"max_c":8,"excursion_budget_s":1800}`),
			View:   json.RawMessage(`{"last_c":5.5,"excursion_s":0,"ok":true}`),
			State:  make([]byte, 64),
		})
	}
	bb.b.Records = make([]twin.Record, 0, twins*perTwin)
	_ = perTwin
	return bb
}

// next fills the batch with the following perTwin events of every twin.
func (bb *benchBatch) next(perTwin int) *twin.Batch {
	bb.b.Reset()
	at := time.Unix(1_800_000_000, 0).Add(time.Duration(bb.seq) * time.Second)
	for _, s := range bb.snaps {
		for k := range perTwin {
			seq := bb.seq + uint64(k) + 1
			s.Digest[0], s.Digest[1] = byte(seq), byte(seq>>8)
			bb.b.Records = append(bb.b.Records, twin.Record{Twin: s.ID, Seq: seq, StreamSeq: seq, Time: at,
				Kind: twin.KindReading, Event: bb.ev, EventHash: s.Digest, StateHash: s.Digest, Digest: s.Digest})
			if seq%50 == 0 {
				s.Alerts++
				bb.b.Alerts = append(bb.b.Alerts, twin.Alert{Twin: s.ID, N: s.Alerts, Seq: seq,
					Severity: twin.SeverityWarning, Code: "excursion", Message: "above 8 °C", Time: at})
			}
		}
		s.Seq, s.StreamSeq, s.Updated = bb.seq+uint64(perTwin), bb.seq+uint64(perTwin), at
		bb.b.Twins = append(bb.b.Twins, s)
	}
	bb.seq += uint64(perTwin)
	return &bb.b
}

// BenchmarkCommit measures ingest: batches of 1000 records over 200 twins
// (and 200 snapshots), each synced. records/s is the figure to watch. With
// same, every batch after the first marks its snapshots twin.Batch.Same,
// as the runtime does for twins whose status, kind, custodian and
// processing-time timers did not change (steady telemetry).
func BenchmarkCommit(b *testing.B) {
	for _, c := range []struct {
		twins, perTwin int
		same           bool
	}{{200, 5, false}, {1000, 1, false}, {50, 20, false}, {1000, 1, true}} {
		name := fmt.Sprintf("twins=%d/records=%d", c.twins, c.twins*c.perTwin)
		if c.same {
			name += "/same"
		}
		b.Run(name, func(b *testing.B) {
			db, err := Open(b.TempDir(), quiet)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			bb := newBenchBatch(c.twins, c.perTwin)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				batch := bb.next(c.perTwin)
				if c.same && i > 0 {
					for range batch.Twins {
						batch.Same = append(batch.Same, true)
					}
				}
				if err := db.Commit(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*c.twins*c.perTwin)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkEncodeSnapshot and BenchmarkDecodeSnapshot measure the codec.
func BenchmarkEncodeSnapshot(b *testing.B) {
	s := sampleSnapshots()[1]
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for range b.N {
		buf = appendSnapshot(buf[:0], s)
	}
}

func BenchmarkDecodeSnapshot(b *testing.B) {
	v := appendSnapshot(nil, sampleSnapshots()[1])
	b.ReportAllocs()
	for range b.N {
		if _, err := decodeSnapshot("full", v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTwinsPage lists a page of 100 twins by filter out of many.
func BenchmarkTwinsPage(b *testing.B) {
	db, err := Open(b.TempDir(), quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	const n = 50_000
	for start := 0; start < n; start += 5000 {
		bt := &twin.Batch{}
		for i := start; i < start+5000; i++ {
			bt.Twins = append(bt.Twins, &twin.Twin{ID: fmt.Sprintf("tw-%07d", i), Kind: "pallet",
				Status: []string{twin.StatusInTransit, twin.StatusCreated}[i%2], Custodian: fmt.Sprint("c", i%10)})
		}
		if err := db.Commit(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		ts, err := db.Twins(ctx, twin.TwinQuery{Status: twin.StatusInTransit, After: "tw-0025000", Limit: 100})
		if err != nil || len(ts) != 100 {
			b.Fatalf("%d twins, %v", len(ts), err)
		}
	}
}

// BenchmarkCommitParallel has two committers (as two runtime shards would),
// each with its own 100 twins, 1000 records per batch.
func BenchmarkCommitParallel(b *testing.B) {
	db, err := Open(b.TempDir(), quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var shard atomic.Int32
	b.SetParallelism(1) // one committer per P: 2 on the reference machine
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		bb := newBenchBatch(100, 10)
		for _, s := range bb.snaps {
			s.ID = fmt.Sprintf("%s-s%d", s.ID, shard.Add(1))
		}
		for pb.Next() {
			if err := db.Commit(ctx, bb.next(10)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}
