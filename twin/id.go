package twin

// MaxIDLen is the longest twin id accepted.
const MaxIDLen = 128

// ValidID reports whether id is a valid twin id: 1–128 characters of
// [A-Za-z0-9_-]. Ids are NATS subject tokens and KV keys, so nothing else is
// allowed.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
