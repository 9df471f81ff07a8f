package cluster_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos/internal/cluster"
	"github.com/custos-dev/custos/internal/cluster/natstest"
)

// TestClusterPartitionOfMatchesServer publishes to custos.telemetry.<twin>
// on a stream with the input transform and checks that the server stored
// every twin in the partition PartitionOf gives.
func TestClusterPartitionOfMatchesServer(t *testing.T) {
	nc, _ := natstest.Single(t)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	for _, n := range []int{1, 7, 16} {
		src, dest := cluster.InputTransform(n)
		name := "P" + strconv.Itoa(n)
		st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"custos.telemetry.*"},
			SubjectTransform: &jetstream.SubjectTransformConfig{Source: src, Destination: dest}})
		if err != nil {
			t.Fatal(err)
		}
		checkPartitions(t, js, st, n, "custos.telemetry.twin-%d_x", "custos.telemetry.", cluster.PartitionFilter)
		if err := js.DeleteStream(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
}

// checkPartitions publishes 300 twins' subjects (format with the twin
// number) and checks that each is stored as prefix<p>.<twin> with p what
// PartitionOf gives, matched by filter(p), and that every partition of n
// got some.
func checkPartitions(t *testing.T, js jetstream.JetStream, st jetstream.Stream, n int, format, prefix string, filter func(int) string) {
	t.Helper()
	ctx := context.Background()
	const twins = 300
	for i := 0; i < twins; i++ {
		if _, err := js.Publish(ctx, fmt.Sprintf(format, i), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int]bool{}
	for seq := uint64(1); seq <= twins; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(m.Subject, prefix)
		ps, id, ok2 := strings.Cut(rest, ".")
		p, err := strconv.Atoi(ps)
		if !ok || !ok2 || err != nil || strings.Contains(id, ".") {
			t.Fatalf("stored subject %q: want %s<p>.<twin>", m.Subject, prefix)
		}
		if want := cluster.PartitionOf(id, n); p != want {
			t.Errorf("n=%d: server put %s in partition %d, PartitionOf says %d", n, id, p, want)
		}
		if f := filter(p); !matches(f, m.Subject) {
			t.Errorf("filter %s does not match %s", f, m.Subject)
		}
		seen[p] = true
	}
	if len(seen) != n {
		t.Errorf("n=%d: %d twins landed in %d partitions", n, twins, len(seen))
	}
}

func matches(filter, subj string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subj, ".")
	if len(f) != len(s) {
		return false
	}
	for i := range f {
		if f[i] != "*" && f[i] != s[i] {
			return false
		}
	}
	return true
}

// TestClusterTenantMappingMatchesServer: a tenant's input, mapped in
// custos's account by TenantInputMapping, is stored in the partition
// PartitionOf gives, under a subject TenantPartitionFilter matches.
func TestClusterTenantMappingMatchesServer(t *testing.T) {
	nc, srv := natstest.Single(t)
	js, _ := jetstream.New(nc)
	const n = 7
	src, dest := cluster.TenantInputMapping(n, "telemetry")
	if err := srv.GlobalAccount().AddMapping(src, dest); err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "T", Subjects: []string{"custos.tenant.*.telemetry.*.*"}})
	if err != nil {
		t.Fatal(err)
	}
	checkPartitions(t, js, st, n, "custos.tenant.acme.telemetry.acme-%d_x", "custos.tenant.acme.telemetry.", cluster.TenantPartitionFilter)
}
