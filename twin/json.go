package twin

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
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
	b = append(b, `,"sha256":"`...)
	b = append(b, t.Contract.SHA256.String()...)
	b = append(b, `"}`...)
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
	b = append(b, `,"digest":"`...)
	b = append(b, t.Digest.String()...)
	b = append(b, `","alerts":`...)
	b = strconv.AppendUint(b, t.Alerts, 10)
	b = append(b, `,"created":`...)
	b = appendJSONTime(b, t.Created)
	b = append(b, `,"updated":`...)
	b = appendJSONTime(b, t.Updated)
	return append(b, '}')
}

// appendRaw appends raw JSON, which must already be valid; invalid JSON
// becomes null rather than corrupting the document.
func appendRaw(b, raw []byte) []byte {
	if !json.Valid(raw) {
		return append(b, "null"...)
	}
	if bytes.ContainsAny(raw, "\n\r\t ") {
		var c bytes.Buffer
		json.Compact(&c, raw)
		return append(b, c.Bytes()...)
	}
	return append(b, raw...)
}

func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string, escaping like encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
