package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/devchain"
	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/natsrv"
	"github.com/custos-dev/custos/twin"
)

func startAnchored(t *testing.T, dir, chainAddr string) *app.App {
	t.Helper()
	a, err := app.Start(context.Background(), app.Config{
		Data: dir, NATSListen: "127.0.0.1:0", HTTP: "127.0.0.1:0", Logger: quietLogger(), CacheDir: testCache(),
		Anchor: &app.AnchorConfig{ChainListen: chainAddr, Interval: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// proof polls the proof endpoint until the twin's seq is anchored.
func proof(t *testing.T, a *app.App, id string, seq uint64) []byte {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := httpDo(t, a, "GET", "/v1/twins/"+id+"/proof?seq="+itoa(seq), nil)
		if code == 200 {
			return body
		}
		if code != 404 || time.Now().After(deadline) {
			t.Fatalf("proof of %s seq %d: %d %s", id, seq, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func itoa(n uint64) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// verify checks a proof bundle against the chain over JSON-RPC, as an
// auditor with only the bundle and an endpoint would.
func verify(t *testing.T, rpc string, pin anchor.Pin, bundle []byte) *anchor.Report {
	t.Helper()
	cl, err := ethclient.Dial(rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	b, err := anchor.ReadBundle(bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := anchor.Verify(context.Background(), cl, b, pin)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAnchoredProofsVerifyAgainstTheChain(t *testing.T) {
	dir, chainAddr := t.TempDir(), freeAddr(t)
	a := startAnchored(t, dir, chainAddr)
	_, js := client(t, a)
	createTwin(t, a, "PAL-1", `{}`)
	for i, v := range []float64{5, 9.5, 6} {
		publish(t, js, "custos.telemetry.PAL-1", reading("2026-11-25T10:0"+itoa(uint64(i))+":00Z", v))
	}
	tw := waitTwin(t, a, "PAL-1", func(tw *twin.Twin) bool { return tw.Seq >= 4 })
	// What an auditor pins: the dev chain's key is the operator.
	pin := anchor.Pin{Operator: a.Chain.Dev.DevAddress(), Contract: a.Anchor.Contract(), ChainID: devchain.ChainID}

	head := proof(t, a, "PAL-1", tw.Seq)
	if rep := verify(t, "http://"+chainAddr, pin, head); !rep.OK() {
		t.Fatalf("head proof does not verify:\n%s", rep)
	}
	// An earlier seq: the bundle carries the digest-chain links up to the leaf.
	early := proof(t, a, "PAL-1", 2)
	if rep := verify(t, "http://"+chainAddr, pin, early); !rep.OK() {
		t.Fatalf("seq 2 proof does not verify:\n%s", rep)
	}
	// The compact binary form verifies the same way.
	resp, err := http.Get("http://" + a.HTTPAddr + "/v1/twins/PAL-1/proof?format=compact&seq=" + itoa(tw.Seq))
	if err != nil {
		t.Fatal(err)
	}
	compact, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cb, err := anchor.ReadCompact(compact)
	if err != nil || len(compact) > 1024 {
		t.Fatalf("compact proof: %d bytes, %v", len(compact), err)
	}
	cl, err := ethclient.Dial("http://" + chainAddr)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := anchor.Verify(context.Background(), cl, cb, pin); err != nil || !rep.OK() {
		t.Fatalf("compact proof does not verify: %v\n%s", err, rep)
	}
	cl.Close()
	// A tampered bundle fails with a reason.
	var m map[string]any
	if err := json.Unmarshal(head, &m); err != nil {
		t.Fatal(err)
	}
	m["digest"] = twin.Hash{1}.String()
	if rep := verify(t, "http://"+chainAddr, pin, must(json.Marshal(m))); rep.OK() || rep.Failed() == nil {
		t.Fatalf("tampered digest verified:\n%s", rep)
	}
	code, body := httpDo(t, a, "GET", "/v1/anchors", nil)
	if code != 200 || !bytes.Contains(body, []byte(`"epochs"`)) {
		t.Fatalf("/v1/anchors: %d %s", code, body)
	}
	if _, body := httpDo(t, a, "GET", "/metrics", nil); !bytes.Contains(body, []byte("custos_anchor_last_confirmed_epoch")) || !bytes.Contains(body, []byte("custos_anchor_gas_used")) {
		t.Errorf("anchor metrics missing:\n%s", grep(body, "custos_anchor"))
	}
	code, body = httpDo(t, a, "POST", "/v1/verify", json.RawMessage(head))
	if code != 200 || !bytes.Contains(body, []byte(`"ok":true`)) || bytes.Contains(body, []byte(`"ok":false`)) {
		t.Fatalf("/v1/verify: %d %s", code, body)
	}
	// A stranger signs the same (real) twin's root with their own key:
	// refused by an auditor pinning the operator and by the runtime itself,
	// naming the stranger.
	var sb anchor.Bundle
	if err := json.Unmarshal(head, &sb); err != nil {
		t.Fatal(err)
	}
	sk, _ := crypto.GenerateKey()
	sb.Signer = crypto.PubkeyToAddress(sk.PublicKey)
	sb.Signature, _ = anchor.SignAnchor(sk, anchor.Domain{ChainID: big.NewInt(devchain.ChainID), Contract: sb.Contract}, sb.Epoch, sb.Root, sb.Count)
	forged := must(json.Marshal(&sb))
	if rep := verify(t, "http://"+chainAddr, pin, forged); rep.OK() || !strings.Contains(rep.Failed().Detail, sb.Signer.Hex()) {
		t.Fatalf("stranger's bundle:\n%s", rep)
	}
	code, body = httpDo(t, a, "POST", "/v1/verify", json.RawMessage(forged))
	if code != 200 || !bytes.Contains(body, []byte(`"ok":false`)) || !bytes.Contains(body, []byte(sb.Signer.Hex())) {
		t.Fatalf("/v1/verify of a stranger's bundle: %d %s", code, body)
	}
	a.Close()

	// After a restart, the dev chain still holds the anchor.
	a = startAnchored(t, dir, chainAddr)
	defer a.Close()
	if rep := verify(t, "http://"+chainAddr, pin, head); !rep.OK() {
		t.Fatalf("proof no longer verifies after restart:\n%s", rep)
	}
}

// TestProofSurvivesKill is the auditor's crash run: custos with the embedded
// chain anchors a twin's readings, a proof is fetched, the process is killed
// with SIGKILL, and after a restart on the same data directory the proof
// fetched before the kill verifies again within 30 s.
func TestProofSurvivesKill(t *testing.T) {
	dir, natsAddr, httpAddr, chainAddr := t.TempDir(), freeAddr(t), freeAddr(t), freeAddr(t)
	c := startChild(t, dir, natsAddr, 0, "CUSTOS_CRASH_HTTP="+httpAddr, "CUSTOS_CRASH_CHAIN="+chainAddr)
	base := "http://" + httpAddr
	post, err := http.Post(base+"/v1/twins", "application/json", strings.NewReader(
		`{"id":"PAL-9","kind":"pallet","policy":"coldchain","params":{},"custodian":"factory","ts":"2026-11-25T09:59:00Z"}`))
	if err != nil || post.StatusCode != http.StatusCreated {
		t.Fatalf("create twin: %v %v", post, err)
	}
	post.Body.Close()
	creds, err := natsrv.CredsOption(filepath.Join(dir, "nats-admin.nk"))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+natsAddr, creds)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for i, v := range []float64{5, 5.5, 6, 6.5, 7} {
		publish(t, js, "custos.telemetry.PAL-9", reading("2026-11-25T10:0"+itoa(uint64(i))+":00Z", v))
	}
	var head []byte
	for deadline := time.Now().Add(60 * time.Second); head == nil; {
		resp, err := http.Get(base + "/v1/twins/PAL-9/proof?seq=6")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				head = body
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no proof of seq 6 before the kill")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var b anchor.Bundle
	if err := json.Unmarshal(head, &b); err != nil {
		t.Fatal(err)
	}
	pin := anchor.Pin{Operator: b.Operator, Contract: b.Contract, ChainID: devchain.ChainID} // the operator is the dev key
	if rep := verify(t, "http://"+chainAddr, pin, head); !rep.OK() {
		t.Fatalf("proof before the kill:\n%s", rep)
	}
	c.kill()

	a := startAnchored(t, dir, chainAddr)
	defer a.Close()
	if a.Chain.Dev.DevAddress() != pin.Operator {
		t.Fatalf("operator %s, dev key %s", pin.Operator, a.Chain.Dev.DevAddress())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep := verify(t, "http://"+chainAddr, pin, head)
		if rep.OK() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proof fetched before the kill does not verify 30 s after the restart:\n%s", rep)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
