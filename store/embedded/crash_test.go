package embedded

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

const (
	crashDirEnv = "CUSTOS_EMBEDDED_CRASH_DIR"
	crashTwins  = 100
)

var crashModule = twin.Keccak256([]byte("crash module"))

func crashID(i int) string { return fmt.Sprintf("crash-%03d", i) }

// TestMain runs the writer half of TestCrash when the test binary is
// started as its child.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		if err := crashChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild commits batches to the store in dir, each extending every twin
// by one event, and prints "committed N" after each Commit returns, until
// it is killed.
func crashChild(dir string) error {
	db, err := Open(dir, quiet)
	if err != nil {
		return err
	}
	ctx := context.Background()
	snaps := make([]*twin.Twin, crashTwins)
	for i := range snaps {
		s, err := db.Twin(ctx, crashID(i))
		if err != nil {
			s = &twin.Twin{ID: crashID(i), Kind: "pallet", Status: twin.StatusCreated,
				Contract: twin.ContractRef{Name: "crash", SHA256: crashModule}}
		}
		snaps[i] = s
	}
	h := twin.NewHasher()
	for n := snaps[0].Seq + 1; ; n++ {
		b := &twin.Batch{}
		for _, s := range snaps {
			at := time.Unix(1_800_000_000, 0).Add(time.Duration(n) * time.Second)
			ev := twin.Event{Kind: twin.KindReading, Type: twin.TypeTemperature, Time: at, Seq: n,
				Value: float64(n % 13), Fields: []string{"t1", "CEL", strings.Repeat("x", 100)}}
			enc, _ := ev.MarshalBinary()
			state := fmt.Appendf(nil, "%s:%d", s.ID, n)
			eh, sh := h.Sum(enc), h.Sum(state)
			s.Digest = h.Next(s.Digest, s.ID, n, eh, sh, crashModule)
			s.Seq, s.State, s.StreamSeq, s.Updated = n, state, n*1000, at
			s.Status = []string{twin.StatusCreated, twin.StatusInTransit, twin.StatusDelivered}[n%3]
			b.Records = append(b.Records, twin.Record{Twin: s.ID, Seq: n, StreamSeq: n * 1000, Time: at,
				Kind: ev.Kind, Event: enc, EventHash: eh, StateHash: sh, Module: crashModule, Digest: s.Digest})
			if n%4 == 0 {
				s.Alerts++
				b.Alerts = append(b.Alerts, twin.Alert{Twin: s.ID, N: s.Alerts, Seq: n, Severity: twin.SeverityWarning,
					Code: "c", Message: "m", Time: at})
			}
			b.Twins = append(b.Twins, s.Clone())
		}
		if err := db.Commit(ctx, b); err != nil {
			return err
		}
		fmt.Printf("committed %d\n", n)
	}
}

// TestCrash kills a writing process with SIGKILL at random points, several
// times over the same directory, and checks after each kill that every
// batch is all there or not at all, and that every acknowledged batch is
// there.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	acked := uint64(0)
	for round := range 4 {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		want := 3 + rng.IntN(25)
		sc := bufio.NewScanner(out)
		seen := 0
		for seen < want && sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				v, _ := strconv.ParseUint(n, 10, 64)
				acked = max(acked, v)
				seen++
			}
		}
		if seen < want {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child stopped after %d commits", round, seen)
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Drain what it printed before dying: those commits were acknowledged.
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				v, _ := strconv.ParseUint(n, 10, 64)
				acked = max(acked, v)
			}
		}
		cmd.Wait()
		seq := checkCrashed(t, dir)
		if seq < acked {
			t.Fatalf("round %d: acknowledged batch %d but the store has %d", round, acked, seq)
		}
		t.Logf("round %d: killed after %d acknowledged commits; store at batch %d", round, acked, seq)
	}
}

// checkCrashed opens dir and checks every twin against its history; it
// returns the batch number all twins agree on.
func checkCrashed(t *testing.T, dir string) uint64 {
	t.Helper()
	db := openT(t, dir)
	defer db.Close()
	ctx := context.Background()
	var seq uint64
	for i := range crashTwins {
		s, err := db.Twin(ctx, crashID(i))
		if err != nil {
			t.Fatalf("Twin(%s): %v", crashID(i), err)
		}
		if i == 0 {
			seq = s.Seq
		} else if s.Seq != seq {
			t.Fatalf("twin %s at seq %d, twin %s at %d: a batch was torn", crashID(0), seq, s.ID, s.Seq)
		}
		var all []twin.Record
		for after := uint64(0); ; {
			rs, err := db.History(ctx, twin.HistoryQuery{Twin: s.ID, AfterSeq: after, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) == 0 {
				break
			}
			all = append(all, rs...)
			after = rs[len(rs)-1].Seq
		}
		if uint64(len(all)) != s.Seq {
			t.Fatalf("%s: snapshot at seq %d, %d records", s.ID, s.Seq, len(all))
		}
		var d twin.Hash
		for j, r := range all {
			if r.Seq != uint64(j+1) || twin.Keccak256(r.Event) != r.EventHash {
				t.Fatalf("%s: record %d is seq %d or its event hash is wrong", s.ID, j, r.Seq)
			}
			d = twin.NextDigest(d, r.Twin, r.Seq, r.EventHash, r.StateHash, r.Module)
			if d != r.Digest {
				t.Fatalf("%s: digest chain broken at seq %d", s.ID, r.Seq)
			}
		}
		if d != s.Digest {
			t.Fatalf("%s: snapshot digest is not the digest of its last record", s.ID)
		}
		as, err := db.Alerts(ctx, twin.AlertQuery{Twin: s.ID, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(as)) != s.Alerts || s.Alerts != s.Seq/4 {
			t.Fatalf("%s: snapshot counts %d alerts, %d stored, want %d", s.ID, s.Alerts, len(as), s.Seq/4)
		}
		wantStatus := []string{twin.StatusCreated, twin.StatusInTransit, twin.StatusDelivered}[s.Seq%3]
		ts, err := db.Twins(ctx, twin.TwinQuery{Status: wantStatus, After: crashID(i - 1), Limit: 1})
		if err != nil || len(ts) != 1 || ts[0].ID != s.ID {
			t.Fatalf("%s: not listed under status %s after recovery (%v)", s.ID, wantStatus, err)
		}
	}
	return seq
}
