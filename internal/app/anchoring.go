package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/custos-dev/custos/anchor"
	"github.com/custos-dev/custos/anchor/devchain"
	anchorstore "github.com/custos-dev/custos/anchor/embedded"
	"github.com/custos-dev/custos/internal/httpapi"
	"github.com/custos-dev/custos/twin"
)

// AnchorConfig configures anchoring. With ChainRPC empty, an embedded dev
// chain runs in process under Data/chain.
type AnchorConfig struct {
	ChainRPC       string // JSON-RPC endpoint of an external chain
	ChainID        uint64 // expected chain id (0: take the endpoint's)
	ChainListen    string // JSON-RPC address of the embedded dev chain ("" none)
	Keystore       string // go-ethereum keystore file or directory (external chains)
	PassphraseFile string // keystore passphrase file; else env CUSTOS_KEYSTORE_PASSWORD
	Contract       string // TwinAnchor address; empty: the one deployed earlier (dev chain: deployed now)
	Operator       string // owner of a TwinAnchor deployed by custos; empty: the runtime key's address
	Interval       time.Duration
	MaxLeaves      int
	Confirmations  uint64
	FeeCapGwei     float64
}

// PassphraseEnv is the environment variable a keystore passphrase is read
// from when no passphrase file is given.
const PassphraseEnv = "CUSTOS_KEYSTORE_PASSWORD"

// ChainConn is an open chain: the backend, the runtime's key, and the dev
// chain if it is the embedded one.
type ChainConn struct {
	Backend anchor.Backend
	Client  *ethclient.Client
	Dev     *devchain.Chain // nil for an external chain
	ChainID uint64
	Key     *ecdsa.PrivateKey
}

// OpenChain connects to the configured chain, or opens the embedded dev
// chain under dataDir/chain.
func OpenChain(ctx context.Context, cfg *AnchorConfig, dataDir string, log *slog.Logger) (*ChainConn, error) {
	cc := &ChainConn{}
	if cfg.ChainRPC == "" {
		// Blocks are sealed on transactions only; after each, Confirmations-1
		// empty ones so anchors confirm. An idle chain seals nothing.
		trail := int(max(cfg.Confirmations, 1) - 1)
		dev, err := devchain.Open(devchain.Config{Dir: filepath.Join(dataDir, "chain"), Listen: cfg.ChainListen, Period: time.Second, Trail: trail, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("dev chain: %w", err)
		}
		cc.Dev, cc.Client, cc.Key = dev, dev.Client(), dev.DevKey()
	} else {
		cl, err := ethclient.DialContext(ctx, cfg.ChainRPC)
		if err != nil {
			return nil, fmt.Errorf("chain %s: %w", cfg.ChainRPC, err)
		}
		cc.Client = cl
		if cfg.Keystore == "" {
			cl.Close()
			return nil, errors.New("an external chain needs --keystore (the runtime's signing key)")
		}
		pass, err := anchor.Passphrase(cfg.PassphraseFile, PassphraseEnv)
		if err != nil {
			cl.Close()
			return nil, err
		}
		if cc.Key, err = anchor.LoadKeystore(cfg.Keystore, pass); err != nil {
			cl.Close()
			return nil, err
		}
	}
	cc.Backend = cc.Client
	id, err := cc.Client.ChainID(ctx)
	if err != nil {
		cc.Close()
		return nil, fmt.Errorf("chain id: %w", err)
	}
	cc.ChainID = id.Uint64()
	if cfg.ChainID != 0 && cfg.ChainID != cc.ChainID {
		cc.Close()
		return nil, fmt.Errorf("chain id: endpoint says %d, --chain-id says %d", cc.ChainID, cfg.ChainID)
	}
	return cc, nil
}

// Close releases the chain.
func (c *ChainConn) Close() {
	if c.Dev != nil {
		c.Dev.Close()
		return
	}
	if c.Client != nil {
		c.Client.Close()
	}
}

// contractFile remembers the TwinAnchor address deployed on a chain.
func contractFile(dataDir string, chainID uint64) string {
	return filepath.Join(dataDir, "anchors", fmt.Sprintf("contract-%d.txt", chainID))
}

// FeeCap converts gwei to wei (nil: the service's default).
func FeeCap(gwei float64) *big.Int {
	if gwei <= 0 {
		return nil
	}
	wei, _ := new(big.Float).Mul(big.NewFloat(gwei), big.NewFloat(1e9)).Int(nil)
	return wei
}

// DeployContract deploys TwinAnchor owned by operator (zero: the runtime
// key) with the runtime key authorised as its signer, waits for it to be
// mined and records its address under dataDir for later starts.
func DeployContract(ctx context.Context, cc *ChainConn, dataDir string, feeCapGwei float64, operator common.Address) (common.Address, error) {
	self := crypto.PubkeyToAddress(cc.Key.PublicKey)
	if operator == (common.Address{}) {
		operator = self
	}
	addr, tx, err := anchor.Deploy(ctx, cc.Backend, cc.Key, FeeCap(feeCapGwei), operator, self)
	if err != nil {
		return common.Address{}, err
	}
	if cc.Dev != nil {
		cc.Dev.Commit()
	}
	if _, err := anchor.WaitMined(ctx, cc.Backend, tx.Hash()); err != nil {
		return common.Address{}, fmt.Errorf("deploy TwinAnchor: %w", err)
	}
	f := contractFile(dataDir, cc.ChainID)
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return addr, err
	}
	return addr, os.WriteFile(f, []byte(addr.Hex()+"\n"), 0o644)
}

// contractAddress finds the TwinAnchor to use: the configured one, else the
// one recorded for this chain, else (dev chain only) a new deployment.
func contractAddress(ctx context.Context, cfg *AnchorConfig, cc *ChainConn, dataDir string) (common.Address, error) {
	if cfg.Contract != "" {
		return knownContract(cfg, cc, dataDir)
	}
	if addr, err := knownContract(cfg, cc, dataDir); err == nil {
		// A TwinAnchor of this version answers owner(); an address without
		// code or an older contract does not (the dev chain deploys anew).
		if _, err := anchor.Owner(ctx, cc.Backend, addr); err == nil {
			return addr, nil
		}
	}
	if cc.Dev == nil {
		return common.Address{}, fmt.Errorf("no TwinAnchor contract for chain %d: run `custos anchor deploy` and pass --anchor-contract", cc.ChainID)
	}
	var op common.Address
	if cfg.Operator != "" {
		if !common.IsHexAddress(cfg.Operator) {
			return common.Address{}, fmt.Errorf("--operator %q is not an address", cfg.Operator)
		}
		op = common.HexToAddress(cfg.Operator)
	}
	return DeployContract(ctx, cc, dataDir, cfg.FeeCapGwei, op)
}

// OpenContract opens the configured chain and finds its TwinAnchor (the
// configured address, else the one recorded under dataDir); it never
// deploys.
func OpenContract(ctx context.Context, cfg *AnchorConfig, dataDir string) (*ChainConn, common.Address, error) {
	if cfg.ChainRPC != "" && cfg.Keystore == "" {
		// Owner operations and reads need no runtime key.
		cl, err := ethclient.DialContext(ctx, cfg.ChainRPC)
		if err != nil {
			return nil, common.Address{}, fmt.Errorf("chain %s: %w", cfg.ChainRPC, err)
		}
		id, err := cl.ChainID(ctx)
		if err != nil {
			cl.Close()
			return nil, common.Address{}, fmt.Errorf("chain id: %w", err)
		}
		if cfg.ChainID != 0 && cfg.ChainID != id.Uint64() {
			cl.Close()
			return nil, common.Address{}, fmt.Errorf("chain id: endpoint says %d, --chain-id says %d", id, cfg.ChainID)
		}
		cc := &ChainConn{Backend: cl, Client: cl, ChainID: id.Uint64()}
		addr, err := knownContract(cfg, cc, dataDir)
		if err != nil {
			cc.Close()
			return nil, common.Address{}, err
		}
		return cc, addr, nil
	}
	cc, err := OpenChain(ctx, cfg, dataDir, nil)
	if err != nil {
		return nil, common.Address{}, err
	}
	addr, err := knownContract(cfg, cc, dataDir)
	if err != nil {
		cc.Close()
		return nil, common.Address{}, err
	}
	return cc, addr, nil
}

func knownContract(cfg *AnchorConfig, cc *ChainConn, dataDir string) (common.Address, error) {
	if cfg.Contract != "" {
		if !common.IsHexAddress(cfg.Contract) {
			return common.Address{}, fmt.Errorf("--anchor-contract %q is not an address", cfg.Contract)
		}
		return common.HexToAddress(cfg.Contract), nil
	}
	b, err := os.ReadFile(contractFile(dataDir, cc.ChainID))
	if err != nil {
		return common.Address{}, fmt.Errorf("no TwinAnchor recorded for chain %d under %s: pass --anchor-contract", cc.ChainID, dataDir)
	}
	return common.HexToAddress(strings.TrimSpace(string(b))), nil
}

// LoadOwnerKey loads the operator's key: a go-ethereum keystore file
// (passphrase from passFile or $CUSTOS_KEYSTORE_PASSWORD), or a plain hex
// key file such as the dev chain's devkey.
func LoadOwnerKey(path, passFile string) (*ecdsa.PrivateKey, error) {
	if b, err := os.ReadFile(path); err == nil {
		if k, err := crypto.HexToECDSA(strings.TrimSpace(string(b))); err == nil {
			return k, nil
		}
	}
	pass, err := anchor.Passphrase(passFile, PassphraseEnv)
	if err != nil {
		return nil, err
	}
	return anchor.LoadKeystore(path, pass)
}

// startAnchoring opens the chain and the anchor store and starts the
// anchoring service, fed after every durable batch.
func (a *App) startAnchoring(ctx context.Context) error {
	cfg := a.Config.Anchor
	if a.Config.Cluster != nil && cfg.ChainRPC == "" && cfg.ChainListen == "" {
		return errors.New("cluster: anchoring needs one chain for all nodes: --chain-rpc URL (or --chain-listen on the node whose embedded dev chain the others reach with --chain-rpc), or --anchor=false")
	}
	cc, err := OpenChain(ctx, cfg, a.Config.Data, a.log)
	if err != nil {
		return err
	}
	a.Chain = cc
	a.closers = append(a.closers, cc.Close)
	addr, err := contractAddress(ctx, cfg, cc, a.Config.Data)
	if err != nil {
		return err
	}
	store := a.Store
	acfg := anchor.Config{
		Backend: cc.Backend, ChainID: cc.ChainID, Contract: addr, SignerKey: cc.Key,
		Records: func(ctx context.Context, id string, from, to uint64) ([]twin.Record, error) {
			var out []twin.Record
			for after := from - 1; after < to; {
				recs, err := store.History(ctx, twin.HistoryQuery{Twin: id, AfterSeq: after, Limit: 1000})
				if err != nil {
					return nil, err
				}
				for _, r := range recs {
					if r.Seq <= to {
						out = append(out, r)
					}
				}
				if len(recs) < 1000 {
					break
				}
				after = recs[len(recs)-1].Seq
			}
			return out, nil
		},
		Interval: cfg.Interval, MaxLeaves: cfg.MaxLeaves, Confirmations: cfg.Confirmations,
		FeeCap: FeeCap(cfg.FeeCapGwei), Logger: a.log.With("component", "anchor"),
	}
	if a.Config.Cluster != nil {
		return a.startClusterAnchoring(ctx, acfg)
	}
	st, err := anchorstore.Open(filepath.Join(a.Config.Data, "anchors", "store"))
	if err != nil {
		return fmt.Errorf("anchor store: %w", err)
	}
	a.closers = append(a.closers, func() { st.Close() })
	acfg.Store = st
	acfg.Heads = func(ctx context.Context, after string, limit int) ([]anchor.Head, error) {
		ts, err := store.Twins(ctx, twin.TwinQuery{After: after, Limit: limit})
		if err != nil {
			return nil, err
		}
		hs := make([]anchor.Head, len(ts))
		for i, t := range ts {
			hs[i] = anchor.Head{Twin: t.ID, Seq: t.Seq, Digest: t.Digest}
		}
		return hs, nil
	}
	svc, err := anchor.New(acfg)
	if err != nil {
		return err
	}
	a.Anchor = svc
	a.anchorGauges()
	a.log.Info("anchoring", "chain_id", cc.ChainID, "contract", addr.Hex(), "signer", svc.Signer().Hex(), "dev_chain", cc.Dev != nil)
	return nil
}

// anchorHooks returns the HTTP API's anchoring hooks.
func (a *App) anchorHooks(c *httpapi.Config) {
	if a.Anchor == nil {
		return
	}
	svc, backend := a.Anchor, a.Chain.Backend
	c.Proof = func(ctx context.Context, id string, seq uint64) (any, error) {
		b, err := svc.Proof(ctx, id, seq)
		if errors.Is(err, anchor.ErrNotAnchored) {
			return nil, fmt.Errorf("%w: %v", httpapi.ErrNotAnchored, err)
		}
		return b, err
	}
	c.Anchors = func(ctx context.Context) (any, error) { return svc.Status(ctx) }
	if l := a.AnchorLeader; l != nil {
		c.Anchors = func(ctx context.Context) (any, error) { return l.Status(ctx) }
	}
	c.Verify = func(ctx context.Context, raw json.RawMessage) (any, error) {
		b, err := anchor.ReadBundle(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", httpapi.ErrInvalidProof, err)
		}
		return anchor.Verify(ctx, backend, b, RuntimePin(svc))
	}
}

// RuntimePin is the identity POST /v1/verify checks bundles against: this
// runtime's operator (its TwinAnchor's owner), contract and chain, never
// the bundle's own claims. Bundles from any key the operator authorised,
// earlier ones included, verify.
func RuntimePin(svc *anchor.Service) anchor.Pin {
	return anchor.Pin{Operator: svc.Operator(), Contract: svc.Contract(), ChainID: svc.ChainID()}
}

// onCommit feeds each durable batch's digest heads to the anchor service
// (in a cluster: to the leader, if this node leads).
func (a *App) onCommit(out *twin.Outcome) {
	switch {
	case len(out.States) == 0:
	case a.AnchorLeader != nil:
		a.AnchorLeader.Observe(out.Heads())
	case a.Anchor != nil:
		a.Anchor.Observe(out.Heads())
	}
}

// anchorGauges exports the anchoring status as metrics, read at scrape time.
func (a *App) anchorGauges() {
	svc, m := a.Anchor, a.Metrics
	status := func() *anchor.Status {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if l := a.AnchorLeader; l != nil { // the leader's pending twins
			st, err := l.Status(ctx)
			if err != nil {
				return &anchor.Status{}
			}
			return st.Status
		}
		st, err := svc.Status(ctx)
		if err != nil {
			return &anchor.Status{}
		}
		return st
	}
	m.Gauge("custos_anchor_epochs", "Anchor epochs cut so far.", func() float64 { return float64(status().Epochs) })
	m.Gauge("custos_anchor_pending_twins", "Changed twins waiting for the next epoch.", func() float64 { return float64(status().PendingTwins) })
	m.Gauge("custos_anchor_unconfirmed_epochs", "Epochs signed or sent but not confirmed yet.", func() float64 { return float64(status().Unconfirmed) })
	m.Gauge("custos_anchor_lag_seconds", "Age of the oldest unconfirmed epoch.", func() float64 { return status().Lag.Seconds() })
	m.Gauge("custos_anchor_last_confirmed_epoch", "Highest confirmed epoch.", func() float64 { return float64(status().LastConfirmed) })
	m.Gauge("custos_anchor_gas_used", "Gas used by the most recent confirmed anchor transaction.", func() float64 {
		st := status()
		for i := len(st.Recent) - 1; i >= 0; i-- {
			if e := st.Recent[i]; e.GasUsed > 0 {
				return float64(e.GasUsed)
			}
		}
		return 0
	})
}
