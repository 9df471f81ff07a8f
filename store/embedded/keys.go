package embedded

import (
	"encoding/binary"
	"time"
)

// Key spaces. The first byte of a key says what it holds; see the package
// documentation for the layout.
const (
	spaceSnapshot   = 's' // 's' id                             → snapshot
	spaceHistory    = 'h' // 'h' id 0x00 seq(u64be)             → record
	spaceAlert      = 'a' // 'a' id 0x00 n(u64be)               → alert
	spaceAlertsTime = 't' // 't' time(u64be) id 0x00 n(u64be)   → empty
	spaceIndex      = 'i' // 'i' field len(uvarint) value id    → empty
	spaceTimers     = 'p' // 'p' id                             → empty: twins with processing-time timers
	spaceMeta       = 'm' // 'm' name                           → store metadata

	fieldStatus    = 's'
	fieldKind      = 'k'
	fieldCustodian = 'c'
)

// sep ends a twin id inside a key. Ids are [A-Za-z0-9_-], all above 0x00,
// so "a" 0x00 sorts before "a-" and "ab" and one twin's keys never
// interleave with another's.
const sep = 0x00

func snapshotKey(b []byte, id string) []byte {
	return append(append(b, spaceSnapshot), id...)
}

// twinPrefix is space id 0x00: the prefix of one twin's history or alerts.
func twinPrefix(b []byte, space byte, id string) []byte {
	return append(append(append(b, space), id...), sep)
}

func seqKey(b []byte, space byte, id string, n uint64) []byte {
	return binary.BigEndian.AppendUint64(twinPrefix(b, space, id), n)
}

// timeOrder maps a time to a uint64 whose big-endian bytes sort like the
// times. The zero time sorts first.
func timeOrder(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano()) ^ 1<<63
}

func alertTimeKey(b []byte, t time.Time, id string, n uint64) []byte {
	b = binary.BigEndian.AppendUint64(append(b, spaceAlertsTime), timeOrder(t))
	b = append(append(b, id...), sep)
	return binary.BigEndian.AppendUint64(b, n)
}

// parseAlertTimeKey returns the twin id and alert number of an alertTimeKey.
func parseAlertTimeKey(k []byte) (id string, n uint64, ok bool) {
	if len(k) < 1+8+1+1+8 || k[len(k)-9] != sep {
		return "", 0, false
	}
	return string(k[9 : len(k)-9]), binary.BigEndian.Uint64(k[len(k)-8:]), true
}

// indexPrefix is the prefix of the index entries of field = value.
func indexPrefix(b []byte, field byte, value string) []byte {
	b = binary.AppendUvarint(append(b, spaceIndex, field), uint64(len(value)))
	return append(b, value...)
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil if there is none.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func beAppend(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// metaTimerIndex marks a store whose 'p' space lists every twin with
// processing-time timers (absent in stores written before it existed: Open
// fills the space then).
var metaTimerIndex = []byte{spaceMeta, 'p'}

func timerKey(b []byte, id string) []byte {
	return append(append(b, spaceTimers), id...)
}
