package twin

import "encoding/json"

// A fast path for the common shapes of telemetry JSON: a flat object of the
// known keys with plain strings (no escapes, ASCII) and numbers, or
// {"readings": [such objects]}. Anything else — escapes, other keys, keys in
// another case, duplicates, non-ASCII, nesting — makes it give up, and
// ParseTelemetry falls back to encoding/json. FuzzFastTelemetry checks that
// whenever the fast path answers, encoding/json would have produced the same
// readings.

type fastScanner struct {
	b []byte
	i int
}

func (s *fastScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *fastScanner) byte(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str scans a plain string and returns its contents (without quotes).
func (s *fastScanner) str() ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// num scans a number in strict JSON grammar and returns its bytes.
func (s *fastScanner) num() ([]byte, bool) {
	s.ws()
	b, i := s.b, s.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return nil, false
		}
	}
	s.i = i
	return b[start:i], true
}

// value scans a string or number value, returning it raw as encoding/json
// would hand it to a json.RawMessage field (strings with their quotes).
func (s *fastScanner) raw() ([]byte, bool) {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '"' {
		start := s.i
		if _, ok := s.str(); !ok {
			return nil, false
		}
		return s.b[start:s.i], true
	}
	return s.num()
}

// reading scans one flat reading object.
func (s *fastScanner) reading(r *readingJSON) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	var seen uint8
	for {
		k, ok := s.str()
		if !ok || !s.byte(':') {
			return false
		}
		var (
			bit uint8
			str *string          // a string field
			raw *json.RawMessage // a number (or string) field kept raw
		)
		switch string(k) {
		case "ts":
			bit, str = 1, &r.TS
		case "sensor":
			bit, str = 2, &r.Sensor
		case "type":
			bit, str = 4, &r.Type
		case "unit":
			bit, str = 8, &r.Unit
		case "value":
			bit, raw = 16, &r.Value
		case "lat":
			bit, raw = 32, &r.Lat
		case "lon":
			bit, raw = 64, &r.Lon
		default:
			return false
		}
		if str != nil {
			v, ok := s.str()
			if !ok {
				return false
			}
			*str = string(v)
		} else if *raw, ok = s.raw(); !ok {
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if s.byte(',') {
			continue
		}
		return s.byte('}')
	}
}

// fastTelemetry parses data into env if it has one of the simple shapes.
func fastTelemetry(data []byte, env *telemetryJSON, scratch []readingJSON) bool {
	s := fastScanner{b: data}
	s.ws()
	save := s.i
	// {"readings": [ ... ]}
	if s.byte('{') {
		if k, ok := s.str(); ok && string(k) == "readings" {
			if !s.byte(':') || !s.byte('[') {
				return false
			}
			if scratch == nil {
				scratch = make([]readingJSON, 0, 8)
			}
			env.Readings = scratch[:0] // not nil: "readings" was there
			if !s.byte(']') {
				for {
					env.Readings = append(env.Readings, readingJSON{})
					if !s.reading(&env.Readings[len(env.Readings)-1]) {
						return false
					}
					if s.byte(',') {
						continue
					}
					if !s.byte(']') {
						return false
					}
					break
				}
			}
			if !s.byte('}') {
				return false
			}
			s.ws()
			return s.i == len(s.b)
		}
	}
	s.i = save
	if !s.reading(&env.readingJSON) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}
