package anchor

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

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

// Anchored is an on-chain anchor record.
type Anchored struct {
	Root        twin.Hash
	Count       uint32
	BlockNumber uint64
}

// RootOf reads TwinAnchor.rootOf(signer, epoch) at the latest block. A zero
// Root means nothing is anchored.
func RootOf(ctx context.Context, b Backend, contract, signer common.Address, epoch uint64) (Anchored, error) {
	out, err := b.CallContract(ctx, ethereum.CallMsg{To: &contract, Data: abiTwinAnchor.PackRootOf(signer, epoch)}, nil)
	if err != nil {
		return Anchored{}, fmt.Errorf("rootOf: %w", err)
	}
	r, err := abiTwinAnchor.UnpackRootOf(out)
	if err != nil {
		return Anchored{}, fmt.Errorf("rootOf: %w", err)
	}
	return Anchored{Root: r.Root, Count: r.Count, BlockNumber: r.BlockNumber}, nil
}

// FindAnchoredLog returns the Anchored event for (signer, epoch) emitted by
// contract, searching blocks from..to (to 0 means the latest block);
// ethereum.NotFound if none.
func FindAnchoredLog(ctx context.Context, b Backend, contract, signer common.Address, epoch, from, to uint64) (*types.Log, *twinanchor.TwinAnchorAnchored, error) {
	ev := abiTwinAnchor.GetABI().Events["Anchored"]
	var e [32]byte
	big.NewInt(0).SetUint64(epoch).FillBytes(e[:])
	var toBlock *big.Int
	if to != 0 {
		toBlock = new(big.Int).SetUint64(to)
	}
	logs, err := b.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from),
		ToBlock:   toBlock,
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
	return nil, nil, ethereum.NotFound
}

// Deploy deploys TwinAnchor from key and waits until it is mined (the
// caller's backend must produce blocks). It returns the contract address
// and the deployment transaction.
func Deploy(ctx context.Context, b Backend, key *ecdsa.PrivateKey, feeCap *big.Int) (common.Address, *types.Transaction, error) {
	chainID, err := b.ChainID(ctx)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy: chain id: %w", err)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := b.PendingNonceAt(ctx, from)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy: nonce: %w", err)
	}
	code := common.FromHex(twinanchor.TwinAnchorMetaData.Bin)
	gas, err := b.EstimateGas(ctx, ethereum.CallMsg{From: from, Data: code})
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy: estimate gas: %w", err)
	}
	tip, fee, err := fees(ctx, b, feeCap)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy: %w", err)
	}
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: fee, Gas: gas * 6 / 5, Data: code,
	})
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy: sign: %w", err)
	}
	if err := b.SendTransaction(ctx, tx); err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy: send: %w", err)
	}
	rc, err := WaitMined(ctx, b, tx.Hash())
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy: %w", err)
	}
	if rc.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, nil, errors.New("deploy: transaction reverted")
	}
	return rc.ContractAddress, tx, nil
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
