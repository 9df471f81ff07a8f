package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
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
custos anchor — the TwinAnchor contract, its operator's keys, and the state of anchoring.

The operator (TwinAnchor's owner: a cold key or a multisig) authorises the
runtime keys that sign anchors; auditors pin the operator's address.

Usage:
  custos anchor deploy [--operator ADDR] [--chain-rpc URL --keystore K] [--data DIR]
      deploy TwinAnchor owned by --operator (default: the runtime key) with the runtime
      key authorised to sign; print its address (recorded under --data for later starts)
  custos anchor authorize --signer ADDR [--from-epoch N] [--until-epoch M] --owner-keystore K [chain flags]
      let a runtime key anchor epochs N <= epoch < M (default: all)
  custos anchor revoke --signer ADDR --owner-keystore K [chain flags]
      stop a key from anchoring from now on; its earlier anchors stay valid
  custos anchor rotate --old ADDR --new ADDR --from-epoch N --owner-keystore K [chain flags]
      hand over at epoch N: the old key may anchor only earlier epochs, the new one from N on
      (then restart custos with the new --keystore; epochs signed but not sent are re-signed)
  custos anchor key --signer ADDR [chain flags]
      print a key's authorisation and the contract's operator
  custos anchor status [--api URL]
      operator, contract, epochs anchored, pending twins, unconfirmed and re-anchoring epochs,
      the last re-check of confirmed epochs, from a running custos
`

func anchorCmd(args []string) {
	subs := []string{"deploy", "authorize", "revoke", "rotate", "key", "status"}
	if len(args) == 0 || !slices.Contains(subs, args[0]) {
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
	var operator, signer, oldKey, newKey, ownerKS *string
	var fromEpoch, untilEpoch *string
	switch sub {
	case "deploy":
		operator = fs.String("operator", "", "the operator's address (owner of TwinAnchor: a cold key or multisig); default the runtime key")
	case "authorize", "revoke", "key":
		signer = fs.String("signer", "", "the runtime key's address")
	case "rotate":
		oldKey = fs.String("old", "", "the runtime key handing over")
		newKey = fs.String("new", "", "the runtime key taking over")
	}
	if sub == "authorize" || sub == "rotate" {
		fromEpoch = fs.String("from-epoch", "0", "first epoch the (new) key may anchor")
	}
	if sub == "authorize" {
		untilEpoch = fs.String("until-epoch", "", "first epoch the key may no longer anchor (default: no end)")
	}
	if sub != "deploy" && sub != "key" {
		ownerKS = fs.String("owner-keystore", "", "keystore file of the operator's key (or the dev chain's devkey file); passphrase from --keystore-password-file or $"+app.PassphraseEnv)
	}
	fs.parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := cf.config()
	cfg.ChainListen = "" // no server needed
	if sub == "deploy" {
		cfg.Operator = *operator
		cc, err := app.OpenChain(ctx, cfg, *data, nil)
		if err != nil {
			fatalf("anchor deploy: %v", err)
		}
		defer cc.Close()
		addr, err := app.DeployContract(ctx, cc, *data, *cf.feeCap, addrFlag("operator", *operator, false))
		if err != nil {
			fatalf("anchor deploy: %v", err)
		}
		owner, _ := anchor.Owner(ctx, cc.Backend, addr)
		fmt.Printf("TwinAnchor deployed on chain %d at %s\noperator (pin this): %s\nauthorised signer: %s\n", cc.ChainID, addr.Hex(), owner.Hex(), crypto.PubkeyToAddress(cc.Key.PublicKey).Hex())
		return
	}
	cc, contract, err := app.OpenContract(ctx, cfg, *data)
	if err != nil {
		fatalf("anchor %s: %v", sub, err)
	}
	defer cc.Close()
	if sub == "key" {
		who := addrFlag("signer", *signer, true)
		k, err := anchor.KeyOf(ctx, cc.Backend, contract, who)
		if err != nil {
			fatalf("anchor key: %v", err)
		}
		owner, err := anchor.Owner(ctx, cc.Backend, contract)
		if err != nil {
			fatalf("anchor key: %v", err)
		}
		fmt.Printf("contract %s on chain %d, operator %s\nsigner %s: %s\n", contract.Hex(), cc.ChainID, owner.Hex(), who.Hex(), k)
		return
	}
	if *ownerKS == "" {
		fatalf("anchor %s: --owner-keystore is required (the operator's key signs owner operations)", sub)
	}
	ownerKey, err := app.LoadOwnerKey(*ownerKS, *cf.passFile)
	if err != nil {
		fatalf("anchor %s: %v", sub, err)
	}
	fee := app.FeeCap(*cf.feeCap)
	switch sub {
	case "authorize":
		until := uint64(math.MaxUint64)
		if *untilEpoch != "" {
			until = epochFlag("until-epoch", *untilEpoch)
		}
		_, err = anchor.Authorize(ctx, cc.Backend, ownerKey, contract, addrFlag("signer", *signer, true), epochFlag("from-epoch", *fromEpoch), until, fee)
	case "revoke":
		_, err = anchor.Revoke(ctx, cc.Backend, ownerKey, contract, addrFlag("signer", *signer, true), fee)
	case "rotate":
		_, err = anchor.Rotate(ctx, cc.Backend, ownerKey, contract, addrFlag("old", *oldKey, true), addrFlag("new", *newKey, true), epochFlag("from-epoch", *fromEpoch), fee)
	}
	if err != nil {
		fatalf("anchor %s: %v", sub, err)
	}
	fmt.Printf("anchor %s: done (contract %s, chain %d)\n", sub, contract.Hex(), cc.ChainID)
}

func addrFlag(name, v string, required bool) common.Address {
	if v == "" && !required {
		return common.Address{}
	}
	if !common.IsHexAddress(v) {
		fatalf("--%s %q is not an address", name, v)
	}
	return common.HexToAddress(v)
}

func epochFlag(name, v string) uint64 {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		fatalf("--%s %q is not an epoch number", name, v)
	}
	return n
}

const verifyUsage = `
custos verify — check a proof bundle against a chain, trusting nothing else.

It recomputes the digest chain from the event and state hashes, the Merkle
leaf and path up to the root, recovers the EIP-712 signer, checks that the
bundle names the identity you pinned, and asks the chain whether TwinAnchor
is owned by that operator, whether the operator authorised the signer for
the epoch, and whether the contract holds that root in the stated
transaction. It prints each check and exits 1 if any fails.

You must pin who vouches (get it out of band from the operator; the bundle's
own claims are never trusted): --operator ADDR (or --signer ADDR for a
single-key setup), --contract ADDR and --chain-id N.

Usage:
  custos verify proof.json --rpc URL --operator 0x… --contract 0x… --chain-id N
  custos twin proof PAL-1 --seq 4 | custos verify - --rpc URL --operator 0x… --contract 0x… --chain-id 1337
`

func verifyCmd(args []string) {
	fs := newFlags("verify", verifyUsage)
	rpc := fs.String("rpc", "http://127.0.0.1:8545", "JSON-RPC endpoint of the chain the proof names")
	operator := fs.String("operator", "", "pinned operator address (TwinAnchor's owner)")
	signer := fs.String("signer", "", "pinned signer address (single-key setups, instead of --operator)")
	contract := fs.String("contract", "", "pinned TwinAnchor address")
	chainID := fs.Int("chain-id", 0, "pinned chain id")
	wait := fs.Duration("wait", 0, "keep checking this long while the chain does not confirm the anchor yet (e.g. it is being re-anchored)")
	pos := fs.positional(args)
	if len(pos) != 1 {
		fs.Usage()
		os.Exit(2)
	}
	pin := anchor.Pin{Operator: addrFlag("operator", *operator, false), Signer: addrFlag("signer", *signer, false),
		Contract: addrFlag("contract", *contract, false), ChainID: uint64(max(*chainID, 0))}
	if err := pin.Validate(); err != nil {
		fatalf("verify: %v", err)
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+*wait)
	defer cancel()
	cl, err := ethclient.DialContext(ctx, *rpc)
	if err != nil {
		fatalf("verify: %s: %v", *rpc, err)
	}
	defer cl.Close()
	deadline := time.Now().Add(*wait)
	for {
		rep, err := anchor.Verify(ctx, cl, b, pin)
		if err != nil && time.Now().Before(deadline) {
			fmt.Fprintf(os.Stderr, "verify: %v; waiting (--wait)\n", err) // the endpoint may be restarting
			time.Sleep(2 * time.Second)
			continue
		}
		if err != nil {
			fatalf("verify: %v", err)
		}
		if rep.OK() {
			fmt.Println(rep.String())
			return
		}
		if f := rep.Failed(); time.Now().After(deadline) || !retryable(f.Name) {
			fmt.Println(rep.String())
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "verify: %s: %s; waiting (--wait)\n", rep.Failed().Name, rep.Failed().Detail)
		time.Sleep(2 * time.Second)
	}
}

// retryable: checks that re-anchoring can turn from failed to passed.
func retryable(check string) bool {
	return check == anchor.CheckContractRoot || check == anchor.CheckTransaction || check == anchor.CheckConfirmations
}
