package pg

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// benchBatch is a Commit of the ingest path: nTwins snapshots, perTwin
// history records each, and an alert for one twin in 20.
type benchBatch struct {
	b       *twin.Batch
	perTwin int
}

func newBenchBatch(prefix string, nTwins, perTwin int) *benchBatch {
	b := &twin.Batch{}
	for i := range nTwins {
		id := fmt.Sprintf("%s-%05d", prefix, i)
		tw := sampleTwin(id, 0)
		tw.Children, tw.Timers = nil, []twin.Timer{{Name: "no_reading", At: t0}}
		tw.State = make([]byte, 64)
		b.Twins = append(b.Twins, tw)
		for s := 1; s <= perTwin; s++ {
			b.Records = append(b.Records, sampleRecord(id, uint64(s)))
		}
		if i%20 == 0 {
			b.Alerts = append(b.Alerts, sampleAlert(id, 0, 0))
		}
	}
	return &benchBatch{b: b, perTwin: perTwin}
}

// advance moves the batch to round n: new seqs, so every commit inserts.
func (bb *benchBatch) advance(n uint64) {
	base := n * uint64(bb.perTwin)
	for _, tw := range bb.b.Twins {
		tw.Seq = base + uint64(bb.perTwin)
		tw.StreamSeq = tw.Seq
	}
	for i := range bb.b.Records {
		r := &bb.b.Records[i]
		r.Seq = base + uint64(i%bb.perTwin) + 1
		r.StreamSeq = r.Seq
	}
	for i := range bb.b.Alerts {
		bb.b.Alerts[i].N = n + 1
		bb.b.Alerts[i].Seq = base + 1
	}
}

func (bb *benchBatch) rows() int { return len(bb.b.Twins) + len(bb.b.Records) + len(bb.b.Alerts) }

// BenchmarkCommit commits batches of 1000 history records over 200 twins
// (plus their 200 snapshots and 10 alerts) and reports history records/s
// and rows/s (all three tables).
func BenchmarkCommit(b *testing.B) {
	for _, bc := range []struct {
		name           string
		twins, perTwin int
		writers        int
		upsert         bool // history by INSERT … ON CONFLICT, not COPY
	}{
		{"200twins-1000records", 200, 5, 1, false},
		{"200twins-1000records-upsert", 200, 5, 1, true},
		{"200twins-1000records-4writers", 200, 5, 4, false},
		{"1000twins-10000records", 1000, 10, 1, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db := openTest(b, WithMaxConns(bc.writers))
			if bc.upsert {
				db.copyMin = math.MaxInt
			}
			// With one connection, the server's CPU time per record can be
			// read from its backend process when the server is local: a
			// figure that depends far less on the machine's load than
			// records/s.
			var pid int
			if bc.writers == 1 {
				if err := db.pool.QueryRow(b.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
					b.Fatal(err)
				}
			}
			cpu0, cpuOK := processCPU(pid)
			var round atomic.Uint64
			var writer atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(1)
			b.ResetTimer()
			if bc.writers == 1 {
				bb := newBenchBatch("w0", bc.twins, bc.perTwin)
				for i := 0; i < b.N; i++ {
					bb.advance(uint64(i))
					if err := db.Commit(b.Context(), bb.b); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism((bc.writers + 1) / 2) // GOMAXPROCS is 2 here
				b.RunParallel(func(pb *testing.PB) {
					// Each writer owns its twins, as a shard does.
					bb := newBenchBatch(fmt.Sprint("w", writer.Add(1)), bc.twins, bc.perTwin)
					var n uint64
					for pb.Next() {
						bb.advance(n)
						n++
						round.Add(1)
						if err := db.Commit(b.Context(), bb.b); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			bb := newBenchBatch("x", bc.twins, bc.perTwin)
			if cpu1, ok := processCPU(pid); ok && cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N*len(bb.b.Records)), "server-cpu-µs/record")
			}
			b.ReportMetric(float64(b.N*len(bb.b.Records))/sec, "records/s")
			b.ReportMetric(float64(b.N*bb.rows())/sec, "rows/s")
		})
	}
}

// processCPU returns the CPU time (user + system) of process pid so far, if
// /proc tells.
func processCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	// Fields 14 and 15 of stat; f starts at field 3.
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true // USER_HZ = 100
}

// BenchmarkServerInsert is the reference for BenchmarkCommit measured on
// the same machine at the same time: PostgreSQL inserting 1000 history rows
// of the same shape that it generates itself (no client, no network), one
// transaction each. Commit's records/s divided by this one's is the share of
// the server's own insert rate that the store reaches.
func BenchmarkServerInsert(b *testing.B) {
	db := openTest(b, WithMaxConns(1))
	ctx := b.Context()
	var pid int
	if err := db.pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	cpu0, cpuOK := processCPU(pid)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.pool.Exec(ctx, `INSERT INTO history
SELECT 'w0-' || lpad((g % 200)::text, 5, '0'), g, g, g * 1000000000, 1, decode(repeat('ab', 64), 'hex'),
	sha256(g::text::bytea), sha256(g::text::bytea), sha256('m'), sha256(g::text::bytea)
FROM generate_series($1::bigint, $1::bigint + 999) g`, int64(i)*1000); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
	if cpu1, ok := processCPU(pid); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N*1000), "server-cpu-µs/record")
	}
}

// BenchmarkCommitEncode measures the Go side of Commit alone: filling the
// column arrays of a 1000-record batch.
func BenchmarkCommitEncode(b *testing.B) {
	bb := newBenchBatch("e", 200, 5)
	s := scratchPool.Get().(*scratch)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.reset()
		if err := validate(bb.b); err != nil {
			b.Fatal(err)
		}
		s.twins.fill(bb.b.Twins, s)
		s.history.fill(bb.b.Records, s, false)
		s.alerts.fill(bb.b.Alerts, s)
	}
}
