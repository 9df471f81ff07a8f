package anchor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/custos-dev/custos/anchor/merkle"
	"github.com/custos-dev/custos/twin"
)

// compactMagic starts a compact proof bundle ("custos proof, version 2",
// the version of BundleFormat custos-proof/2).
var compactMagic = []byte("CPB2")

// Compact proof bundles carry only what cannot be recomputed: the digests
// of the links, the leaf, the root and the signer are derived again when
// the bundle is read (ReadCompact), so a proof of a twin in an epoch of
// 1,000,000 leaves (a 20-hash Merkle path) takes 1,017 bytes. The
// result is an ordinary Bundle that Verify checks in full; a changed byte
// changes a derived root or signer, which the chain then does not confirm.
//
// Layout (integers big-endian):
//
//	"CPB2"
//	u8 twin length, twin
//	u64 seq
//	32 prev digest
//	u16 event length, event (0: none)
//	u16 link count, per link: 32 event hash, 32 state hash, 32 module
//	u8 path length, 32 per hash
//	u64 epoch, u32 count, 65 signature
//	u64 chain id, 20 contract, 20 operator, 32 tx, u64 block

// MarshalCompact returns the compact binary form of b.
func (b *Bundle) MarshalCompact() ([]byte, error) {
	if len(b.Twin) > 255 || len(b.Event) > 0xffff || len(b.Links) > 0xffff || len(b.Path) > 255 || len(b.Signature) != 65 {
		return nil, errors.New("compact bundle: field too long")
	}
	for _, l := range b.Links {
		if l.Failure != "" {
			// CPB2 has no room for a failure kind; the JSON form has.
			return nil, fmt.Errorf("compact bundle: seq %d is a failure record: use the JSON form", l.Seq)
		}
	}
	out := make([]byte, 0, 1024)
	out = append(out, compactMagic...)
	out = append(out, byte(len(b.Twin)))
	out = append(out, b.Twin...)
	out = binary.BigEndian.AppendUint64(out, b.Seq)
	out = append(out, b.Prev[:]...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.Event)))
	out = append(out, b.Event...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.Links)))
	for _, l := range b.Links {
		out = append(out, l.EventHash[:]...)
		out = append(out, l.StateHash[:]...)
		out = append(out, l.Module[:]...)
	}
	out = append(out, byte(len(b.Path)))
	for _, h := range b.Path {
		out = append(out, h[:]...)
	}
	out = binary.BigEndian.AppendUint64(out, b.Epoch)
	out = binary.BigEndian.AppendUint32(out, b.Count)
	out = append(out, b.Signature...)
	out = binary.BigEndian.AppendUint64(out, b.ChainID)
	out = append(out, b.Contract[:]...)
	out = append(out, b.Operator[:]...)
	out = append(out, b.Tx[:]...)
	out = binary.BigEndian.AppendUint64(out, b.Block)
	return out, nil
}

// IsCompact reports whether data looks like a compact bundle.
func IsCompact(data []byte) bool { return bytes.HasPrefix(data, compactMagic) }

var errCompactShort = errors.New("compact bundle: truncated")

// ReadCompact decodes a compact bundle and derives the digests, leaf, root
// and signer, returning a full Bundle for Verify.
func ReadCompact(data []byte) (*Bundle, error) {
	if !IsCompact(data) {
		return nil, errors.New("compact bundle: bad magic")
	}
	r := compactReader{b: data[len(compactMagic):]}
	b := &Bundle{Format: BundleFormat}
	b.Twin = string(r.take(int(r.u8())))
	b.Seq = r.u64()
	copy(b.Prev[:], r.take(32))
	if n := int(r.u16()); n > 0 {
		b.Event = append([]byte(nil), r.take(n)...)
	}
	nl := int(r.u16())
	if r.err == nil && nl*96 > len(r.b) {
		return nil, errCompactShort
	}
	hs := twin.NewHasher()
	prev := b.Prev
	for i := 0; i < nl && r.err == nil; i++ {
		var l Link
		l.Seq = b.Seq + uint64(i)
		copy(l.EventHash[:], r.take(32))
		copy(l.StateHash[:], r.take(32))
		copy(l.Module[:], r.take(32))
		l.Digest = hs.Next(prev, b.Twin, l.Seq, l.EventHash, l.StateHash, l.Module)
		prev = l.Digest
		b.Links = append(b.Links, l)
	}
	np := int(r.u8())
	for i := 0; i < np && r.err == nil; i++ {
		var h twin.Hash
		copy(h[:], r.take(32))
		b.Path = append(b.Path, h)
	}
	b.Epoch = r.u64()
	b.Count = r.u32()
	b.Signature = append([]byte(nil), r.take(65)...)
	b.ChainID = r.u64()
	copy(b.Contract[:], r.take(20))
	copy(b.Operator[:], r.take(20))
	copy(b.Tx[:], r.take(32))
	b.Block = r.u64()
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("compact bundle: %d trailing bytes", len(r.b))
	}
	if len(b.Links) == 0 || !twin.ValidID(b.Twin) {
		return nil, errors.New("compact bundle: no links or invalid twin")
	}
	b.Digest = b.Links[0].Digest
	last := b.Links[len(b.Links)-1]
	b.LeafHash = merkle.LeafHash(b.Twin, last.Seq, last.Digest)
	b.Root = merkle.ProcessProof(b.LeafHash, b.Path)
	d := Domain{ChainID: new(big.Int).SetUint64(b.ChainID), Contract: b.Contract}
	who, err := RecoverAnchorSigner(d, b.Epoch, b.Root, b.Count, b.Signature)
	if err != nil {
		return nil, fmt.Errorf("compact bundle: %w", err)
	}
	b.Signer = who
	return b, nil
}

type compactReader struct {
	b   []byte
	err error
}

func (r *compactReader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errCompactShort
		return make([]byte, n)
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *compactReader) u8() uint8   { return r.take(1)[0] }
func (r *compactReader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *compactReader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *compactReader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }
