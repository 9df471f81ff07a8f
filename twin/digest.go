package twin

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strings"

	"golang.org/x/crypto/sha3"
)

// Hash is a 32-byte digest (keccak256 or sha256). It marshals to JSON as a
// 0x-prefixed lowercase hex string.
type Hash [32]byte

// String returns the 0x-prefixed hex form.
func (h Hash) String() string { return "0x" + hex.EncodeToString(h[:]) }

// Hex returns the hex form without prefix.
func (h Hash) Hex() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeroes.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText accepts 64 hex digits with or without 0x.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses 64 hex digits, with or without a 0x prefix.
func ParseHash(s string) (Hash, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	var h Hash
	if len(s) != 64 {
		return h, errors.New("hash: want 64 hex digits")
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, errors.New("hash: not hex")
	}
	return h, nil
}

// Keccak256 returns the legacy Keccak-256 (Ethereum's keccak256) of the
// concatenated inputs.
func Keccak256(data ...[]byte) Hash {
	d := sha3.NewLegacyKeccak256()
	for _, b := range data {
		d.Write(b)
	}
	var h Hash
	d.Sum(h[:0])
	return h
}

// Hasher computes digests without allocating per call. It is not safe for
// concurrent use; each shard has its own.
type Hasher struct {
	k   hash.Hash
	r   io.Reader // k's squeeze: the digest without Sum's copy of the state
	out Hash
	buf []byte
}

// NewHasher returns a Hasher.
func NewHasher() *Hasher {
	k := sha3.NewLegacyKeccak256()
	r, _ := k.(io.Reader)
	return &Hasher{k: k, r: r, buf: make([]byte, 0, 256)}
}

// Sum returns keccak256(b).
func (h *Hasher) Sum(b []byte) Hash {
	h.k.Reset()
	h.k.Write(b)
	if h.r != nil {
		h.r.Read(h.out[:])
	} else {
		h.k.Sum(h.out[:0])
	}
	return h.out
}

// Next computes the next link of a twin's digest chain; see [NextDigest].
func (h *Hasher) Next(prev Hash, twin string, seq uint64, eventHash, stateHash, module Hash) Hash {
	return h.NextFailure(prev, twin, seq, eventHash, stateHash, module, "")
}

// NextFailure computes the next link of a twin's digest chain for a record
// with the given failure kind ("" for an applied event); see
// [NextFailureDigest].
func (h *Hasher) NextFailure(prev Hash, twin string, seq uint64, eventHash, stateHash, module Hash, failure string) Hash {
	b := h.buf[:0]
	b = append(b, prev[:]...)
	b = append(b, twin...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, eventHash[:]...)
	b = append(b, stateHash[:]...)
	b = append(b, module[:]...)
	b = append(b, failure...)
	h.buf = b
	return h.Sum(b)
}

// Link computes the digest link of r from the previous digest: NextDigest
// for an applied event, NextFailureDigest for a failure record.
func (r *Record) Link(prev Hash) Hash {
	return NextFailureDigest(prev, r.Twin, r.Seq, r.EventHash, r.StateHash, r.Module, r.Failure)
}

// NextDigest returns
//
//	keccak256(prev ‖ twin ‖ uint64be(seq) ‖ eventHash ‖ stateHash ‖ module)
//
// where eventHash = keccak256(canonical event encoding), stateHash =
// keccak256(contract state after the event) and module is the sha256 of the
// contract module that evaluated the event. This is Solidity's
// keccak256(abi.encodePacked(prev, twin, seq, eventHash, stateHash, module))
// with twin a string and seq a uint64. The chain starts from the zero hash.
func NextDigest(prev Hash, twin string, seq uint64, eventHash, stateHash, module Hash) Hash {
	return NewHasher().Next(prev, twin, seq, eventHash, stateHash, module)
}

// NextFailureDigest returns the digest link of a failure record:
//
//	keccak256(prev ‖ twin ‖ uint64be(seq) ‖ eventHash ‖ stateHash ‖ module ‖ failure)
//
// where failure is the ASCII failure kind (FailureFuel, FailureTrap, …) and
// stateHash the keccak256 of the twin's unchanged state. In Solidity,
// keccak256(abi.encodePacked(prev, twin, seq, eventHash, stateHash, module,
// failure)) with failure a string. With failure "" it is [NextDigest]: an
// applied event appends nothing, so digests of chains without failures are
// unchanged. The failure kind is never empty, so for one twin the preimage
// of a failure record is always longer than that of an applied event.
func NextFailureDigest(prev Hash, twin string, seq uint64, eventHash, stateHash, module Hash, failure string) Hash {
	return NewHasher().NextFailure(prev, twin, seq, eventHash, stateHash, module, failure)
}
