package merkle

import (
	"testing"
)

// BenchmarkKeccak64 is the unit of work: one permutation (a 64-byte pair hash).
func BenchmarkKeccak64(b *testing.B) {
	h := newHasher()
	var x, y Hash
	for b.Loop() {
		x = h.pair(x, y)
	}
}
