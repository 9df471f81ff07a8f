// Package simchain starts go-ethereum's simulated chain with a funded key
// and a deployed TwinAnchor, for tests.
package simchain

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"github.com/custos-dev/custos/anchor/contracts/twinanchor"
	"github.com/custos-dev/custos/anchor/devchain"
)

// Chain is a simulated chain (chain id 1337) on the fork rules public
// networks run today (devchain.PublicRules).
type Chain struct {
	Sim      *simulated.Backend
	Client   simulated.Client
	Key      *ecdsa.PrivateKey // funded with 1000 ether
	Addr     common.Address
	Contract common.Address
	ChainID  *big.Int

	mu sync.Mutex // serialises Commit with Fork
}

// New starts a chain, deploys TwinAnchor with Key as its operator (owner;
// no signer authorised: see Authorize) and registers cleanup on t.
func New(t testing.TB, funded ...common.Address) *Chain {
	t.Helper()
	key, _ := crypto.GenerateKey()
	addr := crypto.PubkeyToAddress(key.PublicKey)
	bal := new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))
	alloc := types.GenesisAlloc{addr: {Balance: bal}}
	for _, a := range funded {
		alloc[a] = types.Account{Balance: bal}
	}
	sim := simulated.NewBackend(alloc, func(_ *node.Config, ec *ethconfig.Config) { ec.Genesis.Config = devchain.PublicRules() })
	t.Cleanup(func() { sim.Close() })
	c := &Chain{Sim: sim, Client: sim.Client(), Key: key, Addr: addr, ChainID: big.NewInt(1337)}
	ctx := context.Background()
	code := append(common.FromHex(twinanchor.TwinAnchorMetaData.Bin), twinanchor.NewTwinAnchor().PackConstructor(addr, common.Address{})...)
	gas, err := c.Client.EstimateGas(ctx, ethereum.CallMsg{From: addr, Data: code})
	if err != nil {
		t.Fatal(err)
	}
	tx := c.Sign(t, &types.DynamicFeeTx{Nonce: 0, Gas: gas * 2, Data: code})
	if err := c.Client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	c.Commit()
	rc, err := c.Client.TransactionReceipt(ctx, tx.Hash())
	if err != nil || rc.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("deploy TwinAnchor: %v", err)
	}
	c.Contract = rc.ContractAddress
	return c
}

// Authorize has the operator (Key) authorise signer for every epoch.
func (c *Chain) Authorize(t testing.TB, signer common.Address) {
	t.Helper()
	c.Transact(t, twinanchor.NewTwinAnchor().PackAuthorize(signer, 0, ^uint64(0)))
}

// Transact sends data to the contract from Key, commits a block and fails
// t unless it succeeded.
func (c *Chain) Transact(t testing.TB, data []byte) *types.Receipt {
	t.Helper()
	ctx := context.Background()
	nonce, err := c.Client.PendingNonceAt(ctx, c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	tx := c.Sign(t, &types.DynamicFeeTx{Nonce: nonce, Gas: 200_000, To: &c.Contract, Data: data})
	if err := c.Client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	c.Commit()
	rc, err := c.Client.TransactionReceipt(ctx, tx.Hash())
	if err != nil || rc.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("transaction to TwinAnchor failed: %v", err)
	}
	return rc
}

// Sign fills chain id and fees of tx and signs it with Key.
func (c *Chain) Sign(t testing.TB, tx *types.DynamicFeeTx) *types.Transaction {
	t.Helper()
	tx.ChainID = c.ChainID
	if tx.GasTipCap == nil {
		tx.GasTipCap = big.NewInt(1e9)
	}
	if tx.GasFeeCap == nil {
		tx.GasFeeCap = big.NewInt(1e11)
	}
	s, err := types.SignNewTx(c.Key, types.LatestSignerForChainID(c.ChainID), tx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Commit seals a block.
func (c *Chain) Commit() common.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Sim.Commit()
}

// Fork rewinds the head to parent (a reorg once blocks are committed on it).
func (c *Chain) Fork(parent common.Hash) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Sim.Fork(parent)
}

// AutoMine commits a block every d until the returned stop is called.
func (c *Chain) AutoMine(d time.Duration) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				c.Commit()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}
