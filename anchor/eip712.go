package anchor

import (
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/custos-dev/custos/twin"
)

// EIP-712 names. The domain is (name "custos", version "1", chainId,
// verifyingContract); the signed struct is Anchor(uint64 epoch,bytes32
// root,uint32 count).
const (
	DomainName    = "custos"
	DomainVersion = "1"
)

var (
	domainTypeHash = crypto.Keccak256Hash([]byte("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"))
	anchorTypeHash = crypto.Keccak256Hash([]byte("Anchor(uint64 epoch,bytes32 root,uint32 count)"))
)

// Domain identifies where an anchor signature is valid.
type Domain struct {
	ChainID  *big.Int
	Contract common.Address
}

// Separator returns the EIP-712 domain separator.
func (d Domain) Separator() twin.Hash {
	var chain, addr [32]byte
	d.ChainID.FillBytes(chain[:])
	copy(addr[12:], d.Contract[:])
	return twin.Hash(crypto.Keccak256Hash(domainTypeHash[:], crypto.Keccak256([]byte(DomainName)),
		crypto.Keccak256([]byte(DomainVersion)), chain[:], addr[:]))
}

// AnchorDigest returns the EIP-712 digest of Anchor(epoch, root, count),
// the same value TwinAnchor.hashAnchor returns on chain.
func (d Domain) AnchorDigest(epoch uint64, root twin.Hash, count uint32) twin.Hash {
	var e, c [32]byte
	binary.BigEndian.PutUint64(e[24:], epoch)
	binary.BigEndian.PutUint32(c[28:], count)
	st := crypto.Keccak256(anchorTypeHash[:], e[:], root[:], c[:])
	sep := d.Separator()
	return twin.Hash(crypto.Keccak256Hash([]byte{0x19, 0x01}, sep[:], st))
}

// SignAnchor signs Anchor(epoch, root, count) with key and returns the
// 65-byte signature r ‖ s ‖ v with v in {27, 28}.
func SignAnchor(key *ecdsa.PrivateKey, d Domain, epoch uint64, root twin.Hash, count uint32) ([]byte, error) {
	h := d.AnchorDigest(epoch, root, count)
	sig, err := crypto.Sign(h[:], key)
	if err != nil {
		return nil, fmt.Errorf("sign anchor: %w", err)
	}
	sig[64] += 27
	return sig, nil
}

// RecoverAnchorSigner returns the address that signed Anchor(epoch, root,
// count) in domain d.
func RecoverAnchorSigner(d Domain, epoch uint64, root twin.Hash, count uint32, sig []byte) (common.Address, error) {
	if len(sig) != 65 {
		return common.Address{}, fmt.Errorf("signature: %d bytes, want 65", len(sig))
	}
	s := append([]byte(nil), sig...)
	if s[64] >= 27 {
		s[64] -= 27
	}
	h := d.AnchorDigest(epoch, root, count)
	pub, err := crypto.SigToPub(h[:], s)
	if err != nil {
		return common.Address{}, fmt.Errorf("signature: %w", err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}
