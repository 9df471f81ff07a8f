package contracts

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/custos-dev/custos/twin"
)

// Output limits of ABI v1 (see wasm-policies/ABI.md, "Output").
const (
	maxNameLen    = 64   // status, alert code, timer name
	maxTextLen    = 1024 // alert message, reject reason
	maxAlerts     = 256
	maxTimers     = 256
	outputVersion = 1
)

// decodeOutput decodes an ABI v1 output. buf must be owned by the caller
// and never modified afterwards: strings in the result alias it. The view
// is checked to be valid JSON unless trusted (built-in modules, whose views
// are tested: json.Valid costs ~1 µs, a fifth of a coldchain call).
func decodeOutput(buf []byte, trusted bool) (twin.Output, error) {
	var out twin.Output
	d := decoder{b: buf}
	if len(buf) < 4 || buf[0] != outputVersion || buf[1] != 0 || buf[2] != 0 || buf[3] != 0 {
		return out, fmt.Errorf("%w: bad header (want version 1 and 3 zero bytes)", errOutput)
	}
	d.off = 4
	state := d.bytes("state", 1<<31)
	if state != nil {
		out.State = state[:len(state):len(state)]
	} else if d.err == nil {
		out.State = []byte{}
	}
	out.Status = d.name("status", true)
	if v := d.bytes("view", 1<<31); len(v) > 0 {
		if !trusted && !json.Valid(v) {
			d.fail("view is not valid JSON")
		}
		out.View = v[:len(v):len(v)]
	}
	out.Reject = d.text("reject reason")
	if n := d.count("alerts", maxAlerts); n > 0 {
		out.Alerts = make([]twin.ContractAlert, n)
		for i := range out.Alerts {
			sev := d.head("alert")
			a := &out.Alerts[i]
			switch sev {
			case 1:
				a.Severity = twin.SeverityInfo
			case 2:
				a.Severity = twin.SeverityWarning
			case 3:
				a.Severity = twin.SeverityCritical
			default:
				d.fail(fmt.Sprintf("alert %d: severity %d not in 1..3", i, sev))
			}
			a.Code = d.name("alert code", false)
			a.Message = d.text("alert message")
		}
	}
	if n := d.count("timers", maxTimers); n > 0 {
		out.Timers = make([]twin.Timer, n)
		for i := range out.Timers {
			op := d.head("timer")
			at := int64(d.u64())
			t := &out.Timers[i]
			switch {
			case op == 1 && at > 0: // event time: due when the watermark reaches at
				t.At = time.Unix(0, at).UTC()
			case op == 2 && at == 0:
			case op == 3 && at > 0: // processing time: a delay after the record time
				t.Processing, t.Delay = true, time.Duration(at)
			case d.err == nil:
				d.fail(fmt.Sprintf("timer %d: op %d with at %d (want 1 or 3 with at > 0, or 2 with at 0)", i, op, at))
			}
			t.Name = d.timerName()
		}
	}
	if d.err == nil && d.off != len(buf) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(buf)-d.off))
	}
	if d.err != nil {
		return twin.Output{}, d.err
	}
	return out, nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", errOutput, msg, d.off)
	}
}

func (d *decoder) u32() uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 4 {
		d.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// head reads a 4-byte record head: a tag byte and three zero bytes.
func (d *decoder) head(what string) byte {
	v := d.u32()
	if v>>8 != 0 {
		d.fail(what + ": reserved bytes not zero")
	}
	return byte(v)
}

func (d *decoder) count(what string, max uint32) int {
	n := d.u32()
	if n > max {
		d.fail(fmt.Sprintf("%d %s over the limit of %d", n, what, max))
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(what string, max uint32) []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if n > max || uint64(n) > uint64(len(d.b)-d.off) {
		d.fail(what + " length out of range")
		return nil
	}
	if n == 0 {
		return nil
	}
	s := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

func (d *decoder) str(what string, max uint32) string {
	b := d.bytes(what, max)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// name reads a status or alert code: 1–64 bytes of [a-z0-9_] (empty allowed
// if optional).
func (d *decoder) name(what string, optional bool) string {
	s := d.str(what, maxNameLen)
	if d.err != nil {
		return ""
	}
	if s == "" && !optional {
		d.fail(what + " is empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			d.fail(what + " has a character outside [a-z0-9_]")
			break
		}
	}
	return s
}

func (d *decoder) timerName() string {
	s := d.str("timer name", maxNameLen)
	if d.err != nil {
		return ""
	}
	if s == "" {
		d.fail("timer name is empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			d.fail("timer name has a character outside [A-Za-z0-9_.-]")
			break
		}
	}
	return s
}

func (d *decoder) text(what string) string {
	s := d.str(what, maxTextLen)
	if d.err == nil && !utf8.ValidString(s) {
		d.fail(what + " is not valid UTF-8")
	}
	return s
}
