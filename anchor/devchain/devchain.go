// Package devchain runs an Ethereum dev chain inside the custos process: a
// go-ethereum node with a simulated beacon (no consensus peers), its data
// under a directory so anchors made before a restart still verify after
// it, a funded dev key persisted beside it, a block sealed whenever a
// transaction arrives (and optionally every Period), and standard JSON-RPC
// over HTTP so wallets, explorers and `custos verify` reach it like any
// other chain.
package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
)

// ChainID is the dev chain's chain id (go-ethereum's dev chain id).
const ChainID = 1337

// PublicRules returns the chain rules of the dev chain: go-ethereum's
// developer configuration (chain id 1337, every fork from genesis) without
// the forks public networks do not run yet (Amsterdam, Bogota, whose gas
// schedule prices a fresh storage slot several times higher), so gas
// measured here is what Ethereum mainnet and Sepolia charge today (Prague
// and Osaka rules).
func PublicRules() *params.ChainConfig {
	c := *params.AllDevChainProtocolChanges
	c.AmsterdamTime, c.BogotaTime = nil, nil
	return &c
}

// Config configures a dev chain.
type Config struct {
	// Dir holds the chain database and the dev key (devkey). Required.
	Dir string
	// Listen is the HTTP JSON-RPC address, e.g. "127.0.0.1:8545"; empty
	// means no HTTP server (use Client).
	Listen string
	// Period, if not zero, and Trail > 0, seals up to Trail empty blocks,
	// one every Period, after each block that holds transactions, so that
	// an anchor gathers Trail+1 confirmations without further traffic.
	// Blocks are sealed on every transaction regardless; an idle chain
	// seals nothing.
	Period time.Duration
	Trail  int
	Logger *slog.Logger
}

// Chain is a running dev chain.
type Chain struct {
	stack  *node.Node
	eth    *eth.Ethereum
	beacon *catalyst.SimulatedBeacon
	client *ethclient.Client
	key    *ecdsa.PrivateKey
	url    string
	log    *slog.Logger

	mu     sync.Mutex // serialises block sealing
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// Open starts the dev chain in cfg.Dir, creating it (and a funded dev key)
// on first use.
func Open(cfg Config) (*Chain, error) {
	if cfg.Dir == "" {
		return nil, errors.New("devchain: no directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("devchain: %w", err)
	}
	key, err := loadOrCreateKey(filepath.Join(cfg.Dir, "devkey"))
	if err != nil {
		return nil, fmt.Errorf("devchain: %w", err)
	}
	nc := node.DefaultConfig
	nc.Name = "custos-devchain"
	nc.DataDir = filepath.Join(cfg.Dir, "geth")
	nc.P2P = p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""}
	nc.IPCPath = ""
	nc.HTTPHost, nc.HTTPPort = "", 0
	nc.WSHost = ""
	nc.AuthPort = 0
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("devchain: listen %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("devchain: listen %q: %w", cfg.Listen, err)
		}
		nc.HTTPHost, nc.HTTPPort = host, p
		nc.HTTPModules = []string{"eth", "net", "web3"}
		nc.HTTPVirtualHosts = []string{"*"}
		nc.HTTPCors = []string{"*"}
	}
	stack, err := node.New(&nc)
	if err != nil {
		return nil, fmt.Errorf("devchain: node: %w", err)
	}
	alloc := core.SystemContractAllocs()
	maps.Copy(alloc, types.GenesisAlloc{
		crypto.PubkeyToAddress(key.PublicKey): {Balance: new(big.Int).Lsh(big.NewInt(1), 200)},
	})
	ec := ethconfig.Defaults
	ec.NetworkId = ChainID
	ec.Genesis = &core.Genesis{Config: PublicRules(), GasLimit: ethconfig.Defaults.Miner.GasCeil, Alloc: alloc}
	ec.SyncMode = ethconfig.FullSync
	ec.TxPool.NoLocals = true
	// Archive mode with the hash scheme writes every block's state through
	// to disk rather than keeping recent state in memory until shutdown.
	ec.NoPruning = true
	ec.StateScheme = rawdb.HashScheme
	e, err := eth.New(stack, &ec)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("devchain: eth: %w", err)
	}
	fs := filters.NewFilterSystem(e.APIBackend, filters.Config{})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fs)}})
	if err := stack.Start(); err != nil {
		stack.Close()
		return nil, fmt.Errorf("devchain: start: %w", err)
	}
	beacon, err := catalyst.NewSimulatedBeacon(0, common.Address{}, e)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("devchain: beacon: %w", err)
	}
	c := &Chain{stack: stack, eth: e, beacon: beacon, client: ethclient.NewClient(stack.Attach()), key: key,
		url: stack.HTTPEndpoint(), log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.Listen == "" {
		c.url = ""
	}
	go c.mine(cfg.Period, cfg.Trail)
	cfg.Logger.Info("devchain: started", "dir", cfg.Dir, "rpc", c.URL(), "head", e.BlockChain().CurrentBlock().Number, "dev", c.DevAddress())
	return c, nil
}

// mine seals a block when transactions are pending and, every period, up
// to trail empty blocks after a block that held transactions.
func (c *Chain) mine(period time.Duration, trail int) {
	defer close(c.done)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	var tick <-chan time.Time
	if period > 0 && trail > 0 {
		t := time.NewTicker(period)
		defer t.Stop()
		tick = t.C
	}
	owed := 0 // empty blocks still to seal after the last block with transactions
	for {
		select {
		case <-c.stop:
			return
		case <-poll.C:
			if pending, _ := c.eth.TxPool().Stats(); pending == 0 {
				continue
			}
		case <-tick:
			if owed == 0 {
				continue
			}
		}
		c.Commit()
		if b := c.eth.BlockChain().CurrentBlock(); b != nil && b.TxHash != types.EmptyTxsHash {
			owed = trail
		} else if owed > 0 {
			owed--
		}
	}
}

// Commit seals a block now, makes it durable (the node's database writes
// asynchronously; a SIGKILL would otherwise lose the last blocks) and
// returns its hash.
func (c *Chain) Commit() common.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return common.Hash{}
	}
	h := c.beacon.Commit()
	if err := c.eth.ChainDb().SyncKeyValue(); err != nil {
		c.log.Error("devchain: sync database", "err", err)
	}
	return h
}

// Client returns an in-process JSON-RPC client.
func (c *Chain) Client() *ethclient.Client { return c.client }

// URL is the HTTP JSON-RPC endpoint, "" without Listen.
func (c *Chain) URL() string { return c.url }

// DevKey is the funded dev key (persisted in Dir/devkey).
func (c *Chain) DevKey() *ecdsa.PrivateKey { return c.key }

// DevAddress is the dev key's address.
func (c *Chain) DevAddress() common.Address { return crypto.PubkeyToAddress(c.key.PublicKey) }

// Head returns the number of the newest durable block: it waits for a
// Commit in progress, whose block is the node's current one before it is
// synced to disk.
func (c *Chain) Head() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eth.BlockChain().CurrentBlock().Number.Uint64()
}

// Close stops block production and the node, flushing the chain to disk.
func (c *Chain) Close() error {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.client.Close()
	return errors.Join(c.beacon.Stop(), c.stack.Close())
}

// Fund sends wei from the dev key to addr and waits for it to be mined.
func (c *Chain) Fund(ctx context.Context, addr common.Address, wei *big.Int) error {
	from := c.DevAddress()
	nonce, err := c.client.PendingNonceAt(ctx, from)
	if err != nil {
		return fmt.Errorf("fund: %w", err)
	}
	tip := big.NewInt(1e9)
	tx, err := types.SignNewTx(c.key, types.LatestSignerForChainID(big.NewInt(ChainID)), &types.DynamicFeeTx{
		ChainID: big.NewInt(ChainID), Nonce: nonce, GasTipCap: tip, GasFeeCap: big.NewInt(1e12), Gas: 21000, To: &addr, Value: wei,
	})
	if err != nil {
		return fmt.Errorf("fund: %w", err)
	}
	if err := c.client.SendTransaction(ctx, tx); err != nil {
		return fmt.Errorf("fund: %w", err)
	}
	for {
		if _, err := c.client.TransactionReceipt(ctx, tx.Hash()); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fund: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	if k, err := crypto.LoadECDSA(path); err == nil {
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	k, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := crypto.SaveECDSA(path, k); err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	return k, nil
}
