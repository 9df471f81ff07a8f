package anchor

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/custos-dev/custos/anchor/contracts/twinanchor"
	"github.com/custos-dev/custos/twin"
)

// Backend is what the anchor service and the verifier need from a chain.
// *ethclient.Client and the simulated backend's client implement it.
type Backend interface {
	ethereum.ChainIDReader
	ethereum.BlockNumberReader
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	TransactionByHash(ctx context.Context, txHash common.Hash) (tx *types.Transaction, isPending bool, err error)
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
	SendTransaction(ctx context.Context, tx *types.Transaction) error
	NonceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (uint64, error)
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	EstimateGas(ctx context.Context, call ethereum.CallMsg) (uint64, error)
	CallContract(ctx context.Context, call ethereum.CallMsg, blockNumber *big.Int) ([]byte, error)
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
}

var abiTwinAnchor = twinanchor.NewTwinAnchor()

// RootOf reads TwinAnchor.rootOf(signer, epoch) at the latest block. A zero
// root means nothing is anchored.
func RootOf(ctx context.Context, b Backend, contract, signer common.Address, epoch uint64) (twin.Hash, error) {
	out, err := b.CallContract(ctx, ethereum.CallMsg{To: &contract, Data: abiTwinAnchor.PackRootOf(signer, epoch)}, nil)
	if err != nil {
		return twin.Hash{}, fmt.Errorf("rootOf: %w", err)
	}
	r, err := abiTwinAnchor.UnpackRootOf(out)
	if err != nil {
		return twin.Hash{}, fmt.Errorf("rootOf: %w", err)
	}
	return r, nil
}

// Key is a signer's authorisation in TwinAnchor (keyOf): it may anchor
// epochs From <= epoch < Until unless RevokedAt (a block number) is set.
// Until 0 means the operator never authorised the key.
type Key struct {
	From, Until, RevokedAt uint64
}

func (k Key) String() string {
	switch {
	case k.Until == 0:
		return "never authorised"
	case k.Until == math.MaxUint64:
		return fmt.Sprintf("authorised from epoch %d%s", k.From, k.revoked())
	}
	return fmt.Sprintf("authorised for epochs %d..%d%s", k.From, k.Until-1, k.revoked())
}

func (k Key) revoked() string {
	if k.RevokedAt == 0 {
		return ""
	}
	return fmt.Sprintf(", revoked at block %d", k.RevokedAt)
}

// KeyOf reads TwinAnchor.keyOf(signer) at the latest block.
func KeyOf(ctx context.Context, b Backend, contract, signer common.Address) (Key, error) {
	out, err := b.CallContract(ctx, ethereum.CallMsg{To: &contract, Data: abiTwinAnchor.PackKeyOf(signer)}, nil)
	if err != nil {
		return Key{}, fmt.Errorf("keyOf: %w", err)
	}
	k, err := abiTwinAnchor.UnpackKeyOf(out)
	if err != nil {
		return Key{}, fmt.Errorf("keyOf: %w", err)
	}
	return Key{From: k.FromEpoch, Until: k.UntilEpoch, RevokedAt: k.RevokedAt}, nil
}

// Owner reads TwinAnchor.owner(), the operator, at the latest block.
func Owner(ctx context.Context, b Backend, contract common.Address) (common.Address, error) {
	out, err := b.CallContract(ctx, ethereum.CallMsg{To: &contract, Data: abiTwinAnchor.PackOwner()}, nil)
	if err != nil {
		return common.Address{}, fmt.Errorf("owner: %w", err)
	}
	o, err := abiTwinAnchor.UnpackOwner(out)
	if err != nil {
		return common.Address{}, fmt.Errorf("owner: %w", err)
	}
	return o, nil
}

// FindAnchoredLog returns the Anchored event for (signer, epoch) emitted by
// contract in blocks from..to (to 0 means the latest block), searching
// backwards in windows of logWindow blocks (public endpoints limit
// eth_getLogs ranges); ethereum.NotFound if none.
func FindAnchoredLog(ctx context.Context, b Backend, contract, signer common.Address, epoch, from, to uint64) (*types.Log, *twinanchor.TwinAnchorAnchored, error) {
	if to == 0 {
		head, err := b.BlockNumber(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("filter anchored logs: head: %w", err)
		}
		to = head
	}
	ev := abiTwinAnchor.GetABI().Events["Anchored"]
	var e [32]byte
	big.NewInt(0).SetUint64(epoch).FillBytes(e[:])
	for hi := to; hi >= from; {
		lo := max(from, hi-min(hi, logWindow-1))
		logs, err := b.FilterLogs(ctx, ethereum.FilterQuery{
			FromBlock: new(big.Int).SetUint64(lo),
			ToBlock:   new(big.Int).SetUint64(hi),
			Addresses: []common.Address{contract},
			Topics:    [][]common.Hash{{ev.ID}, {common.BytesToHash(signer[:])}, {e}},
		})
		if err != nil {
			return nil, nil, fmt.Errorf("filter anchored logs: %w", err)
		}
		for i := len(logs) - 1; i >= 0; i-- {
			if logs[i].Removed {
				continue
			}
			a, err := abiTwinAnchor.UnpackAnchoredEvent(&logs[i])
			if err != nil {
				continue
			}
			return &logs[i], a, nil
		}
		if lo == 0 || lo == from {
			break
		}
		hi = lo - 1
	}
	return nil, nil, ethereum.NotFound
}

// MaxAnchorGas is the gas budget of one anchor() in steady state on the
// fork rules public networks run (docs/anchoring.md; tests enforce it).
const MaxAnchorGas = 60_000

// logWindow is the widest eth_getLogs block range asked for.
const logWindow = 1000

// Deploy deploys TwinAnchor from key with operator as its owner and signer
// (if not zero) authorised for every epoch, and waits until it is mined
// (the caller's backend must produce blocks). It returns the contract
// address and the deployment transaction.
func Deploy(ctx context.Context, b Backend, key *ecdsa.PrivateKey, feeCap *big.Int, operator, signer common.Address) (common.Address, *types.Transaction, error) {
	code := append(common.FromHex(twinanchor.TwinAnchorMetaData.Bin), abiTwinAnchor.PackConstructor(operator, signer)...)
	rc, tx, err := Transact(ctx, b, key, nil, code, feeCap)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy: %w", err)
	}
	return rc.ContractAddress, tx, nil
}

// Transact sends data from key to to (nil: a contract creation), waits
// until it is mined and fails if it reverted.
func Transact(ctx context.Context, b Backend, key *ecdsa.PrivateKey, to *common.Address, data []byte, feeCap *big.Int) (*types.Receipt, *types.Transaction, error) {
	chainID, err := b.ChainID(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("chain id: %w", err)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := b.PendingNonceAt(ctx, from)
	if err != nil {
		return nil, nil, fmt.Errorf("nonce: %w", err)
	}
	gas, err := b.EstimateGas(ctx, ethereum.CallMsg{From: from, To: to, Data: data})
	if err != nil {
		return nil, nil, fmt.Errorf("estimate gas: %w", RevertReason(err))
	}
	tip, fee, err := fees(ctx, b, feeCap)
	if err != nil {
		return nil, nil, err
	}
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: fee, Gas: gas * 6 / 5, To: to, Data: data,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	if err := b.SendTransaction(ctx, tx); err != nil {
		return nil, nil, fmt.Errorf("send: %w", err)
	}
	rc, err := WaitMined(ctx, b, tx.Hash())
	if err != nil {
		return nil, nil, err
	}
	if rc.Status != types.ReceiptStatusSuccessful {
		return rc, tx, fmt.Errorf("transaction %s reverted", tx.Hash())
	}
	return rc, tx, nil
}

// Authorize, as the operator (ownerKey), lets signer anchor epochs
// from <= epoch < until (math.MaxUint64: no end); it clears a revocation.
func Authorize(ctx context.Context, b Backend, ownerKey *ecdsa.PrivateKey, contract, signer common.Address, from, until uint64, feeCap *big.Int) (*types.Receipt, error) {
	rc, _, err := Transact(ctx, b, ownerKey, &contract, abiTwinAnchor.PackAuthorize(signer, from, until), feeCap)
	if err != nil {
		return nil, fmt.Errorf("authorize %s: %w", signer, err)
	}
	return rc, nil
}

// Revoke, as the operator, stops signer from anchoring from the revoking
// block on; its earlier anchors stay valid.
func Revoke(ctx context.Context, b Backend, ownerKey *ecdsa.PrivateKey, contract, signer common.Address, feeCap *big.Int) (*types.Receipt, error) {
	rc, _, err := Transact(ctx, b, ownerKey, &contract, abiTwinAnchor.PackRevoke(signer), feeCap)
	if err != nil {
		return nil, fmt.Errorf("revoke %s: %w", signer, err)
	}
	return rc, nil
}

// Rotate, as the operator, hands anchoring over from oldSigner (epochs
// before from) to newSigner (epochs from on).
func Rotate(ctx context.Context, b Backend, ownerKey *ecdsa.PrivateKey, contract, oldSigner, newSigner common.Address, from uint64, feeCap *big.Int) (*types.Receipt, error) {
	rc, _, err := Transact(ctx, b, ownerKey, &contract, abiTwinAnchor.PackRotate(oldSigner, newSigner, from), feeCap)
	if err != nil {
		return nil, fmt.Errorf("rotate %s to %s: %w", oldSigner, newSigner, err)
	}
	return rc, nil
}

// RevertReason decodes TwinAnchor's custom error from a failed call or gas
// estimate when the node returns its data, else returns err unchanged.
func RevertReason(err error) error {
	var de rpc.DataError
	if !errors.As(err, &de) {
		return err
	}
	s, ok := de.ErrorData().(string)
	if !ok {
		return err
	}
	v, uerr := abiTwinAnchor.UnpackError(common.FromHex(s))
	if uerr != nil {
		return err
	}
	switch e := v.(type) {
	case *twinanchor.TwinAnchorUnauthorized:
		return fmt.Errorf("%w: signer %s is not authorised for epoch %d", ErrUnauthorized, e.Signer, e.Epoch)
	case *twinanchor.TwinAnchorAlreadyAnchored:
		return fmt.Errorf("already anchored: signer %s epoch %d root %s", e.Signer, e.Epoch, common.Hash(e.Root))
	case *twinanchor.TwinAnchorNotOwner:
		return fmt.Errorf("%s is not the contract's owner (the operator)", e.Caller)
	}
	return fmt.Errorf("%T: %w", v, err)
}

// splitSig turns a 65-byte r ‖ s ‖ v signature into EIP-2098's (r, vs).
func splitSig(sig []byte) (r, vs [32]byte) {
	copy(r[:], sig[:32])
	copy(vs[:], sig[32:64])
	if v := sig[64]; v == 1 || v == 28 {
		vs[0] |= 0x80
	}
	return r, vs
}

// fees returns the EIP-1559 tip and fee cap: the suggested tip, and a fee
// cap of 2×base fee + tip, limited by feeCap when it is not nil.
func fees(ctx context.Context, b Backend, feeCap *big.Int) (tip, fee *big.Int, err error) {
	tip, err = b.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("suggest tip: %w", err)
	}
	h, err := b.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("head: %w", err)
	}
	base := big.NewInt(0)
	if h.BaseFee != nil {
		base = h.BaseFee
	}
	fee = new(big.Int).Add(new(big.Int).Mul(base, big.NewInt(2)), tip)
	if feeCap != nil && fee.Cmp(feeCap) > 0 {
		fee = new(big.Int).Set(feeCap)
		if tip.Cmp(fee) > 0 {
			tip = new(big.Int).Set(fee)
		}
	}
	return tip, fee, nil
}

// WaitMined polls for the receipt of hash until it exists or ctx ends.
func WaitMined(ctx context.Context, b Backend, hash common.Hash) (*types.Receipt, error) {
	t := newTicker(pollFast)
	defer t.Stop()
	for {
		rc, err := b.TransactionReceipt(ctx, hash)
		if err == nil && rc != nil {
			return rc, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait mined %s: %w", hash, ctx.Err())
		case <-t.C:
		}
	}
}
