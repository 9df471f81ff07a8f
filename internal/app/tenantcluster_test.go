package app_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/app"
	"github.com/custos-dev/custos/internal/bus"
	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/internal/natsrv"
	"github.com/custos-dev/custos/twin"
)

// TestTenantInputInCluster: in cluster mode (embedded NATS, partitioned
// input) a tenant's device publishes custos.telemetry.<twin> as in a single
// node; its input is stored in its twin's partition
// (custos.tenant.<t>.telemetry.<p>.<twin>), the partition's consumer
// applies it, the tenant's dashboard gets the state, and input for another
// tenant's twin is dead-lettered as forbidden.
func TestTenantInputInCluster(t *testing.T) {
	const partitions = 4
	acmeDev, acmeDash := newNATSUser(t, natsrv.RoleDevice, "acme"), newNATSUser(t, natsrv.RoleDashboard, "acme")
	a := startWith(t, t.TempDir(), func(c *app.Config) {
		c.Store = pgSchemaURL(t)
		c.Cluster = &app.ClusterConfig{Node: "n1", Partitions: partitions, LeaseTTL: 2 * time.Second}
		c.Users = []natsrv.User{acmeDev.User, acmeDash.User}
	})
	defer a.Close()
	deadline := time.Now().Add(30 * time.Second)
	for !partitionsSettled([]*app.App{a}, partitions) {
		if time.Now().After(deadline) {
			t.Fatal("the node does not own every partition")
		}
		time.Sleep(20 * time.Millisecond)
	}
	createTwin(t, a, "acme-1", `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`)
	createTwin(t, a, "beta-1", `{"min_c":2,"max_c":8,"excursion_budget_s":1800}`)
	ctx := context.Background()

	dev, err := connectAs(t, a, &acmeDev)
	if err != nil {
		t.Fatal(err)
	}
	dash, err := connectAs(t, a, &acmeDash)
	if err != nil {
		t.Fatal(err)
	}
	states, err := dash.SubscribeSync("custos.twin.*.state")
	if err != nil {
		t.Fatal(err)
	}
	dash.Flush()
	djs, _ := jetstream.New(dev)
	ack := publish(t, djs, bus.TelemetryPrefix+"acme-1", reading("2026-11-25T10:00:00Z", 5))
	publish(t, djs, bus.TelemetryPrefix+"beta-1", reading("2026-11-25T10:00:00Z", 30))

	tw := waitTwin(t, a, "acme-1", func(tw *twin.Twin) bool { return tw.Seq == 2 })
	if tw.Status == twin.StatusCompromised {
		t.Errorf("acme-1: %s", tw.Status)
	}
	_, adminJS := client(t, a)
	in, err := adminJS.Stream(ctx, bus.StreamInput)
	if err != nil {
		t.Fatal(err)
	}
	m, err := in.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	want := "custos.tenant.acme.telemetry." + strconv.Itoa(cluster.PartitionOf("acme-1", partitions)) + ".acme-1"
	if m.Subject != want {
		t.Errorf("stored as %s, want %s", m.Subject, want)
	}
	msg, err := states.NextMsg(5 * time.Second)
	if err != nil || msg.Subject != "custos.twin.acme-1.state" || !strings.Contains(string(msg.Data), `"seq":2`) {
		t.Fatalf("acme dashboard: %v %v", msg, err)
	}

	dlq, err := adminJS.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); countDLQ(t, dlq, bus.DLQPrefix+string(bus.ReasonForbidden)) != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d forbidden dead letters, want 1 (acme's reading for beta-1)", countDLQ(t, dlq, bus.DLQPrefix+string(bus.ReasonForbidden)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if tw, err := a.Store.Twin(ctx, "beta-1"); err != nil || tw.Seq != 1 {
		t.Errorf("beta-1: %+v, %v: want only its creation", tw, err)
	}
}
