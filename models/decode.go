package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Decoding rules shared by every stream. A value is a span of validated JSON
// (see scan.go); nil means the member is absent.
//
//   - null, absent and false mean "no value" (Affise's PHP sends false for an
//     unset field, e.g. external_id) -> NULL.
//   - Strings: a JSON string as is ("" stays ""), a number as its text, true
//     as "true". An object or array is an error.
//   - Integers: a JSON integer, an integral float (12.0), or a numeric string
//     ("934"); "" is NULL. Fractions, other strings, true, objects, arrays and
//     values outside int64 are errors.
//   - Money: DECIMAL(18,4) parsed exactly from the number's text or a numeric
//     string, never via float64; more than 4 decimals round half away from
//     zero (as DuckDB's CAST does); beyond 18 digits is an error.
//   - Times: "YYYY-MM-DD HH:MM:SS" (also 'T', fractional seconds, date only)
//     in the zone given to NewBuilder, converted to UTC; an explicit Z or
//     ±HH:MM offset is honoured. "", "0000-00-00 00:00:00" -> NULL.
//   - Booleans: true/false, numbers (0 = false), "0"/"1"/"true"/"false".

// FieldError is a value that cannot be decoded: it names the stream and the
// field (a dotted path for nested values). It never quotes objects or arrays,
// so nothing nested (a credential, say) can leak into logs through it.
type FieldError struct {
	Stream string
	Field  string
	Err    error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: field %q: %v", e.Stream, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

var errNull = errors.New("required value is missing or null")

// describe names a bad value for an error message.
func describe(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	if len(v) > 40 {
		return string(v[:37]) + "..."
	}
	return string(v)
}

// isNull reports absent, null and false.
func isNull(v []byte) bool {
	return len(v) == 0 || v[0] == 'n' || v[0] == 'f'
}

// present reports a value that carries something: not absent, null, false or "".
func present(v []byte) bool {
	return !isNull(v) && !(len(v) == 2 && v[0] == '"')
}

// first returns the first present value; when none is, the first one that
// exists at all (so a "" or null primary field decodes as such), else nil.
func first(vs ...[]byte) []byte {
	for _, v := range vs {
		if present(v) {
			return v
		}
	}
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// unquote decodes a JSON string token (with its quotes). Fast path: no
// escapes and valid UTF-8 -> a sub-slice of the input, no copy.
func unquote(q []byte) ([]byte, error) {
	in := q[1 : len(q)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return in, nil
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil { // replaces invalid UTF-8 by U+FFFD
		return nil, err
	}
	return []byte(s), nil
}

func unquoteBytes(inner []byte) (string, bool) {
	q := make([]byte, 0, len(inner)+2)
	q = append(q, '"')
	q = append(q, inner...)
	q = append(q, '"')
	b, err := unquote(q)
	return string(b), err == nil
}

// textOf decodes a scalar as text. ok is false for NULL.
func textOf(v []byte) (b []byte, ok bool, err error) {
	if isNull(v) {
		return nil, false, nil
	}
	switch v[0] {
	case '"':
		b, err = unquote(v)
		return b, err == nil, err
	case '{', '[':
		return nil, false, fmt.Errorf("want a string, got %s", describe(v))
	default: // number or true
		return v, true, nil
	}
}

// numText returns the text of a number or numeric-looking string; ok false for NULL.
func numText(v []byte) (b []byte, ok bool, err error) {
	if isNull(v) {
		return nil, false, nil
	}
	switch v[0] {
	case '"':
		b, err = unquote(v)
		if err != nil {
			return nil, false, err
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return nil, false, nil
		}
		return b, true, nil
	case '{', '[', 't':
		return nil, false, fmt.Errorf("want a number, got %s", describe(v))
	default:
		return v, true, nil
	}
}

// intOf decodes an integer; ok false for NULL.
func intOf(v []byte) (n int64, ok bool, err error) {
	t, ok, err := numText(v)
	if !ok || err != nil {
		return 0, false, err
	}
	n, err = parseInt(t)
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}

func parseInt(t []byte) (int64, error) {
	// Fast path: up to 18 digits cannot overflow.
	i, neg := 0, false
	if len(t) > 0 && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		i = 1
	}
	if n := len(t) - i; n > 0 && n <= 18 {
		var x int64
		j := i
		for ; j < len(t); j++ {
			c := t[j]
			if c < '0' || c > '9' {
				break
			}
			x = x*10 + int64(c-'0')
		}
		if j == len(t) {
			if neg {
				x = -x
			}
			return x, nil
		}
	}
	if x, err := strconv.ParseInt(string(t), 10, 64); err == nil {
		return x, nil
	} else if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s is out of int64 range", describe(t))
	}
	// 12.0, 1e3: allowed when integral.
	scaled, err := parseDec4(t)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %s", describe(t))
	}
	if scaled%decScale != 0 {
		return 0, fmt.Errorf("want an integer, got %s", describe(t))
	}
	return scaled / decScale, nil
}

// decimalOf decodes money as a DECIMAL(18,4) scaled integer; ok false for NULL.
func decimalOf(v []byte) (scaled int64, ok bool, err error) {
	t, ok, err := numText(v)
	if !ok || err != nil {
		return 0, false, err
	}
	scaled, err = parseDec4(t)
	if err != nil {
		return 0, false, err
	}
	return scaled, true, nil
}

const (
	decPrecision = 18
	decScaleExp  = 4
	decScale     = 10000
	decMax       = 999_999_999_999_999_999 // 18 nines
)

// parseDec4 parses a decimal number exactly and returns it times 10^4,
// rounding half away from zero beyond 4 decimals.
//
// It is not arrow-go's decimal128.FromString (v18.8.0), which would agree on
// ".5", "5.", "1e3", "-0.00005" and the overflows, but:
//   - parses into a binary big.Float and rounds there, so a tie at the
//     fifth decimal whose binary value falls just below it rounds toward
//     zero: "2.00005" gives 2.0000, "-2.00005" -2.0000, "85.73115" 85.7311,
//     "555.95045" 555.9504 (592 of 100,000 five-decimal amounts below
//     1000 differ), where money must round the same whatever its binary
//     neighbourhood;
//   - accepts "1p3" (a binary exponent) as 8, which is no Affise number;
//   - panics (nil dereference) on "Inf", "-inf", a string a drifting field
//     may well carry.
//
// TestParseDec4Ties and TestParseDec4Refuses hold these.
func parseDec4(t []byte) (int64, error) {
	bad := func() (int64, error) { return 0, fmt.Errorf("want a number, got %s", describe(t)) }
	i, neg := 0, false
	if i < len(t) && (t[i] == '-' || t[i] == '+') {
		neg = t[i] == '-'
		i++
	}
	// Collect digits (integer then fraction) without copying: remember spans.
	intStart := i
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	intPart := t[intStart:i]
	var frac []byte
	if i < len(t) && t[i] == '.' {
		i++
		fs := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		frac = t[fs:i]
	}
	if len(intPart)+len(frac) == 0 {
		return bad()
	}
	exp := 0
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		eneg := false
		if i < len(t) && (t[i] == '-' || t[i] == '+') {
			eneg = t[i] == '-'
			i++
		}
		es := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			if exp < 100000 {
				exp = exp*10 + int(t[i]-'0')
			}
			i++
		}
		if i == es {
			return bad()
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(t) {
		return bad()
	}
	digit := func(k int) int64 { // k-th digit of intPart+frac
		if k < len(intPart) {
			return int64(intPart[k] - '0')
		}
		return int64(frac[k-len(intPart)] - '0')
	}
	nd := len(intPart) + len(frac)
	shift := exp - len(frac) + decScaleExp // value*10^4 = digits * 10^shift
	keep := nd
	if shift < 0 {
		keep = nd + shift
	}
	var x int64
	overflow := func() (int64, error) {
		return 0, fmt.Errorf("%s does not fit DECIMAL(%d,%d)", describe(t), decPrecision, decScaleExp)
	}
	for k := 0; k < keep && k < nd; k++ {
		x = x*10 + digit(k)
		if x > decMax {
			return overflow()
		}
	}
	if shift > 0 {
		for s := 0; s < shift; s++ {
			if x == 0 {
				break
			}
			x *= 10
			if x > decMax {
				return overflow()
			}
		}
	} else if keep >= 0 && keep < nd && digit(keep) >= 5 {
		x++
		if x > decMax {
			return overflow()
		}
	}
	if neg {
		x = -x
	}
	return x, nil
}

// formatDec4 renders a scaled DECIMAL(18,4) (tests and messages).
func formatDec4(x int64) string {
	sign := ""
	if x < 0 {
		sign, x = "-", -x
	}
	return fmt.Sprintf("%s%d.%04d", sign, x/decScale, x%decScale)
}

// boolOf decodes a boolean; ok false for NULL.
func boolOf(v []byte) (b bool, ok bool, err error) {
	if len(v) == 0 || v[0] == 'n' {
		return false, false, nil
	}
	switch v[0] {
	case 't':
		return true, true, nil
	case 'f':
		return false, true, nil
	case '"':
		s, err := unquote(v)
		if err != nil {
			return false, false, err
		}
		switch string(bytes.TrimSpace(s)) {
		case "":
			return false, false, nil
		case "1", "true", "TRUE", "True", "yes":
			return true, true, nil
		case "0", "false", "FALSE", "False", "no":
			return false, true, nil
		}
		return false, false, fmt.Errorf("want a boolean, got %s", describe(v))
	case '{', '[':
		return false, false, fmt.Errorf("want a boolean, got %s", describe(v))
	default:
		x, err := parseDec4(v)
		if err != nil {
			return false, false, err
		}
		return x != 0, true, nil
	}
}

// timeOf decodes a naive timestamp in loc to Unix microseconds (UTC).
func timeOf(v []byte, loc *time.Location) (us int64, ok bool, err error) {
	if isNull(v) {
		return 0, false, nil
	}
	if v[0] != '"' {
		return 0, false, fmt.Errorf("want a \"YYYY-MM-DD HH:MM:SS\" string, got %s", describe(v))
	}
	s, err := unquote(v)
	if err != nil {
		return 0, false, err
	}
	s = bytes.TrimSpace(s)
	if len(s) == 0 || isZeroDate(s) {
		return 0, false, nil
	}
	t, err := parseNaive(s, loc)
	if err != nil {
		return 0, false, err
	}
	return t.UnixMicro(), true, nil
}

func isZeroDate(s []byte) bool {
	for _, c := range s {
		switch c {
		case '0', '-', ':', ' ', 'T', '.':
		default:
			return false
		}
	}
	return true
}

func parseNaive(s []byte, loc *time.Location) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("want \"YYYY-MM-DD HH:MM:SS\", got %s", describe(s))
	}
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, len(b) > 0
	}
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return bad()
	}
	y, ok1 := num(s[0:4])
	mo, ok2 := num(s[5:7])
	d, ok3 := num(s[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return bad()
	}
	var h, mi, sec, nsec int
	rest := s[10:]
	if len(rest) > 0 {
		if rest[0] != ' ' && rest[0] != 'T' || len(rest) < 9 || rest[3] != ':' || rest[6] != ':' {
			return bad()
		}
		var ok4, ok5, ok6 bool
		h, ok4 = num(rest[1:3])
		mi, ok5 = num(rest[4:6])
		sec, ok6 = num(rest[7:9])
		if !ok4 || !ok5 || !ok6 || h > 23 || mi > 59 || sec > 59 {
			return bad()
		}
		rest = rest[9:]
		if len(rest) > 0 && rest[0] == '.' {
			j := 1
			scale := 100_000_000
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				nsec += int(rest[j]-'0') * scale
				scale /= 10
				j++
			}
			if j == 1 {
				return bad()
			}
			rest = rest[j:]
		}
		switch {
		case len(rest) == 0:
		case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
			loc = time.UTC
		case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
			oh, a := num(rest[1:3])
			om, b := num(rest[4:6])
			if !a || !b {
				return bad()
			}
			off := oh*3600 + om*60
			if rest[0] == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
		default:
			return bad()
		}
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nsec, loc), nil
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// member returns the value of name in obj, nil when obj is not an object
// (null, [], a scalar) or lacks it. obj must be validated JSON.
func member(obj []byte, name string) []byte {
	if len(obj) == 0 || obj[0] != '{' {
		return nil
	}
	var found []byte
	sc := scanner{data: obj}
	_ = sc.object(1, func(key []byte, escaped bool, val []byte) {
		if escaped {
			if k, ok := unquoteBytes(key); ok && k == name {
				found = val
			}
			return
		}
		if string(key) == name {
			found = val
		}
	})
	return found
}

// idOf returns obj.id when v is an object, else v itself (a scalar id).
func idOf(v []byte) []byte {
	if len(v) > 0 && v[0] == '{' {
		return member(v, "id")
	}
	if len(v) > 0 && v[0] == '[' { // PHP's empty object
		return nil
	}
	return v
}
