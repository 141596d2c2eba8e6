package extract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// flexInt decodes a number that Affise may send as a number, a numeric
// string, null or false (all but numbers mean "absent").
type flexInt struct {
	v   int64
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch s {
	case "null", "false", `""`:
		*f = flexInt{}
		return nil
	case "true":
		*f = flexInt{v: 1, set: true}
		return nil
	}
	s = strings.Trim(s, `"`)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt{v: n, set: true}
		return nil
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil && x == float64(int64(x)) {
		*f = flexInt{v: int64(x), set: true}
		return nil
	}
	return fmt.Errorf("not an integer: %.40s", s)
}

type pagination struct {
	PerPage    flexInt `json:"per_page"`
	TotalCount flexInt `json:"total_count"`
	Page       flexInt `json:"page"`
	NextPage   flexInt `json:"next_page"`
}

// decodePage reads the envelope {status, pagination, <listKey>: [...]}
// keeping every list element as a span of body (no copy). A missing list is
// an empty page; a list sent as a JSON object (PHP's associative arrays)
// yields its values, each scalar value as {"key": <its key>, "value": <it>}.
//
// Items are parsed once, by the model's builder, which validates each one
// strictly: here the list is only skimmed (skimValue: strings closed,
// brackets balanced), which is what finds each element's span and the
// pagination after the list at a fraction of a parse's cost. Everything else
// in the envelope is checked strictly, so a body the decoder accepts, whose
// items the builder accepts, is valid JSON (FuzzDecodePage holds this).
func decodePage(body []byte, listKey string) (*pageReply, error) {
	e := envelope{d: body}
	e.space()
	if e.pos >= len(body) {
		return nil, errTruncated
	}
	if body[e.pos] != '{' {
		return nil, fmt.Errorf("expected '{', found %s", e.describe())
	}
	e.pos++
	r := &pageReply{}
	for first := true; ; first = false {
		e.space()
		if e.pos >= len(body) {
			return nil, errTruncated
		}
		if body[e.pos] == '}' && first {
			e.pos++
			break
		}
		key, err := e.key()
		if err != nil {
			return nil, err
		}
		vstart := e.pos
		switch key {
		case listKey:
			items, err := e.list()
			if err != nil {
				return nil, err
			}
			r.items = items
		default:
			if err := e.skip(); err != nil {
				return nil, err
			}
			if e.pos >= len(body) {
				return nil, errTruncated
			}
			if err := e.member(r, key, body[vstart:e.pos]); err != nil {
				return nil, err
			}
		}
		e.space()
		if e.pos >= len(body) {
			return nil, errTruncated
		}
		c := body[e.pos]
		e.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, fmt.Errorf("expected ',' or '}' after member %q, found %q", key, c)
		}
	}
	// Anything but white space after the envelope (two replies glued
	// together, a proxy's trailer) is a garbled body, not a page.
	e.space()
	if e.pos != len(body) {
		return nil, fmt.Errorf("unexpected %s after the reply", e.describe())
	}
	return r, nil
}

var errTruncated = fmt.Errorf("body ends early: %w", io.ErrUnexpectedEOF)

// envelope walks a reply's top-level object.
type envelope struct {
	d   []byte
	pos int
}

func (e *envelope) space() {
	for e.pos < len(e.d) && isJSONSpace(e.d[e.pos]) {
		e.pos++
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// describe names what is at pos for an error (at most 40 bytes of it).
func (e *envelope) describe() string {
	rest := e.d[e.pos:]
	if len(rest) > 40 {
		rest = rest[:40]
	}
	return strconv.Quote(string(rest))
}

// key reads a member's name and its ':'.
func (e *envelope) key() (string, error) {
	if e.d[e.pos] != '"' {
		return "", fmt.Errorf("expected a member name, found %s", e.describe())
	}
	start := e.pos
	if err := e.skip(); err != nil {
		return "", err
	}
	var key string
	if err := json.Unmarshal(e.d[start:e.pos], &key); err != nil {
		return "", fmt.Errorf("member name: %w", err)
	}
	e.space()
	if e.pos >= len(e.d) {
		return "", errTruncated
	}
	if e.d[e.pos] != ':' {
		return "", fmt.Errorf("expected ':' after member %q, found %s", key, e.describe())
	}
	e.pos++
	e.space()
	if e.pos >= len(e.d) {
		return "", errTruncated
	}
	return key, nil
}

// skip moves past the value at pos, checking its structure only (skimValue).
func (e *envelope) skip() error {
	n, err := skimValue(e.d[e.pos:])
	if err != nil {
		return err
	}
	e.pos += n
	return nil
}

// member decodes a member of the envelope other than the list; v is valid
// JSON only as far as skimValue checks, so each is checked strictly.
func (e *envelope) member(r *pageReply, key string, v []byte) error {
	switch key {
	case "status":
		var s flexInt
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("status: %w", err)
		}
		r.status = int(s.v)
	case "pagination":
		switch {
		case v[0] == '{':
			var p pagination
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("pagination: %w", err)
			}
			r.pagination = &p
		case !json.Valid(v):
			return fmt.Errorf("pagination is not valid JSON")
		default:
			var c bytes.Buffer
			_ = json.Compact(&c, v)
			switch t := c.String(); t {
			case "null", "false", "[]":
				// PHP sends [] for an empty one.
			default:
				// A string or a number where the page counters belong:
				// treating it as "no more pages" would silently drop rows.
				return fmt.Errorf("pagination is %.40s, not an object", t)
			}
		}
	default:
		if !json.Valid(v) {
			return fmt.Errorf("member %q is not valid JSON", key)
		}
	}
	return nil
}

// list reads the list at pos: an array's elements, an object's values (the
// object's member names are checked strictly), or nothing for null.
func (e *envelope) list() ([][]byte, error) {
	switch c := e.d[e.pos]; c {
	case 'n':
		if !bytes.HasPrefix(e.d[e.pos:], []byte("null")) {
			break
		}
		e.pos += len("null")
		return nil, nil
	case '[', '{':
		return e.elements(c == '{')
	}
	start := e.pos
	if err := e.skip(); err != nil {
		return nil, err
	}
	if e.pos >= len(e.d) {
		return nil, errTruncated
	}
	v := e.d[start:e.pos]
	var s string
	if json.Unmarshal(v, &s) == nil {
		v = []byte(s)
	}
	return nil, fmt.Errorf("list is %.40s, not an array", v)
}

func (e *envelope) elements(isMap bool) ([][]byte, error) {
	closing := byte(']')
	if isMap {
		closing = '}'
	}
	e.pos++
	var items [][]byte
	for {
		e.space()
		if e.pos >= len(e.d) {
			return nil, errTruncated
		}
		if e.d[e.pos] == closing && len(items) == 0 {
			e.pos++
			return items, nil
		}
		var key string
		if isMap {
			k, err := e.key()
			if err != nil {
				return nil, err
			}
			key = k
		}
		start := e.pos
		if err := e.skip(); err != nil {
			return nil, err
		}
		item := e.d[start:e.pos:e.pos]
		if isMap && item[0] != '{' {
			// A map of scalars ({"RUB": 59.31, ...}, /3.0/admin/currency's
			// quotes): the key is half of the row, so each member becomes
			// {"key": ..., "value": ...}.
			kb, err := json.Marshal(key)
			if err != nil {
				return nil, err
			}
			item = []byte(`{"key":` + string(kb) + `,"value":` + string(item) + `}`)
		}
		items = append(items, item)
		e.space()
		if e.pos >= len(e.d) {
			return nil, errTruncated
		}
		c := e.d[e.pos]
		e.pos++
		if c == closing {
			return items, nil
		}
		if c != ',' {
			return nil, fmt.Errorf("expected ',' or %q in the list, found %q", closing, c)
		}
	}
}

// skimValue returns the length of the JSON value data starts with,
// checking its structure only: strings end, brackets balance and match,
// scalars are made of scalar bytes. It is what finds the list's elements
// and what follows the list without parsing anything twice: each element
// is then parsed, strictly, by the model's builder.
func skimValue(data []byte) (int, error) {
	var stack [maxSkimDepth]byte
	open := stack[:0]
	i := 0
	for {
		if len(open) > 0 {
			// Inside a container only brackets and quotes matter: run over
			// the rest (white space, ',', ':', scalars) in one tight loop.
			for i < len(data) && skimFiller[data[i]] {
				i++
			}
		}
		if i >= len(data) {
			return 0, errTruncated
		}
		switch c := data[i]; {
		case c == '"':
			j := i + 1
			for {
				k := bytes.IndexByte(data[j:], '"')
				if k < 0 {
					return 0, errTruncated
				}
				j += k
				// The quote ends the string unless an odd run of
				// backslashes escapes it.
				bs := 0
				for b := j - 1; b > i && data[b] == '\\'; b-- {
					bs++
				}
				j++
				if bs%2 == 0 {
					break
				}
			}
			i = j
		case c == '{' || c == '[':
			if len(open) >= maxSkimDepth {
				return 0, fmt.Errorf("nesting deeper than %d", maxSkimDepth)
			}
			open = append(open, c+2) // '{'+2 == '}', '['+2 == ']'
			i++
			continue
		case c == '}' || c == ']':
			if len(open) == 0 || open[len(open)-1] != c {
				return 0, fmt.Errorf("unexpected %q at offset %d", c, i)
			}
			open = open[:len(open)-1]
			i++
		case len(open) == 0 && scalarByte[c]:
			for i < len(data) && scalarByte[data[i]] {
				i++
			}
		default:
			return 0, fmt.Errorf("unexpected %q at offset %d", c, i)
		}
		if len(open) == 0 {
			return i, nil
		}
	}
}

// maxSkimDepth bounds nesting as the builder's scanner does.
const maxSkimDepth = 256

// scalarByte marks the bytes of numbers and of true, false and null.
var scalarByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eEtrufalsn") {
		t[c] = true
	}
	return t
}()

// skimFiller marks what skimValue passes over inside a container: scalar
// bytes, white space, ',' and ':'.
var skimFiller = func() (t [256]bool) {
	t = scalarByte
	for _, c := range []byte(" \t\n\r,:") {
		t[c] = true
	}
	return t
}()

// errorText finds Affise's error text in a JSON body ("" when none).
func errorText(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"error", "message", "errors", "description"} {
		raw, ok := m[k]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s)
			}
			continue
		}
		if t := strings.TrimSpace(string(raw)); t != "null" && t != "" && t != "false" {
			parts = append(parts, t)
		}
	}
	s := strings.Join(parts, "; ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// bodyStatus is the "status" of a JSON body, 0 when none.
func bodyStatus(body []byte) int {
	var v struct {
		Status flexInt `json:"status"`
	}
	if json.Unmarshal(body, &v) != nil {
		return 0
	}
	return int(v.Status.v)
}
