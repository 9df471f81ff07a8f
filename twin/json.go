package twin

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// MarshalJSON renders the public JSON form of a twin (the KV value).
func (t *Twin) MarshalJSON() ([]byte, error) {
	return t.AppendJSON(make([]byte, 0, 512)), nil
}

// AppendJSON appends the public JSON form of t to b. It is on the ingest hot
// path (one per changed twin per batch), hence written out by hand; the
// result is what encoding/json would produce for the tagged fields.
func (t *Twin) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, t.ID)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, t.Kind)
	b = append(b, `,"contract":{"name":`...)
	b = appendJSONString(b, t.Contract.Name)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, t.Contract.Version)
	b = append(b, `,"sha256":`...)
	b = appendHash(b, t.Contract.SHA256)
	b = append(b, '}')
	if len(t.Params) > 0 {
		b = append(b, `,"params":`...)
		b = appendRaw(b, t.Params)
	}
	if t.Parent != "" {
		b = append(b, `,"parent":`...)
		b = appendJSONString(b, t.Parent)
	}
	if len(t.Children) > 0 {
		b = append(b, `,"children":[`...)
		for i, c := range t.Children {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, c)
		}
		b = append(b, ']')
	}
	if t.Custodian != "" {
		b = append(b, `,"custodian":`...)
		b = appendJSONString(b, t.Custodian)
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, t.Status)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, t.Seq, 10)
	if len(t.View) > 0 {
		b = append(b, `,"view":`...)
		b = appendRaw(b, t.View)
	}
	b = append(b, `,"digest":`...)
	b = appendHash(b, t.Digest)
	b = append(b, `,"alerts":`...)
	b = strconv.AppendUint(b, t.Alerts, 10)
	b = append(b, `,"created":`...)
	b = appendJSONTime(b, t.Created)
	b = append(b, `,"updated":`...)
	b = appendJSONTime(b, t.Updated)
	b = append(b, `,"watermark":`...)
	b = appendJSONTime(b, t.Watermark)
	if !t.LastReading.IsZero() {
		b = append(b, `,"last_reading":`...)
		b = appendJSONTime(b, t.LastReading)
	}
	if t.Lag != 0 {
		b = append(b, `,"lag_ns":`...)
		b = strconv.AppendInt(b, int64(t.Lag), 10)
	}
	if t.Lateness != 0 {
		b = append(b, `,"lateness_ns":`...)
		b = strconv.AppendInt(b, int64(t.Lateness), 10)
	}
	return append(b, '}')
}

// appendRaw appends raw JSON. Params and View are valid, compact JSON by
// construction (Command.Input and the runtime's view check), so it is not
// validated again here.
func appendRaw(b, raw []byte) []byte {
	return append(b, raw...)
}

func appendHash(b []byte, h Hash) []byte {
	b = append(b, `"0x`...)
	b = hex.AppendEncode(b, h[:])
	return append(b, '"')
}

func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string, escaping like encoding/json.
// Strings with nothing to escape (printable ASCII other than " \\ < > &,
// and valid UTF-8 other than U+2028 and U+2029) are copied; anything else
// goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendMarshalled(b, s)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r == '\u2028' || r == '\u2029' {
			return appendMarshalled(b, s)
		}
		i += n
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// MarshalJSON renders the public JSON form of an alert (what is published
// on custos.twin.<id>.alert).
func (a *Alert) MarshalJSON() ([]byte, error) {
	return a.AppendJSON(make([]byte, 0, 192)), nil
}

// AppendJSON appends the public JSON form of a to b: what encoding/json
// would produce for the tagged fields, written out by hand as it is on the
// ingest path (one per alert).
func (a *Alert) AppendJSON(b []byte) []byte {
	b = append(b, `{"twin":`...)
	b = appendJSONString(b, a.Twin)
	b = append(b, `,"n":`...)
	b = strconv.AppendUint(b, a.N, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, a.Seq, 10)
	b = append(b, `,"severity":`...)
	b = appendJSONString(b, a.Severity)
	b = append(b, `,"code":`...)
	b = appendJSONString(b, a.Code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, a.Message)
	b = append(b, `,"ts":`...)
	b = appendJSONTime(b, a.Time)
	return append(b, '}')
}

func appendMarshalled(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}
