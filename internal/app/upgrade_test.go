package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/twin"
	"github.com/custos-dev/custos/wasm-policies/builtin"
)

func deploy(t *testing.T, a *app.App, name, version string, wasm []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post("http://"+a.HTTPAddr+"/v1/policies?name="+name+"&version="+version, "application/wasm", bytes.NewReader(wasm))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestHotUpgradeUnderLoad deploys the AssemblyScript build of coldchain
// while twins on the Go build take readings, upgrades every twin mid-stream
// through custos_migrate, and checks that no reading was lost or applied
// twice and that each event was evaluated by the module the digest chain
// records.
func TestHotUpgradeUnderLoad(t *testing.T) {
	a := start(t, t.TempDir())
	defer a.Close()
	_, js := client(t, a)
	ctx := context.Background()

	// A module that fails validation is refused with a clear message.
	bad, err := os.ReadFile("../../contracts/testdata/envimport.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := deploy(t, a, "broken", "1.0.0", bad); code != 422 || !bytes.Contains(body, []byte("invalid_module")) || !bytes.Contains(body, []byte("env")) {
		t.Fatalf("invalid module: %d %s", code, body)
	}

	as, err := os.ReadFile("../../wasm-policies/coldchain/assemblyscript/coldchain.wasm")
	if err != nil {
		t.Fatal(err)
	}
	code, body := deploy(t, a, "coldchain", "2.0.0", as)
	if code != 201 {
		t.Fatalf("deploy: %d %s", code, body)
	}
	goSHA, asSHA := twin.Hash(sha256.Sum256(builtin.Coldchain().Wasm)), twin.Hash(sha256.Sum256(as))

	const twins, readings = 8, 1600
	for i := 0; i < twins; i++ {
		code, body := httpDo(t, a, "POST", "/v1/twins", map[string]any{"id": fmt.Sprintf("U-%d", i), "kind": "case", "policy": "coldchain", "version": "1.0.0", "ts": "2030-01-01T00:00:00Z"})
		if code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
	}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	futures := make([]jetstream.PubAckFuture, 0, readings)
	for i := 0; i < readings; i++ {
		ts := base.Add(time.Duration(i+1) * time.Minute).Format(time.RFC3339)
		f, err := js.PublishAsync(fmt.Sprintf("custos.telemetry.U-%d", i%twins), reading(ts, 4+float64(i%7)))
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
		if i == readings/3 {
			// Upgrade every twin while readings keep coming.
			for k := 0; k < twins; k++ {
				code, body := httpDo(t, a, "POST", fmt.Sprintf("/v1/twins/U-%d/events", k), map[string]string{"type": "upgrade", "version": "2.0.0"})
				if code != 200 || !bytes.Contains(body, []byte(asSHA.String())) {
					t.Fatalf("upgrade U-%d: %d %s", k, code, body)
				}
			}
		}
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatal(err)
		}
	}
	for i := 0; i < twins; i++ {
		id := fmt.Sprintf("U-%d", i)
		// create, readings, upgrade, and the event-time timers that fired
		// inline, by watermark
		want := uint64(1 + readings/twins + 1)
		tw := waitTwin(t, a, id, func(tw *twin.Twin) bool { return tw.Seq >= want+inlineTimers(ctx, t, a.Store, id) })
		want += inlineTimers(ctx, t, a.Store, id)
		if tw.Seq != want || tw.Contract.SHA256 != asSHA || tw.Contract.Version != "2.0.0" {
			t.Fatalf("%s: seq %d contract %+v, want seq %d on 2.0.0", id, tw.Seq, tw.Contract, want)
		}
		recs, err := a.Store.History(ctx, twin.HistoryQuery{Twin: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		upgraded := false
		var prev twin.Hash
		for _, r := range recs {
			if r.Kind == twin.KindUpgrade {
				upgraded = true
			}
			if mod := map[bool]twin.Hash{false: goSHA, true: asSHA}[upgraded]; r.Module != mod {
				t.Fatalf("%s seq %d (%s) evaluated by %s, want %s", id, r.Seq, r.Kind, r.Module, mod)
			}
			prev = twin.NextDigest(prev, id, r.Seq, r.EventHash, r.StateHash, r.Module)
			if prev != r.Digest {
				t.Fatalf("%s seq %d: digest chain broken", id, r.Seq)
			}
		}
		if !upgraded || prev != tw.Digest {
			t.Fatalf("%s: upgraded %v, head %s vs %s", id, upgraded, prev, tw.Digest)
		}
	}
	_, body = httpDo(t, a, "GET", "/v1/policies", nil)
	if !strings.Contains(string(body), `"2.0.0"`) || !strings.Contains(string(body), `"twins":8`) {
		t.Errorf("policies: %s", body)
	}
}
