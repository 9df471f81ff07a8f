package bench

import (
	"context"
	"regexp"
	"testing"
)

func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three NATS servers and two runtimes")
	}
	res, err := Run(context.Background(), Config{Dir: t.TempDir(), Twins: 20, Messages: 2000, BatchedMessages: 100, BatchReadings: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Raw <= 0 || res.Single <= 0 || res.Batched <= 0 || res.Ratio != res.Single/res.Raw {
		t.Fatalf("result = %+v", res)
	}
	if !regexp.MustCompile(`^custos-bench: raw=\d+ single=\d+ ratio=\d+\.\d\d batched=\d+$`).MatchString(res.Summary()) {
		t.Fatalf("summary line %q", res.Summary())
	}
}
