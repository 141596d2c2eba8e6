package extract

import (
	"bytes"
	"encoding/json"
	"errors"
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
// keeping every list element as raw JSON. A missing list is an empty page; a
// list sent as a JSON object (PHP's associative arrays) yields its values,
// each scalar value as {"key": <its key>, "value": <it>}.
func decodePage(body []byte, listKey string) (*pageReply, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	r := &pageReply{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, eofIsTruncation(err)
		}
		key, _ := tok.(string)
		switch key {
		case "status":
			var s flexInt
			if err := dec.Decode(&s); err != nil {
				return nil, eofIsTruncation(err)
			}
			r.status = int(s.v)
		case "pagination":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, eofIsTruncation(err)
			}
			var c bytes.Buffer
			_ = json.Compact(&c, raw)
			switch t := c.String(); {
			case len(raw) > 0 && raw[0] == '{':
				var p pagination
				if err := json.Unmarshal(raw, &p); err != nil {
					return nil, fmt.Errorf("pagination: %w", err)
				}
				r.pagination = &p
			case t == "null" || t == "false" || t == "[]":
				// PHP sends [] for an empty one.
			default:
				// A string or a number where the page counters belong:
				// treating it as "no more pages" would silently drop rows.
				return nil, fmt.Errorf("pagination is %.40s, not an object", t)
			}
		case listKey:
			items, err := decodeList(dec)
			if err != nil {
				return nil, eofIsTruncation(err)
			}
			r.items = items
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, eofIsTruncation(err)
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	// Anything but white space after the envelope (two replies glued
	// together, a proxy's trailer) is a garbled body, not a page.
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("after the reply: %w", err)
		}
		return nil, fmt.Errorf("unexpected %v after the reply", tok)
	}
	return r, nil
}

func decodeList(dec *json.Decoder) ([][]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	d, ok := tok.(json.Delim)
	if !ok || (d != '[' && d != '{') {
		return nil, fmt.Errorf("list is %v, not an array", tok)
	}
	var items [][]byte
	for dec.More() {
		var key any
		if d == '{' {
			if key, err = dec.Token(); err != nil { // the object's key
				return nil, err
			}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if k, isMap := key.(string); isMap && len(raw) > 0 && raw[0] != '{' {
			// A map of scalars ({"RUB": 59.31, ...}, /3.0/admin/currency's
			// quotes): the key is half of the row, so each member becomes
			// {"key": ..., "value": ...}.
			kb, err := json.Marshal(k)
			if err != nil {
				return nil, err
			}
			raw = json.RawMessage(`{"key":` + string(kb) + `,"value":` + string(raw) + `}`)
		}
		items = append(items, raw)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return items, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return eofIsTruncation(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

func eofIsTruncation(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("body ends early: %w", io.ErrUnexpectedEOF)
	}
	return err
}

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
