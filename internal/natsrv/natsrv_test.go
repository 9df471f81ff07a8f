package natsrv_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/custos-dev/custos/internal/natsrv"
)

type key struct {
	kp  nkeys.KeyPair
	pub string
}

func newKey(t *testing.T) key {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return key{kp, pub}
}

func (k key) connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Nkey(k.pub, k.kp.Sign))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// A tenant's device publishes into custos's stream with the tenant in the
// subject and gets JetStream's acknowledgement; the tenant's dashboard sees
// the copies custos publishes for it under the public subject names.
func TestTenantAccounts(t *testing.T) {
	dev, dash := newKey(t), newKey(t)
	srv, err := natsrv.Start(natsrv.Config{Dir: filepath.Join(t.TempDir(), "nats"), Listen: "127.0.0.1:0", Users: []natsrv.User{
		{Nkey: dev.pub, Role: natsrv.RoleDevice, Tenant: "acme"},
		{Nkey: dash.pub, Role: natsrv.RoleDashboard, Tenant: "acme"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx := context.Background()
	nc, err := nats.Connect("", nats.InProcessServer(srv), srv.Internal())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "IN", Subjects: []string{"custos.telemetry.*", "custos.tenant.*.telemetry.*"}})
	if err != nil {
		t.Fatal(err)
	}
	djs, _ := jetstream.New(dev.connect(t, srv.URL()))
	if _, err := djs.Publish(ctx, "custos.telemetry.acme-1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, "custos.tenant.acme.telemetry.acme-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(m.Subject)

	sub, err := dash.connect(t, srv.URL()).SubscribeSync("custos.twin.*.state")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	nc.Publish("custos.twin.acme-1.state", []byte("fleet"))
	nc.Publish("custos.tenant.acme.twin.acme-1.state", []byte("copy"))
	nc.Flush()
	got, err := sub.NextMsg(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "custos.twin.acme-1.state" || string(got.Data) != "copy" {
		t.Fatalf("got %s %q", got.Subject, got.Data)
	}
	if _, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatal("tenant dashboard saw the fleet subject")
	}
}
