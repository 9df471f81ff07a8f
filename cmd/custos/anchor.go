package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/internal/app"
)

// chainFlags are the flags that select the chain anchors go to; `custos
// run` and `custos anchor deploy` share them.
type chainFlags struct {
	enabled                                   *bool
	rpc, listen, keystore, passFile, contract *string
	chainID                                   *int
	interval                                  *time.Duration
	maxLeaves, confirmations                  *int
	feeCap                                    *float64
}

func addChainFlags(fs *flagSet, withRun bool) *chainFlags {
	c := &chainFlags{}
	if withRun {
		c.enabled = fs.Bool("anchor", true, "anchor signed Merkle roots of twin digests to the chain (false: off)")
		c.interval = fs.Duration("anchor-interval", 10*time.Second, "anchor an epoch at least this often")
		c.maxLeaves = fs.Int("anchor-max-leaves", 100000, "anchor an epoch early when this many twins changed")
		c.confirmations = fs.Int("confirmations", 1, "blocks (including its own) before an anchor counts as confirmed")
	}
	c.rpc = fs.String("chain-rpc", "", "JSON-RPC endpoint of the chain (default: the embedded dev chain under --data)")
	c.chainID = fs.Int("chain-id", 0, "expected chain id, checked against the endpoint (Sepolia 11155111, Base Sepolia 84532)")
	c.listen = fs.String("chain-listen", "127.0.0.1:8545", "JSON-RPC address of the embedded dev chain (\"\" for none)")
	c.keystore = fs.String("keystore", "", "go-ethereum keystore file or directory holding the runtime's key (external chains)")
	c.passFile = fs.String("keystore-password-file", "", "file with the keystore passphrase (else $"+app.PassphraseEnv+")")
	c.contract = fs.String("anchor-contract", "", "TwinAnchor contract address (default: the one deployed before; the dev chain deploys one)")
	c.feeCap = fs.Float64("fee-cap-gwei", 500, "highest fee per gas to pay, in gwei")
	return c
}

func (c *chainFlags) config() *app.AnchorConfig {
	if c.enabled != nil && !*c.enabled {
		return nil
	}
	cfg := &app.AnchorConfig{
		ChainRPC: *c.rpc, ChainID: uint64(*c.chainID), ChainListen: *c.listen, Keystore: *c.keystore,
		PassphraseFile: *c.passFile, Contract: *c.contract, FeeCapGwei: *c.feeCap,
	}
	if c.interval != nil {
		cfg.Interval, cfg.MaxLeaves, cfg.Confirmations = *c.interval, *c.maxLeaves, uint64(*c.confirmations)
	}
	return cfg
}

func (fs *flagSet) Float64(name string, def float64, usage string) *float64 {
	v := def
	if s := env(name, ""); s != "" {
		if _, err := fmt.Sscan(s, &v); err != nil {
			fatalf("environment %s: %q is not a number", envName(name), s)
		}
	}
	return fs.FlagSet.Float64(name, v, usage)
}

const anchorUsage = `
custos anchor — the TwinAnchor contract and the state of anchoring.

Usage:
  custos anchor deploy [--chain-rpc URL --keystore K] [--data DIR]
      deploy TwinAnchor to the chain and print its address (recorded under --data for later starts)
  custos anchor status [--api URL]
      epochs anchored, pending twins, unconfirmed epochs and the lag, from a running custos
`

func anchorCmd(args []string) {
	if len(args) == 0 || (args[0] != "deploy" && args[0] != "status") {
		fmt.Fprint(os.Stderr, strings.TrimLeft(anchorUsage, "\n"))
		os.Exit(2)
	}
	sub, args := args[0], args[1:]
	fs := newFlags("anchor "+sub, anchorUsage)
	if sub == "status" {
		base := fs.String("api", "http://127.0.0.1:8080", "base URL of the custos HTTP API")
		fs.parse(args)
		api(*base, "GET", "/v1/anchors", nil)
		return
	}
	data := fs.String("data", "./custos-data", "data directory (the dev chain lives under it; the address is recorded there)")
	cf := addChainFlags(fs, false)
	fs.parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := cf.config()
	cfg.ChainListen = "" // no server needed to deploy
	cc, err := app.OpenChain(ctx, cfg, *data, nil)
	if err != nil {
		fatalf("anchor deploy: %v", err)
	}
	defer cc.Close()
	addr, err := app.DeployContract(ctx, cc, *data, *cf.feeCap)
	if err != nil {
		fatalf("anchor deploy: %v", err)
	}
	fmt.Printf("TwinAnchor deployed on chain %d at %s\n", cc.ChainID, addr.Hex())
}

const verifyUsage = `
custos verify — check a proof bundle against a chain, trusting nothing else.

It recomputes the digest chain from the event and state hashes, the Merkle
leaf and path up to the root, recovers the EIP-712 signer, and asks the chain
whether TwinAnchor holds that root for that signer and epoch, in the stated
transaction and block. It prints each check and exits 1 if any fails.

Usage:
  custos verify proof.json --rpc URL        (a JSON bundle, or a compact binary .proof)
  custos twin proof PAL-1 --seq 4 | custos verify - --rpc URL
`

func verifyCmd(args []string) {
	fs := newFlags("verify", verifyUsage)
	rpc := fs.String("rpc", "http://127.0.0.1:8545", "JSON-RPC endpoint of the chain the proof names")
	pos := fs.positional(args)
	if len(pos) != 1 {
		fs.Usage()
		os.Exit(2)
	}
	in := os.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			fatalf("verify: %v", err)
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, 16<<20))
	if err != nil {
		fatalf("verify: %v", err)
	}
	var b *anchor.Bundle
	if anchor.IsCompact(data) {
		b, err = anchor.ReadCompact(data)
	} else {
		b, err = anchor.ReadBundle(bytes.NewReader(data))
	}
	if err != nil {
		fatalf("verify: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := ethclient.DialContext(ctx, *rpc)
	if err != nil {
		fatalf("verify: %s: %v", *rpc, err)
	}
	defer cl.Close()
	rep, err := anchor.Verify(ctx, cl, b)
	if err != nil {
		fatalf("verify: %v", err)
	}
	fmt.Println(rep.String())
	if !rep.OK() {
		os.Exit(1)
	}
}
