package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/internal/natsrv"
	"github.com/custos-dev/custos/twin"
)

type natsUser struct {
	natsrv.User
	kp nkeys.KeyPair
}

func newNATSUser(t *testing.T, role natsrv.Role, tenant string) natsUser {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return natsUser{User: natsrv.User{Nkey: pub, Role: role, Tenant: tenant}, kp: kp}
}

// connectAs connects over TCP as u (nil: without credentials).
func connectAs(t *testing.T, a *app.App, u *natsUser) (*nats.Conn, error) {
	t.Helper()
	opts := []nats.Option{nats.MaxReconnects(0), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})}
	if u != nil {
		opts = append(opts, nats.Nkey(u.Nkey, u.kp.Sign))
	}
	nc, err := nats.Connect(a.NATS.ClientURL(), opts...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

// Every attack of issue 12, tried with no credentials, device, dashboard
// and another tenant's credentials (and the admin's where the admin must
// not either), is refused; the legitimate paths still work.
func TestNATSAttacksRefused(t *testing.T) {
	users := map[string]natsUser{
		"device":       newNATSUser(t, natsrv.RoleDevice, ""),
		"dashboard":    newNATSUser(t, natsrv.RoleDashboard, ""),
		"operator":     newNATSUser(t, natsrv.RoleOperator, ""),
		"beta device":  newNATSUser(t, natsrv.RoleDevice, "beta"),
		"beta dash":    newNATSUser(t, natsrv.RoleDashboard, "beta"),
		"beta op":      newNATSUser(t, natsrv.RoleOperator, "beta"),
		"acme device":  newNATSUser(t, natsrv.RoleDevice, "acme"),
		"acme dash":    newNATSUser(t, natsrv.RoleDashboard, "acme"),
		"acme op":      newNATSUser(t, natsrv.RoleOperator, "acme"),
		"acme admin":   newNATSUser(t, natsrv.RoleAdmin, "acme"),
		"beta-1 owner": {User: natsrv.User{Role: natsrv.RoleDevice}}, // filled below
	}
	owner := newNATSUser(t, natsrv.RoleDevice, "")
	owner.Twins = []string{"beta-2"}
	users["beta-1 owner"] = owner // a device that owns beta-2 only
	a := startWith(t, t.TempDir(), func(c *app.Config) {
		for _, u := range users {
			c.Users = append(c.Users, u.User)
		}
	})
	defer a.Close()
	createTwin(t, a, "beta-1", `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`)
	_, adminJS := client(t, a)
	ctx := context.Background()

	if _, err := connectAs(t, a, nil); err == nil {
		t.Fatal("connected without credentials")
	}
	conns := map[string]*nats.Conn{}
	for name, u := range users {
		nc, err := connectAs(t, a, &u)
		if err != nil {
			t.Fatalf("%s: connect: %v", name, err)
		}
		conns[name] = nc
	}
	adminNC, _ := client(t, a)
	conns["admin"] = adminNC

	type attack struct {
		name string
		by   []string
		try  func(nc *nats.Conn, js jetstream.JetStream) error
	}
	quick := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 500*time.Millisecond) }
	forged := []byte(`{"id":"beta-1","status":"delivered","seq":999}`)
	attacks := []attack{{
		name: "kv put custos_twins",
		by:   []string{"device", "dashboard", "operator", "acme device", "acme dash", "acme op", "acme admin", "beta dash", "admin"},
		try: func(nc *nats.Conn, js jetstream.JetStream) error {
			c, cancel := quick()
			defer cancel()
			kv, err := js.KeyValue(c, bus.Bucket)
			if err != nil {
				return err
			}
			_, err = kv.Put(c, "beta-1", forged)
			return err
		},
	}, {
		name: "forged alert",
		by:   []string{"device", "dashboard", "operator", "acme device", "acme dash", "acme op", "acme admin", "beta op", "admin"},
		try: func(nc *nats.Conn, js jetstream.JetStream) error {
			c, cancel := quick()
			defer cancel()
			_, err := js.Publish(c, bus.AlertSubject("beta-1"), []byte(`{"twin":"beta-1","code":"forged"}`))
			return err
		},
	}, {
		name: "timer from outside",
		by:   []string{"device", "dashboard", "operator", "acme op", "beta op", "admin"},
		try: func(nc *nats.Conn, js jetstream.JetStream) error {
			c, cancel := quick()
			defer cancel()
			_, err := js.Publish(c, bus.TimerPrefix+"beta-1", []byte(`{"name":"x","at":"2026-11-25T10:00:00Z"}`))
			return err
		},
	}, {
		name: "delete stream CUSTOS_DLQ",
		by:   []string{"device", "dashboard", "operator", "acme admin", "beta op", "admin"},
		try: func(nc *nats.Conn, js jetstream.JetStream) error {
			c, cancel := quick()
			defer cancel()
			return js.DeleteStream(c, bus.StreamDLQ)
		},
	}, {
		name: "command compromised",
		by:   []string{"device", "dashboard", "acme device", "acme dash"},
		try: func(nc *nats.Conn, js jetstream.JetStream) error {
			c, cancel := quick()
			defer cancel()
			_, err := js.Publish(c, bus.CommandPrefix+"beta-1", []byte(`{"type":"custody","to":"mallory"}`))
			return err
		},
	}, {
		name: "telemetry for a twin not its own",
		by:   []string{"dashboard", "operator", "beta-1 owner", "beta dash", "beta op", "acme dash"},
		try: func(nc *nats.Conn, js jetstream.JetStream) error {
			c, cancel := quick()
			defer cancel()
			_, err := js.Publish(c, bus.TelemetryPrefix+"beta-1", reading("2026-11-25T10:00:00Z", 30))
			return err
		},
	}}
	var wg sync.WaitGroup
	for _, at := range attacks {
		for _, who := range at.by {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nc := conns[who]
				js, _ := jetstream.New(nc)
				if err := at.try(nc, js); err == nil {
					t.Errorf("%s by %s: accepted", at.name, who)
				}
			}()
		}
	}
	wg.Wait()

	// Another tenant's operator and device reach the stream (their account
	// forwards input) but custos dead-letters it: the twin is not theirs.
	for _, who := range []string{"acme op", "acme device"} {
		js, _ := jetstream.New(conns[who])
		subj, body := bus.CommandPrefix+"beta-1", []byte(`{"type":"custody","to":"mallory"}`)
		if who == "acme device" {
			subj, body = bus.TelemetryPrefix+"beta-1", reading("2026-11-25T10:00:00Z", 30)
		}
		if _, err := js.Publish(ctx, subj, body); err != nil {
			t.Fatalf("%s: %v", who, err)
		}
	}

	// The legitimate paths: beta's device publishes a reading, beta's
	// operator transfers custody, beta's dashboard sees the state, the fleet
	// dashboard reads the bucket.
	stateSub, err := conns["beta dash"].SubscribeSync("custos.twin.*.state")
	if err != nil {
		t.Fatal(err)
	}
	conns["beta dash"].Flush()
	bjs, _ := jetstream.New(conns["beta device"])
	if _, err := bjs.Publish(ctx, bus.TelemetryPrefix+"beta-1", reading("2026-11-25T10:00:00Z", 5)); err != nil {
		t.Fatalf("beta device: %v", err)
	}
	ojs, _ := jetstream.New(conns["beta op"])
	if _, err := ojs.Publish(ctx, bus.CommandPrefix+"beta-1", []byte(`{"type":"custody","to":"carrier","ts":"2026-11-25T10:01:00Z"}`)); err != nil {
		t.Fatalf("beta op: %v", err)
	}
	tw := waitTwin(t, a, "beta-1", func(tw *twin.Twin) bool { return tw.Custodian == "carrier" })
	if tw.Seq != 3 || tw.Status == twin.StatusCompromised {
		t.Errorf("beta-1: seq %d status %s, want seq 3 (create, reading, custody) and not compromised", tw.Seq, tw.Status)
	}
	msg, err := stateSub.NextMsg(5 * time.Second)
	if err != nil || msg.Subject != "custos.twin.beta-1.state" {
		t.Fatalf("beta dashboard: %v %v", msg, err)
	}
	djs, _ := jetstream.New(conns["dashboard"])
	kv, err := djs.KeyValue(ctx, bus.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		e, err := kv.Get(ctx, "beta-1")
		if err == nil {
			var st struct{ Custodian string }
			json.Unmarshal(e.Value(), &st)
			if st.Custodian == "carrier" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dashboard kv get beta-1: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w, err := kv.Watch(ctx, "beta-1")
	if err != nil {
		t.Fatalf("dashboard kv watch: %v", err)
	}
	select {
	case e := <-w.Updates():
		if e == nil || string(e.Value()) == string(forged) {
			t.Errorf("watch: %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Error("dashboard kv watch: nothing")
	}
	w.Stop()

	// Nothing forged got in; the other tenant's input was dead-lettered.
	if _, err := adminJS.Stream(ctx, bus.StreamDLQ); err != nil {
		t.Errorf("CUSTOS_DLQ: %v", err)
	}
	alerts, _ := adminJS.Stream(ctx, bus.StreamAlerts)
	if m, err := alerts.GetLastMsgForSubject(ctx, bus.AlertSubject("beta-1")); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("CUSTOS_ALERTS holds %v (%v)", m, err)
	}
	dlq, _ := adminJS.Stream(ctx, bus.StreamDLQ)
	if n := countDLQ(t, dlq, bus.DLQPrefix+string(bus.ReasonForbidden)); n != 2 {
		t.Errorf("%d forbidden dead letters, want 2 (acme's command and reading)", n)
	}
	if _, err := a.Store.Twin(ctx, "beta-evil"); err == nil {
		t.Error("a twin was created")
	}
}

func countDLQ(t *testing.T, s jetstream.Stream, subj string) int {
	t.Helper()
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subj))
	if err != nil {
		t.Fatal(err)
	}
	// State.Msgs counts the whole stream; the filter fills State.Subjects.
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}
