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
		const twins = 300
		for i := 0; i < twins; i++ {
			if _, err := js.Publish(ctx, fmt.Sprintf("custos.telemetry.twin-%d_x", i), []byte("{}")); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[int]bool{}
		for seq := uint64(1); seq <= twins; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			tok := strings.Split(m.Subject, ".")
			if len(tok) != 4 {
				t.Fatalf("stored subject %q: want custos.telemetry.<p>.<twin>", m.Subject)
			}
			p, _ := strconv.Atoi(tok[2])
			if want := cluster.PartitionOf(tok[3], n); p != want {
				t.Errorf("n=%d: server put %s in partition %d, PartitionOf says %d", n, tok[3], p, want)
			}
			if f := cluster.PartitionFilter(p); !matches(f, m.Subject) {
				t.Errorf("filter %s does not match %s", f, m.Subject)
			}
			seen[p] = true
		}
		if len(seen) != n {
			t.Errorf("n=%d: %d twins landed in %d partitions", n, twins, len(seen))
		}
		if err := js.DeleteStream(ctx, name); err != nil {
			t.Fatal(err)
		}
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
