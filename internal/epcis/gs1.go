package epcis

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/custos-dev/custos/twin"
)

// Key is the canonical form of an identifier that can name a twin: a GS1
// key as the path of a GS1 Digital Link URI ("01/09521234543213/21/A1",
// "00/106141412345678908", "8003/06141411234524RTN-1"), or "twin/<id>"
// for custos's own twin URIs (urn:custos:twin:<id>). The same physical
// object gives the same Key whether it was written as an EPC URN or as a
// Digital Link URI.
type Key string

// TwinURIPrefix names a twin directly, without an identifier mapping.
const TwinURIPrefix = "urn:custos:twin:"

// ErrIdentifier is wrapped by every identifier parse error.
var ErrIdentifier = errors.New("unsupported identifier")

// Twin returns the twin id of a "twin/<id>" key.
func (k Key) Twin() (string, bool) {
	id, ok := strings.CutPrefix(string(k), "twin/")
	return id, ok
}

// ParseKey parses an EPC URN (SGTIN, SSCC, GRAI), a GS1 Digital Link URI
// with AI 01+21, 00 or 8003, or urn:custos:twin:<id>.
func ParseKey(s string) (Key, error) {
	switch {
	case strings.HasPrefix(s, TwinURIPrefix):
		id := s[len(TwinURIPrefix):]
		if !twin.ValidID(id) {
			return "", fmt.Errorf("%w: %q: not a valid twin id", ErrIdentifier, clip(s))
		}
		return Key("twin/" + id), nil
	case strings.HasPrefix(s, "urn:epc:id:"):
		return parseURN(s)
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		return parseDigitalLink(s)
	}
	return "", fmt.Errorf("%w: %q (want an SGTIN, SSCC or GRAI EPC URN, a GS1 Digital Link URI or %s<id>)", ErrIdentifier, clip(s), TwinURIPrefix)
}

func parseURN(s string) (Key, error) {
	rest := s[len("urn:epc:id:"):]
	scheme, body, _ := strings.Cut(rest, ":")
	parts := strings.Split(body, ".")
	bad := func(why string) (Key, error) {
		return "", fmt.Errorf("%w: %q: %s", ErrIdentifier, clip(s), why)
	}
	switch scheme {
	case "sgtin":
		if len(parts) != 3 || len(parts[0])+len(parts[1]) != 13 || len(parts[0]) < 6 || !digits(parts[0]) || !digits(parts[1]) || len(parts[1]) < 1 {
			return bad("an SGTIN is CompanyPrefix.IndicatorItemRef.Serial with 13 digits before the serial")
		}
		serial, err := serialPart(parts[2])
		if err != nil {
			return bad(err.Error())
		}
		g := parts[1][:1] + parts[0] + parts[1][1:]
		return Key("01/" + g + checkDigit(g) + "/21/" + serial), nil
	case "sscc":
		if len(parts) != 2 || len(parts[0])+len(parts[1]) != 17 || len(parts[0]) < 6 || !digits(parts[0]) || !digits(parts[1]) || len(parts[1]) < 1 {
			return bad("an SSCC is CompanyPrefix.ExtensionSerialRef with 17 digits")
		}
		n := parts[1][:1] + parts[0] + parts[1][1:]
		return Key("00/" + n + checkDigit(n)), nil
	case "grai":
		if len(parts) != 3 || len(parts[0])+len(parts[1]) != 12 || len(parts[0]) < 6 || !digits(parts[0]) || !digits(parts[1]) {
			return bad("a GRAI is CompanyPrefix.AssetType.Serial with 12 digits before the serial")
		}
		serial, err := serialPart(parts[2])
		if err != nil {
			return bad(err.Error())
		}
		n := "0" + parts[0] + parts[1]
		return Key("8003/" + n + checkDigit(n) + serial), nil
	}
	return bad("only sgtin, sscc and grai EPC URNs name twins")
}

// serialPart decodes a URN serial (percent-escapes allowed) and checks it
// against GS1's AI encodable character set 82 (at most 20 characters).
func serialPart(s string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", errors.New("bad percent-escape in the serial")
	}
	if v == "" || len(v) > 20 {
		return "", errors.New("a serial has 1–20 characters")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7e || strings.IndexByte(`#$@[\]^{|}~`+"`", c) >= 0 {
			return "", fmt.Errorf("character %q is not allowed in a GS1 serial", c)
		}
	}
	return v, nil
}

func parseDigitalLink(s string) (Key, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: %q: not a URI", ErrIdentifier, clip(s))
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for i := range segs {
		v, err := url.PathUnescape(segs[i])
		if err != nil {
			return "", fmt.Errorf("%w: %q: bad percent-escape", ErrIdentifier, clip(s))
		}
		segs[i] = v
	}
	bad := func(why string) (Key, error) {
		return "", fmt.Errorf("%w: %q: %s", ErrIdentifier, clip(s), why)
	}
	for i := 0; i+1 < len(segs); i++ {
		v := segs[i+1]
		switch segs[i] {
		case "01":
			if !digits(v) || (len(v) != 8 && len(v) != 12 && len(v) != 13 && len(v) != 14) {
				return bad("a GTIN has 8, 12, 13 or 14 digits")
			}
			v = strings.Repeat("0", 14-len(v)) + v
			if checkDigit(v[:13]) != v[13:] {
				return bad("wrong GTIN check digit")
			}
			if i+3 >= len(segs) || segs[i+2] != "21" {
				return bad("a GTIN names a class of objects; a twin needs GTIN + serial (/01/…/21/…)")
			}
			serial, err := serialPart(url.PathEscape(segs[i+3]))
			if err != nil {
				return bad(err.Error())
			}
			return Key("01/" + v + "/21/" + serial), nil
		case "00":
			if !digits(v) || len(v) != 18 || checkDigit(v[:17]) != v[17:] {
				return bad("an SSCC has 18 digits with a valid check digit")
			}
			return Key("00/" + v), nil
		case "8003":
			if len(v) < 15 || !digits(v[:14]) || v[0] != '0' || checkDigit(v[:13]) != v[13:14] {
				return bad("a GRAI (8003) is 0, 12 digits, a check digit and a serial")
			}
			serial, err := serialPart(url.PathEscape(v[14:]))
			if err != nil {
				return bad(err.Error())
			}
			return Key("8003/" + v[:14] + serial), nil
		}
	}
	return bad("a Digital Link naming a twin has /01/<GTIN>/21/<serial>, /00/<SSCC> or /8003/<GRAI>")
}

// checkDigit is the GS1 mod-10 check digit of the digits in s.
func checkDigit(s string) string {
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return string(rune('0' + (10-sum%10)%10))
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// DigitalLink is the GS1 Digital Link URI of a GS1 key on id.gs1.org
// ("" for a twin key).
func (k Key) DigitalLink() string {
	s := string(k)
	switch {
	case strings.HasPrefix(s, "01/") && len(s) > 21:
		return "https://id.gs1.org/01/" + s[3:17] + "/21/" + url.PathEscape(s[21:])
	case strings.HasPrefix(s, "00/"):
		return "https://id.gs1.org/" + s
	case strings.HasPrefix(s, "8003/"):
		return "https://id.gs1.org/8003/" + url.PathEscape(s[5:])
	}
	return ""
}
