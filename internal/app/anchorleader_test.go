package app_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/devchain"
	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/anchor/pgstore"
	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/internal/cluster/clustertest"
	"github.com/custos-dev/custos/internal/cluster/natstest"
	"github.com/custos-dev/custos/store/pg"
	"github.com/custos-dev/custos/twin"
)

// chainWriter commits twins with valid digest chains to the shared store,
// as the owners of their partitions would.
type chainWriter struct {
	db    *pg.DB
	heads map[string]twin.Hash
	seqs  map[string]uint64
}

func (w *chainWriter) step(t *testing.T, ids []string) []twin.Head {
	t.Helper()
	var b twin.Batch
	var heads []twin.Head
	for _, id := range ids {
		seq := w.seqs[id] + 1
		ev := []byte(fmt.Sprintf(`{"twin":%q,"seq":%d}`, id, seq))
		r := twin.Record{Twin: id, Seq: seq, StreamSeq: seq, Time: time.Unix(1_800_000_000+int64(seq), 0).UTC(),
			Event: ev, EventHash: twin.Keccak256(ev), StateHash: twin.Keccak256([]byte(id), ev), Module: twin.Keccak256([]byte("module"))}
		r.Digest = r.Link(w.heads[id])
		w.heads[id], w.seqs[id] = r.Digest, seq
		b.Records = append(b.Records, r)
		b.Twins = append(b.Twins, &twin.Twin{ID: id, Kind: "shipment", Status: "in_transit",
			Contract: twin.ContractRef{Name: "coldchain", Version: "1"}, Seq: seq, Digest: r.Digest, StreamSeq: seq})
		heads = append(heads, twin.Head{Twin: id, Seq: seq, Digest: r.Digest})
	}
	if err := w.db.Commit(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return heads
}

type anchorNode struct {
	id     string
	nc     *nats.Conn
	leader *app.AnchorLeader
	cancel context.CancelFunc
	done   chan error
}

// Three nodes share the anchoring: one leads at a time over the fenced
// PostgreSQL anchor store, with a 3-server NATS cluster (R3 lease bucket)
// and one chain. The leader is killed (its NATS connection and its work
// stop at once, nothing released); another takes over, the killed one's
// fence is refused, epochs stay contiguous and every proof verifies
// against the chain.
func TestClusterAnchorLeaderFailover(t *testing.T) {
	const ttl = time.Second
	ctx := context.Background()
	nats3 := natstest.Start(t, 3)
	url := pgSchemaURL(t)
	db, err := pg.Open(ctx, url, pg.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dev, contract := clustertest.DevChain(t, "")
	records := func(ctx context.Context, id string, from, to uint64) ([]twin.Record, error) {
		return db.History(ctx, twin.HistoryQuery{Twin: id, AfterSeq: from - 1, Limit: int(to - from + 1)})
	}
	start := func(id string) *anchorNode {
		nc, js := nats3.Connect()
		kv, err := cluster.EnsureBucket(ctx, js, 3)
		if err != nil {
			t.Fatal(err)
		}
		h, err := cluster.NewHolder(kv, id, ttl, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		l, err := app.NewAnchorLeader(anchor.Config{Backend: dev.Client(), ChainID: devchain.ChainID, Contract: contract,
			SignerKey: dev.DevKey(), Records: records, Interval: 200 * time.Millisecond, Poll: 50 * time.Millisecond,
			Logger: quietLogger()}, db, h)
		if err != nil {
			t.Fatal(err)
		}
		nctx, cancel := context.WithCancel(ctx)
		n := &anchorNode{id: id, nc: nc, leader: l, cancel: cancel, done: make(chan error, 1)}
		go func() { n.done <- l.Run(nctx) }()
		return n
	}
	nodes := []*anchorNode{start("n1"), start("n2"), start("n3")}
	defer func() {
		for _, n := range nodes {
			n.cancel()
			<-n.done
		}
	}()
	leaderOf := func(except *anchorNode) (*anchorNode, uint64) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			var found *anchorNode
			var fence uint64
			for _, n := range nodes {
				if ok, f := n.leader.Leading(); ok && n != except {
					if found != nil {
						t.Fatalf("two leaders: %s and %s", found.id, n.id)
					}
					found, fence = n, f
				}
			}
			if found != nil {
				return found, fence
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no anchoring leader")
		return nil, 0
	}

	w := &chainWriter{db: db, heads: map[string]twin.Hash{}, seqs: map[string]uint64{}}
	ids := []string{"T-1", "T-2", "T-3", "T-4", "T-5"}
	first, fence1 := leaderOf(nil)
	for i := 0; i < 10; i++ {
		heads := w.step(t, ids[i%3:])
		nodes[i%3].leader.Observe(heads) // the committing node; dropped unless it leads
		time.Sleep(50 * time.Millisecond)
	}
	waitEpochs(t, db, 1)

	// kill -9 of the leader, as far as the cluster can tell: its NATS
	// connection and its work stop at once, its lease is not released.
	first.nc.Close()
	first.cancel()
	<-first.done
	first.done <- nil
	killed := time.Now()
	for i := 0; i < 10; i++ {
		w.step(t, ids[:2+i%4])
		time.Sleep(50 * time.Millisecond)
	}
	second, fence2 := leaderOf(first)
	t.Logf("leader %s (fence %d) killed; %s leads (fence %d) after %v", first.id, fence1, second.id, fence2, time.Since(killed))
	if fence2 <= fence1 {
		t.Fatalf("fence %d after %d", fence2, fence1)
	}
	// Everything committed is anchored by the new leader, whoever committed it.
	var third *anchorNode
	for _, n := range nodes {
		if n != first && n != second {
			third = n
		}
	}
	reader := third.leader.Reader() // proofs through a node that does not lead
	pin := anchor.Pin{Operator: dev.DevAddress(), Contract: contract, ChainID: devchain.ChainID}
	for _, id := range ids {
		for _, seq := range []uint64{1, w.seqs[id]} {
			b := waitProof(t, reader, id, seq)
			rep, err := anchor.Verify(ctx, dev.Client(), b, pin)
			if err != nil || !rep.OK() {
				t.Fatalf("proof of %s seq %d: %v\n%s", id, seq, err, rep)
			}
		}
	}
	// The killed leader's fence is refused from now on.
	stale := pgstore.New(db.Pool(), fence1, first.id)
	last, _ := stale.LastEpoch(ctx)
	if err := stale.CreateEpoch(ctx, &anchor.Epoch{Number: last + 1, State: anchor.StateSigned}, []merkle.Leaf{{Twin: "T-1", Seq: 99}}); !errors.Is(err, pgstore.ErrFenced) {
		t.Fatalf("stale leader wrote: %v", err)
	}
	// Epochs contiguous, all confirmed on chain, written by both tenures;
	// every twin's leaves in seq order.
	es, err := stale.Epochs(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	fences := map[int64]bool{}
	rows, _ := db.Pool().Query(ctx, "SELECT DISTINCT fence FROM anchor_epochs")
	for rows.Next() {
		var f int64
		rows.Scan(&f)
		fences[f] = true
	}
	rows.Close()
	if len(fences) < 2 {
		t.Fatalf("epochs written under fences %v, want both tenures", fences)
	}
	for i, e := range es {
		if e.Number != uint64(i+1) {
			t.Fatalf("epoch %d at position %d", e.Number, i)
		}
		if e.State != anchor.StateConfirmed && i < len(es)-1 {
			t.Fatalf("epoch %d %s", e.Number, e.State)
		}
		root, err := anchor.RootOf(ctx, dev.Client(), contract, e.Signer, e.Number)
		if err != nil || (e.State == anchor.StateConfirmed && root != twin.Hash(e.Root)) {
			t.Fatalf("epoch %d root on chain %v %v", e.Number, root, err)
		}
	}
	for _, id := range ids {
		refs, err := stale.LeavesFrom(ctx, id, 1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(refs); i++ {
			if refs[i].Leaf.Seq <= refs[i-1].Leaf.Seq || refs[i].Epoch <= refs[i-1].Epoch {
				t.Fatalf("%s leaves out of order: %+v", id, refs)
			}
		}
	}
	// Status through a node that does not lead names the leader.
	st, err := third.leader.Status(ctx)
	if err != nil || st.Leading || st.Leader != second.id || st.LeaderFence != fence2 || st.Operator != dev.DevAddress() {
		t.Fatalf("status on %s: %+v %v", third.id, st, err)
	}
}

func waitEpochs(t *testing.T, db *pg.DB, n uint64) {
	t.Helper()
	s := pgstore.New(db.Pool(), 0, "")
	deadline := time.Now().Add(15 * time.Second)
	for {
		last, err := s.LastEpoch(context.Background())
		if err == nil && last >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no epoch %d: %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitProof(t *testing.T, svc *anchor.Service, id string, seq uint64) *anchor.Bundle {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := svc.Proof(context.Background(), id, seq)
		if err == nil {
			return b
		}
		if !errors.Is(err, anchor.ErrNotAnchored) || time.Now().After(deadline) {
			t.Fatalf("proof of %s seq %d: %v", id, seq, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
