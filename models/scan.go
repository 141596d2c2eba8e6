package models

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// A small hand-written JSON scanner. One pass over an API object:
//   - validates it (strict RFC 8259 grammar),
//   - reports the byte span of every top-level member's value (no copies, no
//     reflection, no map allocation),
//   - writes the compact, credential-free copy that becomes the raw column.
//
// encoding/json would need two passes (Unmarshal into map[string]RawMessage
// plus a walk to strip credentials) and allocates per member; measured on the
// conversions fixture this scanner is several times faster, which is what
// keeps conversions well above 100k rows/s per core.

const maxDepth = 256

var errNotObject = errors.New("element is not a JSON object")

type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.off, e.msg)
}

type scanner struct {
	data []byte
	pos  int
	out  []byte // sanitized compact copy; nil-able when emit is false
	emit bool
	// tops are, when emitting, the spans in out of the members visit is
	// called for, in order (the members of the object scanTop reads); an
	// empty span for a member out leaves out (a credential). The builder
	// drops members a typed column holds from the raw copy with them.
	tops []span
}

// span is [from, to) of out, a member's "name":value without its comma.
type span struct{ from, to int }

func (s *scanner) fail(msg string) error { return &syntaxError{off: s.pos, msg: msg} }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) && isSpace(s.data[s.pos]) {
		s.pos++
	}
}

// member is one top-level member: key as it appears between the quotes (raw,
// escapes not decoded) and the value's span.
type memberFunc func(key []byte, escaped bool, val []byte)

// scanTop parses data as one JSON object and calls visit for each member.
func (s *scanner) scanTop(visit memberFunc) error {
	s.pos = 0
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return errNotObject
	}
	if err := s.object(1, visit); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return s.fail("trailing data after object")
	}
	return nil
}

// object parses an object starting at '{'. visit (may be nil) gets every
// member of this object only.
func (s *scanner) object(depth int, visit memberFunc) error {
	if depth > maxDepth {
		return s.fail("nesting too deep")
	}
	s.pos++ // '{'
	if s.emit {
		s.out = append(s.out, '{')
	}
	emitted := 0
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		if s.emit {
			s.out = append(s.out, '}')
		}
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.fail("expected object key")
		}
		kstart := s.pos
		escaped, err := s.str()
		if err != nil {
			return err
		}
		key := s.data[kstart+1 : s.pos-1]
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.fail("expected ':' after object key")
		}
		s.pos++
		s.skipSpace()
		drop := s.emit && isCredentialKey(key, escaped)
		keep := s.emit && !drop
		if keep {
			if emitted > 0 {
				s.out = append(s.out, ',')
			}
		}
		from := len(s.out)
		if keep {
			s.appendString(s.data[kstart:kstart+1+len(key)+1], escaped)
			s.out = append(s.out, ':')
			emitted++
		}
		vstart := s.pos
		saved := s.emit
		s.emit = keep
		err = s.value(depth)
		s.emit = saved
		if err != nil {
			return err
		}
		if visit != nil {
			switch {
			case keep:
				s.tops = append(s.tops, span{from, len(s.out)})
			case s.emit: // a credential, left out
				s.tops = append(s.tops, span{})
			}
			visit(key, escaped, s.data[vstart:s.pos])
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail("unterminated object")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			if s.emit {
				s.out = append(s.out, '}')
			}
			return nil
		default:
			return s.fail("expected ',' or '}' in object")
		}
	}
}

func (s *scanner) array(depth int) error {
	if depth > maxDepth {
		return s.fail("nesting too deep")
	}
	s.pos++ // '['
	if s.emit {
		s.out = append(s.out, '[')
	}
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		if s.emit {
			s.out = append(s.out, ']')
		}
		return nil
	}
	for {
		s.skipSpace()
		if err := s.value(depth); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail("unterminated array")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
			if s.emit {
				s.out = append(s.out, ',')
			}
		case ']':
			s.pos++
			if s.emit {
				s.out = append(s.out, ']')
			}
			return nil
		default:
			return s.fail("expected ',' or ']' in array")
		}
	}
}

// value parses one value at s.pos (whitespace already skipped).
func (s *scanner) value(depth int) error {
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of input")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth+1, nil)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		start := s.pos
		escaped, err := s.str()
		if err != nil {
			return err
		}
		if s.emit {
			s.appendString(s.data[start:s.pos], escaped)
		}
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := s.pos
		if err := s.number(); err != nil {
			return err
		}
		if s.emit {
			s.out = append(s.out, s.data[start:s.pos]...)
		}
		return nil
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.fail(fmt.Sprintf("unexpected character %q", c))
	}
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.pos += len(lit)
	if s.emit {
		s.out = append(s.out, lit...)
	}
	return nil
}

// str scans a string starting at '"' and leaves s.pos after the closing
// quote. escaped reports a backslash escape or a non-ASCII byte inside (the
// caller then takes the slow path to decode or to repair invalid UTF-8).
func (s *scanner) str() (escaped bool, err error) {
	s.pos++
	d := s.data
	for i := s.pos; i < len(d); i++ {
		// Fast path: run over plain ASCII bytes.
		for i < len(d) && plainByte[d[i]] {
			i++
		}
		if i >= len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			i++
			if i >= len(d) {
				s.pos = i
				return false, s.fail("unterminated string")
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d) || !isHex(d[i+1]) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) {
					s.pos = i
					return false, s.fail("invalid \\u escape")
				}
				i += 4
			default:
				s.pos = i
				return false, s.fail("invalid escape")
			}
		case c < 0x20:
			s.pos = i
			return false, s.fail("control character in string")
		case c >= 0x80:
			escaped = true
		}
	}
	s.pos = len(d)
	return false, s.fail("unterminated string")
}

// plainByte marks string bytes that need no attention: printable ASCII other
// than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// appendString copies a quoted string to out, replacing invalid UTF-8 (which
// DuckDB would reject in a VARCHAR) with U+FFFD.
func (s *scanner) appendString(q []byte, special bool) {
	if !special || utf8.Valid(q) {
		s.out = append(s.out, q...)
		return
	}
	for len(q) > 0 {
		r, n := utf8.DecodeRune(q)
		if r == utf8.RuneError && n == 1 {
			s.out = append(s.out, "\ufffd"...)
		} else {
			s.out = append(s.out, q[:n]...)
		}
		q = q[n:]
	}
}

func (s *scanner) number() error {
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return s.fail("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			return s.fail("invalid number")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			return s.fail("invalid number")
		}
	}
	s.pos = i
	return nil
}

// isCredentialKey says whether a member must not reach the warehouse:
// api_key, hash_password, password, token, secret, postback_password, any
// key ending in _key, _token, _secret or _password (any case, '-' counts as
// '_'), and camelCase apiKey/accessToken/clientSecret style names.
func isCredentialKey(raw []byte, escaped bool) bool {
	n := len(raw)
	if n < 5 {
		return false
	}
	// Quick reject: every credential name ends in y (key), n (token),
	// t (secret) or d (password), whatever the case.
	if !escaped {
		switch raw[n-1] | 0x20 {
		case 'y', 'n', 't', 'd':
		default:
			return false
		}
	}
	key := raw
	if escaped {
		// Rare: decode escapes so "api\u005fkey" cannot sneak through.
		if k, ok := unquoteBytes(raw); ok {
			key = []byte(k)
		}
	}
	n = len(key)
	if n < 5 {
		return false
	}
	// camelCase suffixes: a lower-case letter or digit followed by Key/Token/Secret/Password.
	for _, suf := range camelSuffixes {
		if n > len(suf) && string(key[n-len(suf):]) == suf {
			c := key[n-len(suf)-1]
			if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
				return true
			}
		}
	}
	// Lower case with '-' as '_', compared byte by byte: no copy.
	for _, name := range credentialNames {
		if n == len(name) && foldedEqual(key, name) {
			return true
		}
	}
	for _, suf := range snakeSuffixes {
		if n > len(suf) && foldedEqual(key[n-len(suf):], suf) {
			return true
		}
	}
	return false
}

// foldedEqual says whether b, lower-cased with '-' read as '_', is s (a
// lower-case name).
func foldedEqual(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '-':
			c = '_'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

var (
	// credentialNames are the names that are credentials whole; every
	// other one (api_key, hash_password, postback_password) ends in a
	// snakeSuffix.
	credentialNames = []string{"apikey", "password", "token", "secret"}
	snakeSuffixes   = []string{"_key", "_token", "_secret", "_password"}
	camelSuffixes   = []string{"Key", "Token", "Secret", "Password"}
)
