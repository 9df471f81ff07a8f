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
const BundleFormat = "custos-proof/2"

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
	// Operator is TwinAnchor's owner when the proof was made: who vouches.
	Operator common.Address `json:"operator"`
	ChainID  uint64         `json:"chain_id"`
	Contract common.Address `json:"contract"`
	Tx       common.Hash    `json:"tx"`
	Block    uint64         `json:"block"`
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
	CheckPinned        = "pinned"
	CheckChainID       = "chain-id"
	CheckOperator      = "operator"
	CheckSigner        = "signer"
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
	} else {
		r.add(CheckEvent, true, "no event bytes in the bundle; event_hash %s taken as given", b.Links[0].EventHash)
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

// Pin is what an auditor trusts, obtained out of band: the operator's
// address (TwinAnchor's owner) or, for a single-key setup, the signer's,
// plus the contract and the chain id.
type Pin struct {
	Operator common.Address
	Signer   common.Address
	Contract common.Address
	ChainID  uint64
}

// PinHelp says how to pin an identity; custos verify prints it.
const PinHelp = "pin who must vouch for the proof: --operator ADDR (the operator's address, TwinAnchor's owner: " +
	"get it from the operator out of band; `custos anchor status` on their runtime prints it) or --signer ADDR " +
	"(single-key setups), plus --contract ADDR and --chain-id N; the bundle's own fields are never trusted for these"

// Validate reports an error wrapping ErrNotPinned unless an operator or a
// signer, the contract and the chain id are pinned.
func (p Pin) Validate() error {
	var missing []string
	if p.Operator == (common.Address{}) && p.Signer == (common.Address{}) {
		missing = append(missing, "operator or signer")
	}
	if p.Contract == (common.Address{}) {
		missing = append(missing, "contract")
	}
	if p.ChainID == 0 {
		missing = append(missing, "chain id")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w (%s): %s", ErrNotPinned, strings.Join(missing, ", "), PinHelp)
	}
	return nil
}

// Verify runs VerifyOffline and then checks the bundle against pin and the
// chain behind bk: the bundle's chain id, contract and operator or signer
// equal the pinned ones; the endpoint's chain id; TwinAnchor's owner is the
// operator; the operator authorised the signer for the epoch; the contract
// stores the root for (signer, epoch); the anchoring transaction's receipt
// holds the Anchored event; and the confirmations. It returns an error
// wrapping ErrNotPinned if pin is incomplete, else only when the chain
// cannot be asked; verification failures are in the report.
func Verify(ctx context.Context, bk Backend, b *Bundle, pin Pin) (*Report, error) {
	if err := pin.Validate(); err != nil {
		return nil, err
	}
	r := VerifyOffline(b)
	if len(r.Checks) == 1 && !r.OK() {
		return r, nil
	}
	var bad []string
	if b.ChainID != pin.ChainID {
		bad = append(bad, fmt.Sprintf("bundle chain id %d, pinned %d", b.ChainID, pin.ChainID))
	}
	if b.Contract != pin.Contract {
		bad = append(bad, fmt.Sprintf("bundle contract %s, pinned %s", b.Contract, pin.Contract))
	}
	if pin.Operator != (common.Address{}) && b.Operator != pin.Operator {
		bad = append(bad, fmt.Sprintf("bundle names operator %s, pinned %s", b.Operator, pin.Operator))
	}
	if pin.Signer != (common.Address{}) && b.Signer != pin.Signer {
		bad = append(bad, fmt.Sprintf("bundle signed by %s, pinned signer %s", b.Signer, pin.Signer))
	}
	if len(bad) > 0 {
		r.add(CheckPinned, false, "bundle signed by %s: %s", b.Signer, strings.Join(bad, "; "))
		return r, nil
	}
	r.add(CheckPinned, true, "chain %d, contract %s, %s", pin.ChainID, pin.Contract, pin.who())
	id, err := bk.ChainID(ctx)
	if err != nil {
		return r, fmt.Errorf("verify: chain id: %w", err)
	}
	if !r.add(CheckChainID, id.Uint64() == pin.ChainID, "endpoint chain id %d, pinned %d", id, pin.ChainID) {
		return r, nil
	}
	owner, err := Owner(ctx, bk, pin.Contract)
	if err != nil {
		r.add(CheckOperator, false, "contract %s: %v", pin.Contract, err)
		return r, nil
	}
	if pin.Operator != (common.Address{}) {
		r.add(CheckOperator, owner == pin.Operator, "contract %s is owned by %s, pinned operator %s", pin.Contract, owner, pin.Operator)
	} else {
		r.add(CheckOperator, true, "contract %s is owned by %s (not pinned; the signer is)", pin.Contract, owner)
	}
	key, err := KeyOf(ctx, bk, pin.Contract, b.Signer)
	if err != nil {
		return r, fmt.Errorf("verify: %w", err)
	}
	root, err := RootOf(ctx, bk, pin.Contract, b.Signer, b.Epoch)
	if err != nil {
		return r, fmt.Errorf("verify: %w", err)
	}
	inRange := key.From <= b.Epoch && b.Epoch < key.Until // Until 0: never authorised
	switch {
	case !inRange:
		r.add(CheckSigner, false, "signer %s is not authorised for epoch %d by operator %s in contract %s (%s)", b.Signer, b.Epoch, owner, pin.Contract, key)
	case key.RevokedAt != 0 && root.IsZero():
		r.add(CheckSigner, false, "signer %s was revoked by operator %s at block %d and epoch %d is not anchored", b.Signer, owner, key.RevokedAt, b.Epoch)
	default:
		r.add(CheckSigner, true, "signer %s: %s by operator %s", b.Signer, key, owner)
	}
	switch {
	case root.IsZero():
		r.add(CheckContractRoot, false, "contract %s holds no root for signer %s epoch %d", pin.Contract, b.Signer, b.Epoch)
	case root != b.Root:
		r.add(CheckContractRoot, false, "contract root %s for signer %s epoch %d; bundle root %s", root, b.Signer, b.Epoch, b.Root)
	default:
		r.add(CheckContractRoot, true, "contract %s stores root %s for signer %s epoch %d", pin.Contract, root, b.Signer, b.Epoch)
	}
	bn, err := anchoredIn(ctx, bk, b, r)
	if err != nil || bn == 0 {
		return r, err
	}
	head, err := bk.BlockNumber(ctx)
	if err != nil {
		return r, fmt.Errorf("verify: head: %w", err)
	}
	n := uint64(0)
	if head >= bn {
		n = head - bn + 1
	}
	r.add(CheckConfirmations, n > 0, "%d confirmations (head %d, anchor block %d)", n, head, bn)
	return r, nil
}

func (p Pin) who() string {
	if p.Operator != (common.Address{}) {
		return "operator " + p.Operator.Hex()
	}
	return "signer " + p.Signer.Hex()
}

// anchoredIn adds the transaction check and returns the block that holds
// the anchor (0 if none): the bundle's transaction if its receipt holds the
// Anchored event, else (the anchor was re-sent after a reorg or a lost
// block) the Anchored event for (signer, epoch) found in the logs from
// 1,000 blocks before the bundle's block to the head.
func anchoredIn(ctx context.Context, bk Backend, b *Bundle, r *Report) (uint64, error) {
	rc, err := bk.TransactionReceipt(ctx, b.Tx)
	switch {
	case err == nil && rc != nil && txAnchors(rc, b):
		moved := ""
		if rc.BlockNumber.Uint64() != b.Block {
			moved = fmt.Sprintf(" (the bundle says block %d: re-mined after a reorg or a lost block)", b.Block)
		}
		r.add(CheckTransaction, true, "transaction %s in block %d emits Anchored(signer %s, epoch %d, root, count %d)%s", b.Tx, rc.BlockNumber, b.Signer, b.Epoch, b.Count, moved)
		return rc.BlockNumber.Uint64(), nil
	case err != nil && !errors.Is(err, ethereum.NotFound):
		return 0, fmt.Errorf("verify: receipt: %w", err)
	}
	lg, ev, err := FindAnchoredLog(ctx, bk, b.Contract, b.Signer, b.Epoch, b.Block-min(b.Block, logWindow), 0)
	if errors.Is(err, ethereum.NotFound) {
		r.add(CheckTransaction, false, "transaction %s not found or without the Anchored event, and no Anchored(signer %s, epoch %d) log since block %d", b.Tx, b.Signer, b.Epoch, b.Block-min(b.Block, logWindow))
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	ok := twin.Hash(ev.Root) == b.Root && ev.Count == b.Count
	r.add(CheckTransaction, ok, "bundle transaction %s not found; re-anchored by transaction %s in block %d (root %s, count %d)", b.Tx, lg.TxHash, lg.BlockNumber, common.Hash(ev.Root), ev.Count)
	if !ok {
		return 0, nil
	}
	return lg.BlockNumber, nil
}

// txAnchors reports whether rc is a successful receipt whose logs include
// TwinAnchor's Anchored(signer, epoch, root, count).
func txAnchors(rc *types.Receipt, b *Bundle) bool {
	if rc.Status != types.ReceiptStatusSuccessful || rc.BlockNumber == nil {
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
