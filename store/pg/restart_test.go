package pg

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/twin"
)

// pgCluster is the "version name" of the local cluster that
// TestServerRestart stops and starts with pg_ctlcluster.
func pgCluster() []string {
	if c := os.Getenv("CUSTOS_TEST_PG_CLUSTER"); c != "" {
		return strings.Fields(c)
	}
	return []string{"15", "main"}
}

// restartAllowed skips a test that stops the shared PostgreSQL server unless
// CUSTOS_TEST_PG_RESTART=1. Not merely CI=true: `go test ./...` runs
// packages in parallel, and other packages' PostgreSQL tests would fail
// while the server is down. `make test` runs the restart tests afterwards,
// alone, with CUSTOS_TEST_PG_RESTART=1 (so CI runs them).
// It also needs the test database and pg_ctlcluster: without them it skips
// on a laptop and fails in CI.
func restartAllowed(t *testing.T) {
	t.Helper()
	if os.Getenv("CUSTOS_TEST_PG_RESTART") != "1" {
		t.Skip("stops the shared PostgreSQL server; runs with CUSTOS_TEST_PG_RESTART=1 (make test does, after the other tests)")
	}
	testURL(t)
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pg_ctlcluster not found: %v", err)
		}
		t.Skipf("pg_ctlcluster not found (%v): the test stops and starts a local cluster", err)
	}
}

func pgctl(t *testing.T, args ...string) error {
	t.Helper()
	cmd := exec.Command("pg_ctlcluster", append(pgCluster(), args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctlcluster %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// restartBatch is batch n (1-based) of the sequence: every twin gets
// perBatch more records and its snapshot at the last of them.
func restartBatch(nTwins, perBatch, n int) *twin.Batch {
	return batchOf("rs", nTwins, perBatch, uint64((n-1)*perBatch))
}

// TestServerRestart stops PostgreSQL while commits are going on and starts
// it again. Commits must fail promptly while it is down, succeed again
// afterwards on the same DB, and no batch may ever be partly visible.
//
// It restarts the shared server, so it runs only when
// CUSTOS_TEST_PG_RESTART=1 (see restartAllowed).
func TestServerRestart(t *testing.T) {
	restartAllowed(t)
	db := openTest(t)
	t.Cleanup(func() {
		// Whatever happened, leave the server running.
		if err := pgctl(t, "start"); err != nil && !strings.Contains(err.Error(), "already running") {
			t.Errorf("restarting PostgreSQL: %v", err)
		}
	})

	const (
		nTwins   = 50
		perBatch = 4
		batches  = 400 // far more than fit in the time to stop the server
	)
	for n := 1; n <= 3; n++ {
		mustCommit(t, db, restartBatch(nTwins, perBatch, n))
	}

	// The writer commits batch after batch; at its first failure it keeps
	// retrying that batch (as the runtime does), reporting every failure.
	type failure struct {
		batch int
		took  time.Duration
		err   error
	}
	failures := make(chan failure, 1000)
	resume := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		nfail := 0
		for n := 4; n <= batches; {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			err := db.Commit(ctx, restartBatch(nTwins, perBatch, n))
			cancel()
			if err == nil {
				n++
				continue
			}
			failures <- failure{n, time.Since(start), err}
			nfail++
			if nfail == 3 {
				// Hold still while the test starts the server and looks.
				<-resume
				continue
			}
			time.Sleep(100 * time.Millisecond)
		}
		done <- nil
	}()

	// Let a few batches through, then stop the server under the writer.
	time.Sleep(50 * time.Millisecond)
	if err := pgctl(t, "stop", "-m", "fast"); err != nil {
		t.Fatal(err)
	}
	var fs []failure
	for len(fs) < 3 {
		select {
		case f := <-failures:
			fs = append(fs, f)
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d commits failed in 20 s while the server was down", len(fs))
		}
	}
	for _, f := range fs {
		t.Logf("while down: batch %d failed after %v: %v", f.batch, f.took.Round(time.Millisecond), f.err)
		if f.took > 5*time.Second {
			t.Errorf("a commit took %v to fail while the server was down", f.took)
		}
	}
	pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := db.Ping(pctx); err == nil {
		t.Error("Ping succeeded while the server was down")
	}
	cancel()

	if err := pgctl(t, "start"); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()

	// Before more writes: every twin is at the same batch, with exactly the
	// records of the batches committed so far.
	checkWhole := func(when string) int {
		t.Helper()
		var seq int64
		var nseq, ntw int
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			err = db.pool.QueryRow(context.Background(),
				"SELECT coalesce(min(seq), 0), count(DISTINCT seq), count(*) FROM twins").Scan(&seq, &nseq, &ntw)
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s: reading twins: %v", when, err)
		}
		if nseq != 1 || ntw != nTwins {
			t.Fatalf("%s: %d twins at %d different seqs: a batch is partly visible", when, ntw, nseq)
		}
		if h := count(t, db, "history"); h != nTwins*int(seq) {
			t.Fatalf("%s: %d history records for %d twins at seq %d: a batch is partly visible", when, h, nTwins, seq)
		}
		if a := count(t, db, "alerts"); a != nTwins*int(seq)/perBatch {
			t.Fatalf("%s: %d alerts, want %d", when, a, nTwins*int(seq)/perBatch)
		}
		return int(seq) / perBatch
	}
	at := checkWhole("after restart")
	t.Logf("after restart: %d whole batches visible", at)

	close(resume)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the writer did not finish within 60 s of the restart")
	}
	close(failures)
	after := 0
	for f := range failures {
		after++
		t.Logf("after start: batch %d failed: %v", f.batch, f.err)
	}
	if after > 5 {
		t.Errorf("%d commits failed after the server was started again", after)
	}
	t.Logf("all batches committed %v after the restart", time.Since(restarted).Round(time.Millisecond))
	if got := checkWhole("at the end"); got != batches {
		t.Fatalf("at the end: %d batches visible, want %d", got, batches)
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("Ping after restart: %v", err)
	}
}
