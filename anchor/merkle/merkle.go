// Package merkle builds Merkle trees of twin digests with the conventions of
// OpenZeppelin's StandardMerkleTree and MerkleProof: leaves are
// double-hashed, keccak256(bytes.concat(keccak256(abi.encode(twin, seq,
// digest)))), leaf hashes are sorted, the tree is a complete binary tree laid
// out in an array exactly like @openzeppelin/merkle-tree, and each inner node
// is keccak256 of its two children in ascending order. A root built here is
// the root StandardMerkleTree.of(leaves, ["string","uint64","bytes32"])
// yields, and a proof verifies with MerkleProof.verify on chain.
package merkle

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/crypto/keccak"

	"github.com/custos-dev/custos/twin"
)

// Hash is a 32-byte keccak256 digest.
type Hash = twin.Hash

type hasher struct {
	k   crypto.KeccakState
	buf []byte
	out Hash
}

func newHasher() *hasher {
	return &hasher{k: keccak.NewLegacyKeccak256().(crypto.KeccakState), buf: make([]byte, 0, 256)}
}

// sum returns keccak256(p). p must not alias out's storage; callers pass
// h.buf so that nothing escapes to the heap per call.
func (h *hasher) sum(p []byte) (out Hash) {
	h.k.Reset()
	h.k.Write(p)
	h.k.Read(h.out[:])
	return h.out
}

// leaf returns keccak256(keccak256(abi.encode(string id, uint64 seq, bytes32 digest))).
func (h *hasher) leaf(id string, seq uint64, digest Hash) Hash {
	b := h.buf[:0]
	var w [32]byte
	w[31] = 0x60 // offset of the string: three head words
	b = append(b, w[:]...)
	w = [32]byte{}
	binary.BigEndian.PutUint64(w[24:], seq)
	b = append(b, w[:]...)
	b = append(b, digest[:]...)
	w = [32]byte{}
	binary.BigEndian.PutUint64(w[24:], uint64(len(id)))
	b = append(b, w[:]...)
	b = append(b, id...)
	if r := len(id) % 32; r != 0 {
		b = append(b, make([]byte, 32-r)...)
	}
	h.buf = b
	inner := h.sum(b)
	return h.sum(append(b[:0], inner[:]...))
}

func (h *hasher) pair(a, b Hash) Hash {
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	buf := append(append(h.buf[:0], a[:]...), b[:]...)
	return h.sum(buf)
}

// LeafHash returns the OpenZeppelin StandardMerkleTree leaf of
// abi.encode(string twin, uint64 seq, bytes32 digest).
func LeafHash(id string, seq uint64, digest Hash) Hash {
	return newHasher().leaf(id, seq, digest)
}

// HashPair returns keccak256 of a and b in ascending byte order (OpenZeppelin
// Hashes.commutativeKeccak256).
func HashPair(a, b Hash) Hash { return newHasher().pair(a, b) }

// Leaf is one twin head in an epoch.
type Leaf struct {
	Twin   string `json:"twin"`
	Seq    uint64 `json:"seq"`
	Digest Hash   `json:"digest"`
}

// Hash returns the leaf hash of l.
func (l Leaf) Hash() Hash { return LeafHash(l.Twin, l.Seq, l.Digest) }

// Tree is a built Merkle tree. Nodes are kept in the OpenZeppelin array
// layout: node i has children 2i+1 and 2i+2; the n sorted leaf hashes occupy
// the last n slots in reverse order.
type Tree struct {
	nodes []Hash
	n     int
}

// Build hashes the leaves (in parallel) and builds the tree. It returns nil
// for no leaves.
func Build(leaves []Leaf) *Tree {
	if len(leaves) == 0 {
		return nil
	}
	hs := make([]Hash, len(leaves))
	parallel(len(leaves), func(lo, hi int) {
		h := newHasher()
		for i := lo; i < hi; i++ {
			hs[i] = h.leaf(leaves[i].Twin, leaves[i].Seq, leaves[i].Digest)
		}
	})
	return BuildHashes(hs)
}

// BuildHashes builds the tree from leaf hashes; it sorts hs in place.
func BuildHashes(hs []Hash) *Tree {
	n := len(hs)
	if n == 0 {
		return nil
	}
	slices.SortFunc(hs, func(a, b Hash) int {
		x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return bytes.Compare(a[8:], b[8:])
	})
	nodes := make([]Hash, 2*n-1)
	for i, h := range hs {
		nodes[len(nodes)-1-i] = h
	}
	// Inner nodes are 0..n-2. Work level by level from the deepest so that
	// each level can be split across goroutines.
	depth := 0
	for (1<<(depth+1))-1 <= n-2 {
		depth++
	}
	for d := depth; d >= 0; d-- {
		lo, hi := (1<<d)-1, min((1<<(d+1))-1, n-1)
		if lo >= hi {
			continue
		}
		parallel(hi-lo, func(a, b int) {
			h := newHasher()
			for i := lo + a; i < lo+b; i++ {
				nodes[i] = h.pair(nodes[2*i+1], nodes[2*i+2])
			}
		})
	}
	return &Tree{nodes: nodes, n: n}
}

// Len is the number of leaves.
func (t *Tree) Len() int { return t.n }

// Root returns the root.
func (t *Tree) Root() Hash { return t.nodes[0] }

// Proof returns the sibling path from the leaf with hash leaf up to the root,
// and false if leaf is not in the tree.
func (t *Tree) Proof(leaf Hash) ([]Hash, bool) {
	// Leaves sit at nodes[n-1:] in descending order.
	ls := t.nodes[t.n-1:]
	i, ok := slices.BinarySearchFunc(ls, leaf, func(e, target Hash) int { return -bytes.Compare(e[:], target[:]) })
	if !ok {
		return nil, false
	}
	j := t.n - 1 + i
	var path []Hash
	for j > 0 {
		s := j + 1
		if j%2 == 0 {
			s = j - 1
		}
		path = append(path, t.nodes[s])
		j = (j - 1) / 2
	}
	return path, true
}

// ProcessProof returns the root obtained from leaf and its sibling path
// (OpenZeppelin MerkleProof.processProof).
func ProcessProof(leaf Hash, path []Hash) Hash {
	h := newHasher()
	for _, p := range path {
		leaf = h.pair(leaf, p)
	}
	return leaf
}

// Verify reports whether path proves leaf under root.
func Verify(root, leaf Hash, path []Hash) bool { return ProcessProof(leaf, path) == root }

// parallel splits [0,n) across GOMAXPROCS goroutines when n is large.
func parallel(n int, f func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if n < 4096 || p == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + p - 1) / p
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() { defer wg.Done(); f(lo, hi) }()
	}
	wg.Wait()
}
