package devchain_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/devchain"
	"github.com/custos-dev/custos/anchor/embedded"
	"github.com/custos-dev/custos/twin"
)

// TestKillChild is the child of TestSurvivesKill: it anchors one epoch,
// prints READY and waits to be killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv("DEVCHAIN_KILL_DIR")
	if dir == "" {
		t.Skip("child process of TestSurvivesKill")
	}
	ctx := context.Background()
	c, err := devchain.Open(devchain.Config{Dir: filepath.Join(dir, "chain"), Period: 50 * time.Millisecond, Trail: 1000})
	if err != nil {
		t.Fatal(err)
	}
	contract, _, err := anchor.Deploy(ctx, c.Client(), c.DevKey(), nil, c.DevAddress(), c.DevAddress())
	if err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(filepath.Join(dir, "anchors"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := anchor.New(anchor.Config{Backend: c.Client(), Contract: contract, SignerKey: c.DevKey(), Store: st, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go s.Run(ctx)
	d := twin.Keccak256([]byte("d"))
	s.Observe([]anchor.Head{{Twin: "x", Seq: 1, Digest: d}})
	s.Flush()
	for {
		e, err := st.Epoch(ctx, 1)
		if err == nil && e.State == anchor.StateConfirmed {
			fmt.Printf("READY %s %s\n", contract.Hex(), e.Root.Hex())
			os.Stdout.Sync()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range 1200 { // trailing empty blocks keep being sealed; report each head
		fmt.Printf("HEAD %d\n", c.Head())
		os.Stdout.Sync()
		time.Sleep(25 * time.Millisecond)
	}
}

// TestSurvivesKill: anchors made by a dev chain whose process is killed
// with SIGKILL are still on chain when the directory is reopened, and no
// block the child saw sealed is lost.
func TestSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.v")
	cmd.Env = append(os.Environ(), "DEVCHAIN_KILL_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var contract common.Address
	var root common.Hash
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "READY" {
			contract, root = common.HexToAddress(f[1]), common.HexToHash(f[2])
			break
		}
	}
	if root == (common.Hash{}) {
		t.Fatal("child never anchored")
	}
	var seen uint64
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "HEAD" {
			seen, _ = strconv.ParseUint(f[1], 10, 64)
			if seen >= 8 {
				break
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	c, err := devchain.Open(devchain.Config{Dir: filepath.Join(dir, "chain")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Head() < seen {
		t.Fatalf("after SIGKILL the head is block %d; the child had sealed %d", c.Head(), seen)
	}
	signer := crypto.PubkeyToAddress(c.DevKey().PublicKey)
	a, err := anchor.RootOf(context.Background(), c.Client(), contract, signer, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a != twin.Hash(root) {
		t.Fatalf("after SIGKILL the chain holds root %s, want %s (head %d)", a, root.Hex(), c.Head())
	}
}
