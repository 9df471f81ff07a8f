package clustertest

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/devchain"
	"github.com/custos-dev/custos/internal/app"
)

// DevChain starts an embedded dev chain (serving JSON-RPC on listen, if
// not empty) with a TwinAnchor deployed and owned by its dev key, which is
// also the authorised signer; the chain is closed at the end of the test.
func DevChain(t testing.TB, listen string) (*devchain.Chain, common.Address) {
	t.Helper()
	dev, err := devchain.Open(devchain.Config{Dir: t.TempDir(), Listen: listen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	cc := &app.ChainConn{Backend: dev.Client(), Client: dev.Client(), Dev: dev, ChainID: devchain.ChainID, Key: dev.DevKey()}
	contract, err := app.DeployContract(context.Background(), cc, t.TempDir(), 0, common.Address{})
	if err != nil {
		t.Fatal(err)
	}
	return dev, contract
}

// Anchoring prepares anchoring for a cluster: a dev chain serving JSON-RPC
// on a loopback port with TwinAnchor deployed, its dev key in a keystore
// (passphrase in the environment the nodes inherit). It returns the flags
// that make every node anchor to it (Options.Args), the chain, and the pin
// an auditor verifies proofs with.
func Anchoring(t *testing.T) ([]string, *devchain.Chain, anchor.Pin) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rpc := ln.Addr().String()
	ln.Close()
	dev, contract := DevChain(t, rpc)
	ks := keystore.NewKeyStore(filepath.Join(t.TempDir(), "keys"), keystore.LightScryptN, keystore.LightScryptP)
	acct, err := ks.ImportECDSA(dev.DevKey(), "cluster-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(app.PassphraseEnv, "cluster-test")
	args := []string{"--anchor=true", "--chain-rpc", "http://" + rpc, "--keystore", acct.URL.Path,
		"--anchor-contract", contract.Hex(), "--anchor-interval", "300ms"}
	return args, dev, anchor.Pin{Operator: dev.DevAddress(), Contract: contract, ChainID: devchain.ChainID}
}
