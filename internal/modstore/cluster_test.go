package modstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/cluster/natstest"
	"github.com/custos-dev/custos/twin"
)

// A module deployed through one node of a 3-server cluster reaches the
// others on their first miss (by name@version for a create, by sha256 for
// an event on a twin that runs it), from an R3 bucket that outlives the
// server the deploy went through.
func TestClusterModulesFetchedOnMiss(t *testing.T) {
	ctx := context.Background()
	c := natstest.Start(t, 3)
	node := func() *Deployer {
		_, js := c.Connect()
		st, err := Open(ctx, js, WithReplicas(3))
		if err != nil {
			t.Fatal(err)
		}
		d := &Deployer{Host: newHost(t), Modules: st, Logger: quiet}
		if _, err := d.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b, x := node(), node(), node()
	st, _ := a.Modules.obj.Status(ctx)
	if r := st.(*jetstream.ObjectBucketStatus).Replicas(); r != 3 {
		t.Fatalf("module bucket replicas %d, want 3", r)
	}
	if _, err := b.Resolve(ctx, "coldchain", "1.1.0"); !errors.Is(err, twin.ErrUnknownPolicy) {
		t.Fatalf("resolve before deploy: %v", err)
	}
	ref, err := a.Deploy(ctx, "coldchain", "1.1.0", asColdchain(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Host.Contract(ctx, ref.SHA256); !errors.Is(err, twin.ErrUnknownPolicy) {
		t.Fatalf("b's host has the module before any miss: %v", err)
	}
	// b: a create resolves the name.
	got, err := b.Resolve(ctx, "coldchain", "1.1.0")
	if err != nil || got != ref {
		t.Fatalf("b resolves %v, %v; want %v", got, err, ref)
	}
	if _, err := b.Contract(ctx, ref.SHA256); err != nil {
		t.Fatal(err)
	}
	// The server the deploy went through goes away; x, an event on a twin
	// that runs the module, finds it by sha256 on the other two.
	c.Servers[0].Shutdown()
	c.Servers[0] = nil
	// (While the bucket elects a new leader the fetch fails as a transient
	// error, never as an unknown policy.)
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, err := x.Contract(ctx, ref.SHA256)
		if err == nil {
			break
		}
		if errors.Is(err, twin.ErrUnknownPolicy) || time.Now().After(deadline) {
			t.Fatalf("x by sha256 with a server down: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ps := x.Policies(); ps[len(ps)-1] != ref {
		t.Fatalf("x policies end with %v", ps[len(ps)-1])
	}
	// Still unknown stays unknown, without a second sync (nothing changed).
	if _, err := x.Contract(ctx, twin.Hash{1}); !errors.Is(err, twin.ErrUnknownPolicy) {
		t.Fatalf("unknown module: %v", err)
	}
	if ok, err := x.sync(ctx); ok || err != nil {
		t.Fatal("sync registered something with the store unchanged")
	}
}
