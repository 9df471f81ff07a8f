package anchor

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/custos-dev/custos/anchor/internal/simchain"
	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/twin"
)

type simChain struct{ *simchain.Chain }

func newSimChain(t testing.TB) *simChain { return &simChain{simchain.New(t)} }

func (c *simChain) domain() Domain { return Domain{ChainID: c.ChainID, Contract: c.Contract} }

// sendAnchor sends TwinAnchor.anchor directly from the funded key.
func (c *simChain) sendAnchor(t testing.TB, epoch uint64, root twin.Hash, count uint32, sig []byte) *types.Receipt {
	t.Helper()
	ctx := context.Background()
	nonce, err := c.Client.PendingNonceAt(ctx, c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	r, vs := splitSig(sig)
	data := abiTwinAnchor.PackAnchor(epoch, root, count, r, vs)
	gas, err := c.Client.EstimateGas(ctx, ethereum.CallMsg{From: c.Addr, To: &c.Contract, Data: data})
	if err != nil {
		gas = 1_000_000 // reverts; send anyway to observe the failed receipt
	}
	tx := c.Sign(t, &types.DynamicFeeTx{Nonce: nonce, Gas: gas * 6 / 5, To: &c.Contract, Data: data})
	if err := c.Client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	c.Commit()
	rc, err := c.Client.TransactionReceipt(ctx, tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// TestEIP712MatchesGoEthereumAndContract checks the digest against
// go-ethereum's apitypes implementation and the contract's hashAnchor.
func TestEIP712MatchesGoEthereumAndContract(t *testing.T) {
	c := newSimChain(t)
	root := twin.Keccak256([]byte("root"))
	d := c.domain()
	got := d.AnchorDigest(7, root, 1000)

	td := apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {{Name: "name", Type: "string"}, {Name: "version", Type: "string"}, {Name: "chainId", Type: "uint256"}, {Name: "verifyingContract", Type: "address"}},
			"Anchor":       {{Name: "epoch", Type: "uint64"}, {Name: "root", Type: "bytes32"}, {Name: "count", Type: "uint32"}},
		},
		PrimaryType: "Anchor",
		Domain:      apitypes.TypedDataDomain{Name: "custos", Version: "1", ChainId: (*math.HexOrDecimal256)(c.ChainID), VerifyingContract: c.Contract.Hex()},
		Message:     apitypes.TypedDataMessage{"epoch": "7", "root": root.String(), "count": "1000"},
	}
	want, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		t.Fatal(err)
	}
	if common.BytesToHash(want) != common.Hash(got) {
		t.Fatalf("digest %s, apitypes %x", got, want)
	}
	out, err := c.Client.CallContract(context.Background(), ethereum.CallMsg{To: &c.Contract, Data: abiTwinAnchor.PackHashAnchor(7, root, 1000)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	onchain, _ := abiTwinAnchor.UnpackHashAnchor(out)
	if twin.Hash(onchain) != got {
		t.Fatalf("digest %s, contract %x", got, onchain)
	}
}

// TestContractAnchor anchors a signed root relayed by another wallet,
// checks the contract recovered the signer, refuses duplicates and bad
// signatures, verifies a leaf on chain, and measures gas per anchor for
// trees of different sizes.
func TestContractAnchor(t *testing.T) {
	c := newSimChain(t)
	ctx := context.Background()
	runtimeKey, _ := crypto.GenerateKey() // signs; holds no ether
	signer := crypto.PubkeyToAddress(runtimeKey.PublicKey)
	c.Authorize(t, signer)

	var gas []uint64
	for i, n := range []int{1, 1, 1000, 100_000} {
		epoch := uint64(i + 1)
		ls := make([]merkle.Leaf, n)
		for j := range ls {
			ls[j] = merkle.Leaf{Twin: "pallet-" + string(rune('a'+j%26)) + big.NewInt(int64(j)).String(), Seq: uint64(j + 1), Digest: twin.Keccak256(big.NewInt(int64(j)).Bytes())}
		}
		tr := merkle.Build(ls)
		sig, err := SignAnchor(runtimeKey, c.domain(), epoch, tr.Root(), uint32(n))
		if err != nil {
			t.Fatal(err)
		}
		rc := c.sendAnchor(t, epoch, tr.Root(), uint32(n), sig)
		if rc.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("epoch %d: anchor reverted", epoch)
		}
		gas = append(gas, rc.GasUsed)
		a, err := RootOf(ctx, c.Client, c.Contract, signer, epoch)
		if err != nil {
			t.Fatal(err)
		}
		if a != tr.Root() {
			t.Fatalf("rootOf = %s", a)
		}
		if len(rc.Logs) != 1 {
			t.Fatalf("%d logs", len(rc.Logs))
		}
		if ev, err := abiTwinAnchor.UnpackAnchoredEvent(rc.Logs[0]); err != nil || ev.Signer != signer || ev.Epoch != epoch || twin.Hash(ev.Root) != tr.Root() || ev.Count != uint32(n) {
			t.Fatalf("Anchored event %+v %v", ev, err)
		}
		l := ls[n/2]
		path, _ := tr.Proof(l.Hash())
		p32 := make([][32]byte, len(path))
		for k := range path {
			p32[k] = path[k]
		}
		out, err := c.Client.CallContract(ctx, ethereum.CallMsg{To: &c.Contract, Data: abiTwinAnchor.PackVerifyLeaf(signer, epoch, l.Twin, l.Seq, l.Digest, p32)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := abiTwinAnchor.UnpackVerifyLeaf(out); !ok {
			t.Fatalf("epoch %d: contract rejects a valid leaf proof", epoch)
		}
		bad := merkle.Leaf{Twin: l.Twin, Seq: l.Seq + 1, Digest: l.Digest}
		out, _ = c.Client.CallContract(ctx, ethereum.CallMsg{To: &c.Contract, Data: abiTwinAnchor.PackVerifyLeaf(signer, epoch, bad.Twin, bad.Seq, bad.Digest, p32)}, nil)
		if ok, _ := abiTwinAnchor.UnpackVerifyLeaf(out); ok {
			t.Fatalf("epoch %d: contract accepts a tampered leaf", epoch)
		}
	}
	// Every anchor writes one fresh slot: the first costs the same as the
	// rest, and the cost does not depend on the number of leaves (only zero
	// bytes in the calldata can shift it by a few gas).
	t.Logf("gas per anchor, 1, 1, 1000, 100000 leaves: %v", gas)
	for _, g := range gas {
		if d := int64(g) - int64(gas[1]); d > 200 || d < -200 {
			t.Fatalf("gas not constant in leaves: %v", gas)
		}
		if g > MaxAnchorGas {
			t.Fatalf("anchor costs %d gas, above the %d budget", g, MaxAnchorGas)
		}
	}

	// Duplicate epoch, bad signature, wrong signer's epoch: all revert.
	root := twin.Keccak256([]byte("other"))
	sig, _ := SignAnchor(runtimeKey, c.domain(), 1, root, 1)
	if rc := c.sendAnchor(t, 1, root, 1, sig); rc.Status != types.ReceiptStatusFailed {
		t.Fatal("second root for the same epoch accepted")
	}
	sig[10] ^= 0xff
	if rc := c.sendAnchor(t, 9, root, 1, sig); rc.Status == types.ReceiptStatusSuccessful {
		a, _ := RootOf(ctx, c.Client, c.Contract, signer, 9)
		if !a.IsZero() {
			t.Fatal("tampered signature anchored for the real signer")
		}
	}
	otherDomain := Domain{ChainID: big.NewInt(1), Contract: c.Contract}
	sig, _ = SignAnchor(runtimeKey, otherDomain, 10, root, 1)
	c.sendAnchor(t, 10, root, 1, sig)
	if a, _ := RootOf(ctx, c.Client, c.Contract, signer, 10); !a.IsZero() {
		t.Fatal("signature for another chain id anchored for the signer")
	}
	if _, _, err := FindAnchoredLog(ctx, c.Client, c.Contract, signer, 2, 0, 0); err != nil {
		t.Fatalf("anchored log: %v", err)
	}
}
