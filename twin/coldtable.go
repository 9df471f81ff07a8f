package twin

import (
	"encoding/binary"
	"hash/maphash"
)

// coldTable holds a shard's packed twins. A Go map from id to bytes costs
// about 100 bytes per entry beyond the bytes (key and slice headers, control
// bytes, growth slack, the id's own allocation); a fleet of a million quiet
// twins would spend a third of its memory on it. This table is one slice of
// entries, each entry one allocation holding the id and the packed twin:
// 24 bytes of slot at a load factor of at most 3/4, about 32 bytes per twin.
//
// An entry is: id length (1 byte; ids are at most 128 bytes), id, then the
// packed twin (resident.go). Open addressing, linear probing, deletion by
// backward shift (no tombstones). Owned by its shard; not safe for
// concurrent use.
type coldTable struct {
	seed  maphash.Seed
	slots [][]byte // nil: empty
	n     int
}

func newColdTable() *coldTable {
	return &coldTable{seed: maphash.MakeSeed(), slots: make([][]byte, 64)}
}

func entryID(e []byte) []byte { return e[1 : 1+int(e[0])] }

// packedOf returns the packed twin of an entry.
func packedOf(e []byte) []byte { return e[1+int(e[0]):] }

func (c *coldTable) home(id []byte) int {
	return int(maphash.Bytes(c.seed, id) & uint64(len(c.slots)-1))
}

func (c *coldTable) homeString(id string) int {
	return int(maphash.String(c.seed, id) & uint64(len(c.slots)-1))
}

// find returns the slot holding id, or -1.
func (c *coldTable) find(id string) int {
	mask := len(c.slots) - 1
	for i := c.homeString(id); ; i = (i + 1) & mask {
		e := c.slots[i]
		if e == nil {
			return -1
		}
		if int(e[0]) == len(id) && string(entryID(e)) == id {
			return i
		}
	}
}

// get returns the packed twin id, or nil.
func (c *coldTable) get(id string) []byte {
	if i := c.find(id); i >= 0 {
		return packedOf(c.slots[i])
	}
	return nil
}

// put adds or replaces an entry (made by newEntry).
func (c *coldTable) put(e []byte) {
	if (c.n+1)*4 > len(c.slots)*3 {
		c.grow()
	}
	mask := len(c.slots) - 1
	for i := c.home(entryID(e)); ; i = (i + 1) & mask {
		old := c.slots[i]
		if old == nil {
			c.slots[i] = e
			c.n++
			return
		}
		if string(entryID(old)) == string(entryID(e)) {
			c.slots[i] = e
			return
		}
	}
}

func (c *coldTable) grow() {
	old := c.slots
	c.slots = make([][]byte, 2*len(old))
	c.n = 0
	for _, e := range old {
		if e != nil {
			c.put(e)
		}
	}
}

// delete removes id if present.
func (c *coldTable) delete(id string) {
	i := c.find(id)
	if i < 0 {
		return
	}
	mask := len(c.slots) - 1
	c.slots[i] = nil
	c.n--
	// Backward shift: move up every later entry of the run that may not
	// sit after the hole (its home is not cyclically in (i, j]).
	for j := (i + 1) & mask; c.slots[j] != nil; j = (j + 1) & mask {
		h := c.home(entryID(c.slots[j]))
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			c.slots[i], c.slots[j] = c.slots[j], nil
			i = j
		}
	}
}

func (c *coldTable) len() int { return c.n }

// clear empties the table, keeping its size.
func (c *coldTable) clear() {
	clear(c.slots)
	c.n = 0
}

// each calls f with the id and packed twin of every entry; f must not
// change the table.
func (c *coldTable) each(f func(id, packed []byte)) {
	for _, e := range c.slots {
		if e != nil {
			f(entryID(e), packedOf(e))
		}
	}
}

// newEntry returns a table entry of its own, exactly as long as needed,
// for id and the packed twin p.
func newEntry(id string, p []byte) []byte {
	e := make([]byte, 0, 1+len(id)+len(p))
	e = append(append(append(e, byte(len(id))), id...), p...)
	return e
}

// A packed twin starts with its lastUsed (8 bytes) and loaded (4 bytes),
// little endian; passivation reads both without unpacking it.
const packedHeader = 12

// packedLastUsed is the lastUsed of a packed twin.
func packedLastUsed(p []byte) int64 { return int64(binary.LittleEndian.Uint64(p)) }

// packedLoaded is the loaded of a packed twin.
func packedLoaded(p []byte) uint32 { return binary.LittleEndian.Uint32(p[8:]) }
