package clustertest_test

import (
	"os"
	"testing"
	"time"

	"github.com/custos-dev/custos/internal/cluster/clustertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	clustertest.Cleanup()
	os.Exit(code)
}

// TestClusterKillNode: kill -9 one custos node mid-stream; its partitions
// move to the others and every reading is applied exactly once.
func TestClusterKillNode(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	_, js := c.Connect()
	w := clustertest.NewWorkload(40, 6000)
	half := len(w.Msgs) / 2
	c.Publish(js, w, 0, half, time.Second)
	c.Nodes[1].Kill()
	t.Logf("killed %s mid-stream", c.Nodes[1].ID)
	c.Publish(js, w, half, len(w.Msgs), time.Second)
	c.WaitOwned(30 * time.Second)
	c.Verify(js, w, 60*time.Second)
}
