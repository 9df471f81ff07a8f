package anchor

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/twin"
)

// BundleFormat identifies the proof bundle format (docs/proofs.md).
const BundleFormat = "custos-proof/1"

// Bundle proves that a twin's digest at seq is committed by a root anchored
// on chain. Its JSON form is documented in docs/proofs.md.
type Bundle struct {
	Format string `json:"format"`
	Twin   string `json:"twin"`
	Seq    uint64 `json:"seq"`
	// Digest is the digest at Seq (the claim being proved).
	Digest twin.Hash `json:"digest"`
	// Prev is the digest at Seq-1 (zero for seq 1): the start of the links.
	Prev twin.Hash `json:"prev_digest"`
	// Event is the canonical encoding of the event at Seq, when known; its
	// keccak256 must equal Links[0].EventHash.
	Event hexutil.Bytes `json:"event,omitempty"`
	// Links are the digest-chain records from Seq up to the anchored leaf's
	// seq, in order.
	Links []Link `json:"links"`
	// LeafHash is the Merkle leaf of (Twin, last link seq, last link digest).
	LeafHash twin.Hash   `json:"leaf"`
	Path     []twin.Hash `json:"path"`
	Root     twin.Hash   `json:"root"`
	Epoch    uint64      `json:"epoch"`
	Count    uint32      `json:"count"`

	Signature hexutil.Bytes  `json:"signature"`
	Signer    common.Address `json:"signer"`
	ChainID   uint64         `json:"chain_id"`
	Contract  common.Address `json:"contract"`
	Tx        common.Hash    `json:"tx"`
	Block     uint64         `json:"block"`
}

// Link is one record in the digest chain:
// digest = keccak256(prev ‖ twin ‖ uint64be(seq) ‖ event_hash ‖ state_hash ‖ module),
// with ‖ failure appended for a failure record (twin.NextFailureDigest).
type Link struct {
	Seq       uint64    `json:"seq"`
	EventHash twin.Hash `json:"event_hash"`
	StateHash twin.Hash `json:"state_hash"`
	Module    twin.Hash `json:"module"`
	Failure   string    `json:"failure,omitempty"` // failure kind of a failure record
	Digest    twin.Hash `json:"digest"`
}

// Check is one verification step.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the outcome of verifying a bundle: every check, in order.
type Report struct {
	Checks []Check `json:"checks"`
}

// OK reports whether every check passed.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Checks) > 0
}

// Failed returns the first failed check, or nil.
func (r *Report) Failed() *Check {
	for i := range r.Checks {
		if !r.Checks[i].OK {
			return &r.Checks[i]
		}
	}
	return nil
}

// Err returns nil if every check passed, else an error wrapping
// ErrProofInvalid that names the first failed check.
func (r *Report) Err() error {
	if c := r.Failed(); c != nil {
		return fmt.Errorf("%w: %s: %s", ErrProofInvalid, c.Name, c.Detail)
	}
	return nil
}

// String renders the report one check per line.
func (r *Report) String() string {
	var b strings.Builder
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %-14s %s\n", mark, c.Name, c.Detail)
	}
	return b.String()
}

func (r *Report) add(name string, ok bool, format string, args ...any) bool {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	return ok
}

// Check names, in the order they run.
const (
	CheckFormat        = "format"
	CheckEvent         = "event"
	CheckDigestChain   = "digest-chain"
	CheckLeaf          = "leaf"
	CheckMerkle        = "merkle"
	CheckSignature     = "signature"
	CheckChainID       = "chain-id"
	CheckContractRoot  = "contract-root"
	CheckTransaction   = "transaction"
	CheckConfirmations = "confirmations"
)

// VerifyOffline runs the checks that need no chain: the digest chain from
// the event and state hashes to the leaf, the leaf hash, the Merkle path to
// the root, and the EIP-712 signature by the signer.
func VerifyOffline(b *Bundle) *Report {
	r := &Report{}
	if !r.add(CheckFormat, b.Format == BundleFormat && twin.ValidID(b.Twin) && len(b.Links) > 0 && b.Links[0].Seq == b.Seq && b.Seq > 0,
		"format %q, twin %q, seq %d, %d links", b.Format, b.Twin, b.Seq, len(b.Links)) {
		return r
	}
	if len(b.Event) > 0 {
		h := twin.Keccak256(b.Event)
		r.add(CheckEvent, h == b.Links[0].EventHash, "keccak256(event) %s, event_hash %s", h, b.Links[0].EventHash)
	}
	// Digest chain: recompute every link forward from prev_digest.
	hs := twin.NewHasher()
	prev := b.Prev
	chainOK := true
	for i, l := range b.Links {
		if i > 0 && l.Seq != b.Links[i-1].Seq+1 {
			chainOK = r.add(CheckDigestChain, false, "link %d has seq %d after seq %d", i, l.Seq, b.Links[i-1].Seq)
			break
		}
		d := hs.NextFailure(prev, b.Twin, l.Seq, l.EventHash, l.StateHash, l.Module, l.Failure)
		if d != l.Digest {
			chainOK = r.add(CheckDigestChain, false, "seq %d: recomputed digest %s, bundle says %s", l.Seq, d, l.Digest)
			break
		}
		prev = d
	}
	if chainOK {
		if b.Digest != b.Links[0].Digest {
			r.add(CheckDigestChain, false, "digest %s is not the digest of seq %d (%s)", b.Digest, b.Seq, b.Links[0].Digest)
		} else {
			last := b.Links[len(b.Links)-1]
			r.add(CheckDigestChain, true, "seq %d..%d recomputed from event and state hashes", b.Seq, last.Seq)
		}
	}
	last := b.Links[len(b.Links)-1]
	leaf := merkle.LeafHash(b.Twin, last.Seq, prev)
	r.add(CheckLeaf, leaf == b.LeafHash, "leaf(%s, %d, %s) = %s, bundle says %s", b.Twin, last.Seq, prev, leaf, b.LeafHash)
	root := merkle.ProcessProof(leaf, b.Path)
	r.add(CheckMerkle, root == b.Root, "path of %d hashes leads to %s, bundle root %s", len(b.Path), root, b.Root)
	d := Domain{ChainID: new(big.Int).SetUint64(b.ChainID), Contract: b.Contract}
	if err := lowS(b.Signature); err != nil {
		r.add(CheckSignature, false, "%v", err)
	} else if who, err := RecoverAnchorSigner(d, b.Epoch, b.Root, b.Count, b.Signature); err != nil {
		r.add(CheckSignature, false, "%v", err)
	} else {
		r.add(CheckSignature, who == b.Signer, "EIP-712 Anchor(epoch %d, root, count %d) on chain %d, contract %s recovers %s, signer %s",
			b.Epoch, b.Count, b.ChainID, b.Contract, who, b.Signer)
	}
	return r
}

func lowS(sig []byte) error {
	if len(sig) != 65 {
		return fmt.Errorf("signature has %d bytes, want 65", len(sig))
	}
	v := sig[64]
	if v >= 27 {
		v -= 27
	}
	if !crypto.ValidateSignatureValues(v, new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64]), true) {
		return errors.New("signature values out of range (v, r, or high s)")
	}
	return nil
}

// Verify runs VerifyOffline and then checks the bundle against the chain
// behind b: the chain id, the root stored by TwinAnchor for (signer, epoch),
// the anchoring transaction's receipt and event, and the number of
// confirmations. It returns an error only when the chain cannot be asked;
// verification failures are in the report.
func Verify(ctx context.Context, bk Backend, b *Bundle) (*Report, error) {
	r := VerifyOffline(b)
	if len(r.Checks) == 1 && !r.OK() {
		return r, nil
	}
	id, err := bk.ChainID(ctx)
	if err != nil {
		return r, fmt.Errorf("verify: chain id: %w", err)
	}
	if !r.add(CheckChainID, id.Uint64() == b.ChainID, "endpoint chain id %d, bundle %d", id, b.ChainID) {
		return r, nil
	}
	a, err := RootOf(ctx, bk, b.Contract, b.Signer, b.Epoch)
	if err != nil {
		r.add(CheckContractRoot, false, "contract %s: %v", b.Contract, err)
		return r, nil
	}
	switch {
	case a.Root.IsZero():
		r.add(CheckContractRoot, false, "contract %s holds no root for signer %s epoch %d", b.Contract, b.Signer, b.Epoch)
	case a.Root != b.Root || a.Count != b.Count:
		r.add(CheckContractRoot, false, "contract root %s count %d for epoch %d; bundle root %s count %d", a.Root, a.Count, b.Epoch, b.Root, b.Count)
	default:
		r.add(CheckContractRoot, true, "contract %s stores root %s for signer %s epoch %d (block %d)", b.Contract, a.Root, b.Signer, b.Epoch, a.BlockNumber)
	}
	rc, err := bk.TransactionReceipt(ctx, b.Tx)
	switch {
	case errors.Is(err, ethereum.NotFound) || (err == nil && rc == nil):
		r.add(CheckTransaction, false, "transaction %s not found", b.Tx)
	case err != nil:
		return r, fmt.Errorf("verify: receipt: %w", err)
	default:
		r.add(CheckTransaction, txAnchors(rc, b), "transaction %s in block %d (bundle block %d), status %d", b.Tx, rc.BlockNumber, b.Block, rc.Status)
		head, err := bk.BlockNumber(ctx)
		if err != nil {
			return r, fmt.Errorf("verify: head: %w", err)
		}
		n := uint64(0)
		if bn := rc.BlockNumber.Uint64(); head >= bn {
			n = head - bn + 1
		}
		r.add(CheckConfirmations, n > 0, "%d confirmations", n)
	}
	return r, nil
}

// txAnchors reports whether rc is a successful receipt in b.Block whose logs
// include TwinAnchor's Anchored(signer, epoch, root, count).
func txAnchors(rc *types.Receipt, b *Bundle) bool {
	if rc.Status != types.ReceiptStatusSuccessful || rc.BlockNumber == nil || rc.BlockNumber.Uint64() != b.Block {
		return false
	}
	for _, l := range rc.Logs {
		if l.Address != b.Contract {
			continue
		}
		ev, err := abiTwinAnchor.UnpackAnchoredEvent(l)
		if err != nil {
			continue
		}
		if ev.Signer == b.Signer && ev.Epoch == b.Epoch && twin.Hash(ev.Root) == b.Root && ev.Count == b.Count {
			return true
		}
	}
	return false
}
