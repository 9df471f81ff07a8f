package clustertest

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/common"

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
