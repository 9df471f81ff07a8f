package modstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/contracts"
	"github.com/custos-dev/custos/internal/natsrv"
	"github.com/custos-dev/custos/store/embedded"
	"github.com/custos-dev/custos/twin"
)

var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "custos-modstore-cache")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var quiet = slog.New(slog.DiscardHandler)

func newJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := natsrv.Start(natsrv.Config{Dir: filepath.Join(t.TempDir(), "nats")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	nc, err := nats.Connect("", nats.InProcessServer(srv), srv.Internal())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func newHost(t *testing.T) *contracts.Host {
	t.Helper()
	ctx := context.Background()
	h, err := contracts.NewHost(ctx, contracts.Config{CacheDir: cacheDir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	if _, err := h.RegisterBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func asColdchain(t *testing.T) []byte {
	return read(t, "../../wasm-policies/coldchain/assemblyscript/coldchain.wasm")
}

func TestDeployRefusesInvalidModules(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, newJS(t))
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployer{Host: newHost(t), Modules: st, Logger: quiet}
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"trap", read(t, "../../contracts/testdata/trap.wasm"), "dry run: custos_apply on reading event (seq 2) failed: trap"},
		{"env import", read(t, "../../contracts/testdata/envimport.wasm"), "forbidden import env.abort"},
		{"no apply", read(t, "../../contracts/testdata/noapply.wasm"), `missing export "custos_apply"`},
		{"garbage", []byte("\x00asm\x01\x00\x00\x00garbage"), "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Deploy(ctx, "bad", "1.0.0", tt.wasm)
			if !errors.Is(err, contracts.ErrInvalidModule) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidModule with %q", err, tt.want)
			}
		})
	}
	// The built-in name and version are taken by other bytes.
	if _, err := d.Deploy(ctx, "coldchain", "1.0.0", asColdchain(t)); !errors.Is(err, contracts.ErrVersionExists) {
		t.Fatalf("redeploy of coldchain@1.0.0 with other bytes: %v", err)
	}
	refs, err := st.Refs(ctx)
	if err != nil || len(refs) != 0 {
		t.Fatalf("refused modules were stored: %v %v", refs, err)
	}
	if _, err := ReadModule([]byte("hello"), 100); !errors.Is(err, contracts.ErrInvalidModule) {
		t.Fatalf("ReadModule accepted a non-wasm body: %v", err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, newJS(t))
	if err != nil {
		t.Fatal(err)
	}
	wasm := asColdchain(t)
	ref := twin.ContractRef{Name: "coldchain", Version: "1.1.0", SHA256: sha256.Sum256(wasm)}
	if err := st.Put(ctx, ref, wasm); err != nil {
		t.Fatal(err)
	}
	alias := ref
	alias.Name = "coldchain-eu"
	if err := st.Put(ctx, alias, wasm); err != nil {
		t.Fatal(err)
	}
	bad := ref
	bad.Version = "9"
	bad.SHA256[0] ^= 1
	if err := st.Put(ctx, bad, wasm); !errors.Is(err, ErrCorruptModule) {
		t.Fatalf("put with a wrong sha256: %v", err)
	}
	refs, err := st.Refs(ctx)
	if err != nil || len(refs) != 2 || refs[0] != ref || refs[1] != alias {
		t.Fatalf("refs = %v, %v", refs, err)
	}
	got, err := st.Module(ctx, ref.SHA256)
	if err != nil || !bytes.Equal(got, wasm) {
		t.Fatalf("module: %v", err)
	}
	if _, err := st.Module(ctx, bad.SHA256); !errors.Is(err, twin.ErrUnknownPolicy) {
		t.Fatalf("missing module: %v", err)
	}
}

// TestHotUpgradeUnderLoad moves 40 twins from the Go coldchain (built in,
// 1.0.0) to the AssemblyScript coldchain deployed as 1.1.0 while readings
// keep coming, with upgrades arriving at random points of the stream. Then
// it checks that no event was lost, that every event was evaluated by the
// module recorded for it in the digest chain (the old one before the
// upgrade, the new one from it on), that the chain verifies, that states
// equal those of a control run that never upgraded, and that after a
// restart (host rebuilt from the object store) the twins go on.
func TestHotUpgradeUnderLoad(t *testing.T) {
	ctx := context.Background()
	js := newJS(t)
	st, err := Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	host := newHost(t)
	db, err := embedded.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := &Deployer{Host: host, Modules: st, Twins: db, Logger: quiet}
	v1, err := host.Resolve(ctx, "coldchain", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := d.Deploy(ctx, "coldchain", "1.1.0", asColdchain(t))
	if err != nil {
		t.Fatal(err)
	}

	const twins, rounds = 40, 60
	rt, err := twin.New(twin.Config{Store: db, Contracts: host, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	controlDB, err := embedded.Open(filepath.Join(t.TempDir(), "control"))
	if err != nil {
		t.Fatal(err)
	}
	defer controlDB.Close()
	control, err := twin.New(twin.Config{Store: controlDB, Contracts: host, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	var creates []twin.Input
	for i := range twins {
		c := twin.Command{Type: "create", Kind: "pallet", Contract: &v1, Params: []byte(`{"excursion_budget_s":600}`)}
		in, err := c.Input(fmt.Sprintf("p%02d", i), base)
		if err != nil {
			t.Fatal(err)
		}
		creates = append(creates, *in)
	}
	var seq atomic.Uint64
	process := func(r *twin.Runtime, in []twin.Input) {
		for i := range in {
			in[i].StreamSeq = seq.Add(1)
		}
		out, err := r.Process(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for i, res := range out.Results {
			if res.Err != nil || len(res.Failed) > 0 {
				t.Fatalf("input %d (%s) not applied: %+v %v", i, in[i].Twin, res.Err, res.Failed)
			}
		}
	}
	process(rt, cloneInputs(creates))
	process(control, cloneInputs(creates))

	reading := func(i, r int) twin.Input {
		v := 5 + 6*math.Sin(float64(r)/4+float64(i))
		return twin.Input{Twin: fmt.Sprintf("p%02d", i), Events: []twin.Event{{Kind: twin.KindReading, Type: twin.TypeTemperature,
			Time: base.Add(time.Duration(r+1) * time.Minute), Value: math.Round(v*100) / 100, Fields: []string{"t1", "CEL"}}}}
	}
	// Load: a producer of readings and an operator upgrading twins, both
	// feeding the one ingest loop, which applies batches as they come.
	inputs := make(chan twin.Input, 256)
	var wg sync.WaitGroup
	var round atomic.Int64
	wg.Add(2)
	go func() {
		defer wg.Done()
		for r := range rounds {
			round.Store(int64(r))
			for i := range twins {
				inputs <- reading(i, r)
			}
		}
	}()
	go func() {
		defer wg.Done()
		rnd := rand.New(rand.NewPCG(7, 7))
		for _, i := range rnd.Perm(twins) {
			time.Sleep(time.Duration(rnd.IntN(3000)) * time.Microsecond)
			id := fmt.Sprintf("p%02d", i)
			c, err := UpgradeCommand(ctx, host, db, id, "", "1.1.0")
			if err != nil {
				t.Error(err)
				return
			}
			in, err := c.Input(id, base.Add(time.Duration(round.Load())*time.Minute))
			if err != nil {
				t.Error(err)
				return
			}
			inputs <- *in
		}
	}()
	go func() { wg.Wait(); close(inputs) }()
	batches := 0
	for in := range inputs {
		batch := []twin.Input{in}
	fill:
		for len(batch) < 64 {
			select {
			case more, ok := <-inputs:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			default:
				break fill
			}
		}
		process(rt, batch)
		batches++
	}
	for r := range rounds {
		var b []twin.Input
		for i := range twins {
			b = append(b, reading(i, r))
		}
		process(control, b)
	}
	t.Logf("%d inputs in %d batches", seq.Load(), batches)

	upgradedAt := map[uint64]int{}
	check := func(id string, wantSeq uint64) {
		t.Helper()
		tw, err := db.Twin(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := db.History(ctx, twin.HistoryQuery{Twin: id, Limit: 1000})
		for _, r := range recs {
			if r.Kind == twin.KindTimer {
				wantSeq++ // event-time timers fire inline, by watermark
			}
		}
		if tw.Seq != wantSeq || tw.Contract != v2 {
			t.Fatalf("%s: seq %d (want %d), contract %+v", id, tw.Seq, wantSeq, tw.Contract)
		}
		if err != nil || uint64(len(recs)) != wantSeq {
			t.Fatalf("%s: %d records, %v", id, len(recs), err)
		}
		var prev twin.Hash
		upgraded := false
		for _, r := range recs {
			if r.Kind == twin.KindUpgrade {
				upgraded = true
				upgradedAt[r.Seq]++
			}
			want := v1.SHA256
			if upgraded {
				want = v2.SHA256
			}
			if r.Module != want {
				t.Fatalf("%s seq %d (%v): evaluated by %s, want %s", id, r.Seq, r.Kind, r.Module.Hex()[:12], want.Hex()[:12])
			}
			if twin.Keccak256(r.Event) != r.EventHash || twin.NextDigest(prev, id, r.Seq, r.EventHash, r.StateHash, r.Module) != r.Digest {
				t.Fatalf("%s seq %d: digest chain does not verify", id, r.Seq)
			}
			prev = r.Digest
		}
		if !upgraded || prev != tw.Digest {
			t.Fatalf("%s: upgraded %v, head %s vs %s", id, upgraded, prev, tw.Digest)
		}
	}
	for i := range twins {
		id := fmt.Sprintf("p%02d", i)
		check(id, 1+rounds+1)
		tw, _ := db.Twin(ctx, id)
		cw, err := controlDB.Twin(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tw.State, cw.State) || string(tw.View) != string(cw.View) {
			t.Fatalf("%s: state after the upgrade differs from the control run:\n%s\n%s", id, tw.View, cw.View)
		}
	}
	// The upgrades landed between readings, at different points of the stream.
	if len(upgradedAt) < 5 {
		t.Fatalf("upgrades applied at seqs %v: not spread through the load", upgradedAt)
	}
	t.Logf("upgrades applied at %d different seqs", len(upgradedAt))
	ps, err := d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		want := 0
		if p.SHA256 == v2.SHA256 {
			want = twins
		}
		if p.Twins != want {
			t.Fatalf("policy list: %+v, want %d twins", p, want)
		}
	}

	// Restart: a new host knows only the built-ins until Restore.
	host2 := newHost(t)
	d2 := &Deployer{Host: host2, Modules: st, Twins: db, Logger: quiet}
	if _, err := host2.Contract(ctx, v2.SHA256); !errors.Is(err, twin.ErrUnknownPolicy) {
		t.Fatalf("fresh host knows the deployed module: %v", err)
	}
	refs, err := d2.Restore(ctx)
	if err != nil || len(refs) != 1 || refs[0] != v2 {
		t.Fatalf("restore: %v %v", refs, err)
	}
	rt2, err := twin.New(twin.Config{Store: db, Contracts: host2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var more []twin.Input
	for i := range twins {
		more = append(more, reading(i, rounds))
	}
	process(rt2, more)
	for i := range twins {
		check(fmt.Sprintf("p%02d", i), 1+rounds+2)
	}
}

func cloneInputs(in []twin.Input) []twin.Input {
	out := make([]twin.Input, len(in))
	for i, x := range in {
		out[i] = x
		out[i].Events = append([]twin.Event(nil), x.Events...)
		for j := range out[i].Events {
			out[i].Events[j].Fields = append([]string(nil), x.Events[j].Fields...)
		}
	}
	return out
}

// TestRefsBoundedWhenLookupFails: nats.go's object store listing sends its
// "initial values done" marker only after a last-message lookup on the
// bucket's stream succeeds; when that lookup fails (a replicated stream
// with no leader yet, as when a cluster starts — here a permission denies
// it) and the bucket has no messages, the listing waits forever on a
// context without a deadline. A node's start hung there once. Refs bounds
// the listing, so the caller gets an error and tries again.
func TestRefsBoundedWhenLookupFails(t *testing.T) {
	defer func(d time.Duration) { listTimeout = d }(listTimeout)
	listTimeout = 500 * time.Millisecond
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
		Users: []*server.User{{Username: "u", Password: "p", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$JS.API.DIRECT.GET.>", "$JS.API.STREAM.MSG.GET.>"}},
		}}},
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("u", "p"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Refs(context.Background()); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Refs succeeded although the bucket's stream cannot be read")
		}
		t.Logf("Refs: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Refs still waiting after 10 s (the listing is unbounded)")
	}
}
