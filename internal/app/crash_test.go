package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/internal/natsrv"
	"github.com/custos-dev/custos/store/embedded"
	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

// TestMain doubles as the crash child: with CUSTOS_CRASH_CHILD set, the test
// binary runs the daemon until it is killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CUSTOS_CRASH_CHILD"); dir != "" {
		batch, _ := strconv.Atoi(os.Getenv("CUSTOS_CRASH_BATCH"))
		cfg := app.Config{
			Data: dir, NATSListen: os.Getenv("CUSTOS_CRASH_NATS"), HTTP: "-", BatchSize: batch, Logger: quietLogger(), CacheDir: testCache(), MaxFutureSkew: -1,
		}
		if os.Getenv("CUSTOS_CRASH_PURGE") != "" { // --input-retention applied, purging often
			cfg.PurgeApplied, bus.PurgeInterval, cfg.DuplicateWindow = true, 50*time.Millisecond, 200*time.Millisecond
		}
		if chain := os.Getenv("CUSTOS_CRASH_CHAIN"); chain != "" { // anchoring on, HTTP API on
			cfg.HTTP = os.Getenv("CUSTOS_CRASH_HTTP")
			cfg.Anchor = &app.AnchorConfig{ChainListen: chain, Interval: 300 * time.Millisecond}
		}
		a, err := app.Start(context.Background(), cfg)
		if err != nil {
			fmt.Println("start failed:", err)
			os.Exit(1)
		}
		_ = a
		fmt.Println("ready")
		select {}
	}
	os.Exit(m.Run())
}

type child struct {
	cmd *exec.Cmd
}

// startChild starts the daemon in a child process; env adds variables
// (CUSTOS_CRASH_CHAIN and CUSTOS_CRASH_HTTP turn anchoring and the API on).
func startChild(t *testing.T, dir, natsAddr string, batch int, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CUSTOS_CRASH_CHILD="+dir, "CUSTOS_CRASH_NATS="+natsAddr, "CUSTOS_CRASH_BATCH="+strconv.Itoa(batch))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(c.kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	return c
}

// kill stops the child the hard way: SIGKILL, no shutdown of anything.
func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type pubMsg struct {
	subject string
	body    []byte
}

// workload builds the create commands and readings of a fleet, in order.
// Timestamps lie in 2030 so that no contract timer comes due during the
// test: timer events would interleave differently in the replay.
func workload(twins, readings int) []pubMsg {
	p := builtin.Coldchain()
	ref := twin.ContractRef{Name: p.Name, Version: p.Version, SHA256: sha256.Sum256(p.Wasm)}
	var msgs []pubMsg
	for i := 0; i < twins; i++ {
		cmd, _ := json.Marshal(twin.Command{Type: "create", TS: "2030-01-01T00:00:00Z", Kind: "case", Contract: &ref,
			Params: json.RawMessage(`{"min_c":2,"max_c":8,"excursion_budget_s":600}`)})
		msgs = append(msgs, pubMsg{fmt.Sprintf("custos.command.C-%d", i), cmd})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < readings; i++ {
		id := rng.IntN(twins)
		ts := base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		v := 5 + rng.NormFloat64()*3
		var body []byte
		if i%10 == 0 {
			body = fmt.Appendf(nil, `{"readings":[{"ts":%q,"sensor":"t1","type":"temperature","value":%.2f},{"ts":%q,"sensor":"d1","type":"door","value":%d}]}`,
				ts, v, ts, rng.IntN(2))
		} else {
			body = fmt.Appendf(nil, `{"ts":%q,"sensor":"t1","type":"temperature","value":%.2f}`, ts, v)
		}
		msgs = append(msgs, pubMsg{fmt.Sprintf("custos.telemetry.C-%d", id), body})
	}
	return msgs
}

func publishAll(t *testing.T, js jetstream.JetStream, msgs []pubMsg) uint64 {
	t.Helper()
	return publishFrom(t, js, msgs, 0)
}

// publishFrom publishes msgs asynchronously, numbering their Nats-Msg-Id
// from offset (so that a workload can be published in parts), and returns
// the stream sequence of the last one once all are stored.
func publishFrom(t *testing.T, js jetstream.JetStream, msgs []pubMsg, offset int) uint64 {
	t.Helper()
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		if i%1000 == 999 {
			// Bound what is in flight: a slow server (the race detector)
			// makes the client refuse more than it holds pending.
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				t.Fatal("async publications not acknowledged in a minute")
			}
		}
		f, err := js.PublishAsync(m.subject, m.body, jetstream.WithMsgID("w:"+strconv.Itoa(offset+i)))
		if err != nil {
			t.Fatal(err)
		}
		futures[i] = f
	}
	var last uint64
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			last = max(last, ack.Sequence)
		case err := <-f.Err():
			t.Fatal(err)
		case <-time.After(time.Minute):
			t.Fatal("no publish acknowledgement in a minute")
		}
	}
	return last
}

// ackFloor is the input stream sequence up to which the runtime has
// acknowledged everything.
func ackFloor(t *testing.T, js jetstream.JetStream) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, "CUSTOS_INPUT", "custos-runtime")
	if err != nil {
		return 0
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0
	}
	return info.AckFloor.Stream
}

// consumerState describes the runtime's consumer, for a failure message (a
// stalled consumer shows as pending input and no waiting pull request).
func consumerState(js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, "CUSTOS_INPUT", "custos-runtime")
	if err != nil {
		return err.Error()
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("consumer: delivered stream seq %d, ack floor %d, %d pending, %d awaiting ack, %d pull requests waiting",
		info.Delivered.Stream, info.AckFloor.Stream, info.NumPending, info.NumAckPending, info.NumWaiting)
}

func waitAcked(t *testing.T, js jetstream.JetStream, last uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for ackFloor(t, js) < last {
		if time.Now().After(deadline) {
			t.Fatalf("input acknowledged up to %d of %d; %s", ackFloor(t, js), last, consumerState(js))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrashRecoveryMatchesReplay: custos killed (-9) twice part-way
// through a stream ends with the same twins, histories and alerts as a
// replay of the same input without crashes — also when it purges applied
// input from the stream as it goes (--input-retention applied).
func TestCrashRecoveryMatchesReplay(t *testing.T) {
	t.Run("keep-input", func(t *testing.T) { crashRecoveryMatchesReplay(t) })
	t.Run("purge-applied", func(t *testing.T) { crashRecoveryMatchesReplay(t, "CUSTOS_CRASH_PURGE=1") })
}

func crashRecoveryMatchesReplay(t *testing.T, env ...string) {
	const twins, readings = 20, 4000
	msgs := workload(twins, readings)
	dir := t.TempDir()
	natsAddr := freeAddr(t)

	c := startChild(t, dir, natsAddr, 8, env...)
	creds, err := natsrv.CredsOption(filepath.Join(dir, "nats-admin.nk"))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+natsAddr, creds, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	last := publishAll(t, js, msgs)
	t.Logf("%s published", time.Now().Format("15:04:05.000"))

	// Kill -9 twice while the runtime is part-way through the stream.
	for round := 0; round < 2; round++ {
		lo := last * uint64(round+1) / 4
		deadline := time.Now().Add(60 * time.Second)
		for ackFloor(t, js) < lo && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		floor := ackFloor(t, js)
		c.kill()
		if floor >= last {
			t.Fatalf("round %d: runtime finished (%d/%d) before the kill; slow it down", round, floor, last)
		}
		t.Logf("%s round %d: killed at ack floor %d of %d", time.Now().Format("15:04:05.000"), round, floor, last)
		c = startChild(t, dir, natsAddr, 8, env...)
	}
	waitAcked(t, js, last)
	t.Logf("%s all acked", time.Now().Format("15:04:05.000"))
	// Acknowledged input has its state in the KV bucket, crashes or not.
	kv, err := js.KeyValue(context.Background(), "custos_twins")
	if err != nil {
		t.Fatal(err)
	}
	inKV := map[string]twin.Twin{}
	for i := 0; i < twins; i++ {
		id := fmt.Sprintf("C-%d", i)
		e, err := kv.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("kv %s: %v", id, err)
		}
		var tw twin.Twin
		if err := json.Unmarshal(e.Value(), &tw); err != nil {
			t.Fatal(err)
		}
		inKV[id] = tw
	}
	if len(env) > 0 { // purging: all input was applied, so all goes
		in, err := js.Stream(context.Background(), bus.StreamInput)
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); in.CachedInfo().State.Msgs > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("applied input not purged: %+v", in.CachedInfo().State)
			}
			if _, err := in.Info(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.kill()
	nc.Close()

	crashed, err := embedded.Open(dir + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer crashed.Close()

	// Replay the same stream from scratch, without crashes.
	ref := start(t, t.TempDir())
	defer ref.Close()
	_, rjs := client(t, ref)
	waitAcked(t, rjs, publishAll(t, rjs, msgs))
	t.Logf("%s replay done", time.Now().Format("15:04:05.000"))

	perTwin := map[string]uint64{}
	for _, m := range msgs[twins:] {
		perTwin[m.subject[len("custos.telemetry."):]] += uint64(1 + bytes.Count(m.body, []byte(`"door"`)))
	}
	ctx := context.Background()
	for i := 0; i < twins; i++ {
		id := fmt.Sprintf("C-%d", i)
		got, err := crashed.Twin(ctx, id)
		if err != nil {
			t.Fatalf("%s after crashes: %v", id, err)
		}
		want, err := ref.Store.Twin(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// Event-time timers fire inline, by watermark: records of their own.
		gh, _ := crashed.History(ctx, twin.HistoryQuery{Twin: id, Limit: 1 << 20})
		wh, _ := ref.Store.History(ctx, twin.HistoryQuery{Twin: id, Limit: 1 << 20})
		timers := inlineTimers(ctx, t, crashed, id)
		if got.Seq != 1+perTwin[id]+timers {
			t.Errorf("%s: seq %d, want %d (+%d timers): readings lost or applied twice", id, got.Seq, 1+perTwin[id], timers)
		}
		// The histories match in everything but record time (when custos
		// applied each event, which differs by nature).
		if len(gh) != len(wh) {
			t.Errorf("%s: %d records after crashes, %d in replay", id, len(gh), len(wh))
		} else {
			for j := range gh {
				g, w := gh[j], wh[j]
				if g.RecordTime.IsZero() || w.RecordTime.IsZero() {
					t.Errorf("%s seq %d: no record time", id, g.Seq)
				}
				g.RecordTime, w.RecordTime = time.Time{}, time.Time{}
				g.StreamSeq, w.StreamSeq = 0, 0 // two streams
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s seq %d differs from replay:\n%+v\n%+v", id, g.Seq, g, w)
					break
				}
			}
		}
		if k := inKV[id]; k.Seq != got.Seq || k.Digest != got.Digest {
			t.Errorf("%s: KV holds seq %d, the store seq %d", id, k.Seq, got.Seq)
		}
		if got.Seq != want.Seq || got.Digest != want.Digest || !bytes.Equal(got.State, want.State) ||
			got.Status != want.Status || got.Alerts != want.Alerts || !bytes.Equal(got.View, want.View) {
			t.Errorf("%s differs from replay:\n crashed seq %d digest %s status %s alerts %d\n replay  seq %d digest %s status %s alerts %d",
				id, got.Seq, got.Digest, got.Status, got.Alerts, want.Seq, want.Digest, want.Status, want.Alerts)
		}
		ga, _ := crashed.Alerts(ctx, twin.AlertQuery{Twin: id, Limit: 1000})
		wa, _ := ref.Store.Alerts(ctx, twin.AlertQuery{Twin: id, Limit: 1000})
		if len(ga) != len(wa) {
			t.Errorf("%s: %d alerts after crashes, %d in replay", id, len(ga), len(wa))
		}
	}
}
