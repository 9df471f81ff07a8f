package twin

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// AppendBuffered appends the storage encoding of a twin's buffered events to
// b: uvarint count, then per event uvarint stream seq, uvarint length and
// the canonical event encoding. Stores keep it as an opaque value.
func AppendBuffered(b []byte, bs []Buffered) []byte {
	b = binary.AppendUvarint(b, uint64(len(bs)))
	for i := range bs {
		b = binary.AppendUvarint(b, bs[i].StreamSeq)
		b = binary.AppendUvarint(b, uint64(bs[i].Event.EncodedLen()))
		b, _ = bs[i].Event.AppendBinary(b)
	}
	return b
}

// ParseBuffered decodes what AppendBuffered wrote. Empty input is no events.
func ParseBuffered(b []byte) ([]Buffered, error) {
	if len(b) == 0 {
		return nil, nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errors.New("buffered events: bad count")
	}
	b = b[k:]
	out := make([]Buffered, n)
	for i := range out {
		seq, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, errors.New("buffered events: bad stream seq")
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errors.New("buffered events: bad length")
		}
		b = b[k:]
		out[i].StreamSeq = seq
		if err := out[i].Event.UnmarshalBinary(b[:l]); err != nil {
			return nil, fmt.Errorf("buffered event %d: %w", i, err)
		}
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("buffered events: %d trailing bytes", len(b))
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
