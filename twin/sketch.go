package twin

import (
	"hash/maphash"
	"math/bits"
)

// freqSketch estimates how often each twin of a shard was touched lately,
// resident or not: a count-min sketch of 4-bit counters that halves every
// counter once it has counted ten touches per counter of a row (the
// frequency histogram of TinyLFU, Einziger, Friedman and Manes, 2017).
// Passivation evicts the least frequent twins first (shard.passivate).
type freqSketch struct {
	table  []uint64 // 16 counters of 4 bits each
	mask   uint64   // counters − 1
	seed   maphash.Seed
	added  int // increments since the last halving
	sample int // increments between halvings
}

// newFreqSketch returns a sketch sized for n twins: at least n counters
// per row (four rows share the table), so that collisions rarely lift an
// estimate.
func newFreqSketch(n int) *freqSketch {
	words := 1 << bits.Len(uint(max(n, 16)-1)) // n rounded up to a power of two
	return &freqSketch{table: make([]uint64, words), mask: uint64(words*16 - 1),
		seed: maphash.MakeSeed(), sample: 10 * words * 4}
}

func (f *freqSketch) hash(id string) uint64 { return maphash.String(f.seed, id) }

func (f *freqSketch) hashBytes(id []byte) uint64 { return maphash.Bytes(f.seed, id) }

// counter returns the word and the shift of counter i of hash h.
func (f *freqSketch) counter(h uint64, i uint64) (int, uint) {
	// Double hashing: four counters from one 64-bit hash.
	c := (h + i*((h>>32)|1)) & f.mask
	return int(c >> 4), uint(c&15) * 4
}

// add counts one touch of the twin whose hash is h.
func (f *freqSketch) add(h uint64) {
	for i := range uint64(4) {
		w, s := f.counter(h, i)
		if (f.table[w]>>s)&15 < 15 {
			f.table[w] += 1 << s
		}
	}
	if f.added++; f.added >= f.sample {
		f.halve()
	}
}

// estimate returns how often the twin whose hash is h was touched
// (0–15): the least of its four counters.
func (f *freqSketch) estimate(h uint64) uint64 {
	n := uint64(15)
	for i := range uint64(4) {
		w, s := f.counter(h, i)
		n = min(n, (f.table[w]>>s)&15)
	}
	return n
}

// halve ages every counter, so that what was frequent long ago counts
// less than what is frequent now.
func (f *freqSketch) halve() {
	for i, w := range f.table {
		f.table[i] = (w >> 1) & 0x7777_7777_7777_7777
	}
	f.added /= 2
}
