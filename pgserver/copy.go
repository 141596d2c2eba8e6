package pgserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// COPY ... TO STDOUT is what psql's \copy ... to (a file or stdout) and
// many export tools send. The endpoint answers it as the SELECT it names,
// run through the same Querier (and so the same read-only guard) as any
// other statement, with the rows written in COPY's text or CSV format.
// Every other COPY (to or from a file or program, FROM STDIN) is left to
// the Querier, which refuses it.

// copyOut is a parsed COPY ... TO STDOUT.
type copyOut struct {
	query  string // the SELECT whose rows are copied
	csv    bool
	delim  string
	null   string
	header bool
	quote  string // CSV only
	escape string // CSV only
}

// parseCopy recognises COPY (query) TO STDOUT and COPY table [(columns)]
// TO STDOUT with their options, in both the parenthesised and the
// pre-9.0 spelling. ok is false for any other statement; err is a COPY TO
// STDOUT with options the endpoint does not support.
func parseCopy(text string) (c *copyOut, ok bool, err error) {
	toks := lex(text)
	i := sigAt(toks, 0)
	if i >= len(toks) || !toks[i].is("copy") {
		return nil, false, nil
	}
	c = &copyOut{delim: "\t", null: `\N`}
	i = sigAt(toks, i+1)
	switch {
	case i >= len(toks):
		return nil, false, nil
	case toks[i].kind == tkPunct && toks[i].text == "(":
		end := closing(toks, i)
		if end < 0 {
			return nil, false, nil
		}
		c.query = strings.TrimSpace(join(toks[i+1 : end]))
		i = sigAt(toks, end+1)
	case toks[i].isIdent():
		// table [. table] [(col, ...)]
		var name strings.Builder
		for i < len(toks) && (toks[i].isIdent() || (toks[i].kind == tkPunct && toks[i].text == ".")) {
			if toks[i].is("to") || toks[i].is("from") {
				break
			}
			name.WriteString(toks[i].text)
			i = sigAt(toks, i+1)
		}
		cols := "*"
		if i < len(toks) && toks[i].kind == tkPunct && toks[i].text == "(" {
			end := closing(toks, i)
			if end < 0 {
				return nil, false, nil
			}
			cols = strings.TrimSpace(join(toks[i+1 : end]))
			i = sigAt(toks, end+1)
		}
		c.query = "SELECT " + cols + " FROM " + name.String()
	default:
		return nil, false, nil
	}
	if i >= len(toks) || !toks[i].is("to") {
		return nil, false, nil // COPY ... FROM: refused by the Querier
	}
	i = sigAt(toks, i+1)
	if i >= len(toks) || !toks[i].is("stdout") {
		return nil, false, nil // to a file or program: refused by the Querier
	}
	opts := significant(toks[i+1:])
	if len(opts) > 0 && opts[0].is("with") {
		opts = opts[1:]
	}
	if err := c.options(opts); err != nil {
		return nil, true, err
	}
	if c.csv {
		if c.delim == "\t" {
			c.delim = ","
		}
		if c.null == `\N` {
			c.null = ""
		}
	}
	if c.quote == "" {
		c.quote = `"`
	}
	if c.escape == "" {
		c.escape = c.quote
	}
	if len(c.delim) != 1 || len(c.quote) != 1 || len(c.escape) != 1 {
		return nil, true, refusef("22023", "COPY delimiter, quote and escape must be one single-byte character each")
	}
	return c, true, nil
}

// options reads COPY's options: (name value, ...) or the old
// keywords (CSV HEADER DELIMITER 'x' NULL 'x' ...).
func (c *copyOut) options(opts []token) error {
	str := func(t token, name string) (string, error) {
		v, ok := t.stringValue()
		if !ok {
			return "", refusef("42601", "COPY option %s takes a quoted string", name)
		}
		return v, nil
	}
	set := func(name string, val *token) error {
		switch name {
		case "format":
			if val == nil {
				return refusef("42601", "COPY option format needs a value")
			}
			switch strings.ToLower(strings.Trim(val.text, "'")) {
			case "text":
				c.csv = false
			case "csv":
				c.csv = true
			case "binary":
				return refusef("0A000", "COPY in binary format is not supported; use text or csv")
			default:
				return refusef("22023", "COPY format %q not recognized", val.text)
			}
		case "csv":
			c.csv = true
		case "binary":
			return refusef("0A000", "COPY in binary format is not supported; use text or csv")
		case "header":
			c.header = true
			if val != nil {
				switch strings.ToLower(strings.Trim(val.text, "'")) {
				case "false", "off", "0":
					c.header = false
				case "true", "on", "1":
				default:
					return refusef("22023", "COPY header %q: use true or false", val.text)
				}
			}
		case "delimiter", "null", "quote", "escape", "encoding":
			if val == nil {
				return refusef("42601", "COPY option %s takes a quoted string", name)
			}
			v, err := str(*val, name)
			if err != nil {
				return err
			}
			switch name {
			case "delimiter":
				c.delim = v
			case "null":
				c.null = v
			case "quote":
				c.quote = v
			case "escape":
				c.escape = v
			case "encoding":
				if e := strings.ToLower(strings.ReplaceAll(v, "-", "")); e != "utf8" && e != "unicode" {
					return refusef("0A000", "COPY encoding %q is not supported; the endpoint speaks UTF8", v)
				}
			}
		default:
			return refusef("0A000", "COPY option %s is not supported by syncd's Postgres endpoint (supported: format text|csv, header, delimiter, null, quote, escape)", name)
		}
		return nil
	}
	if len(opts) > 0 && opts[0].kind == tkPunct && opts[0].text == "(" {
		// (name [value], ...)
		j := 1
		for j < len(opts) && !(opts[j].kind == tkPunct && opts[j].text == ")") {
			if !opts[j].isIdent() {
				return refusef("42601", "syntax error in COPY options at %q", opts[j].text)
			}
			name := opts[j].name()
			j++
			var val *token
			if j < len(opts) && !(opts[j].kind == tkPunct && (opts[j].text == "," || opts[j].text == ")")) {
				val = &opts[j]
				j++
			}
			if err := set(name, val); err != nil {
				return err
			}
			if j < len(opts) && opts[j].kind == tkPunct && opts[j].text == "," {
				j++
			}
		}
		if j+1 < len(opts) {
			return refusef("42601", "syntax error in COPY options at %q", opts[j+1].text)
		}
		return nil
	}
	for j := 0; j < len(opts); j++ {
		if !opts[j].isIdent() {
			return refusef("42601", "syntax error in COPY options at %q", opts[j].text)
		}
		name := opts[j].name()
		switch name {
		case "csv", "binary", "header":
			if err := set(name, nil); err != nil {
				return err
			}
			continue
		case "force":
			return refusef("0A000", "COPY FORCE options are not supported by syncd's Postgres endpoint")
		}
		if j+1 < len(opts) && opts[j+1].is("as") {
			j++
		}
		if j+1 >= len(opts) {
			return refusef("42601", "COPY option %s takes a quoted string", name)
		}
		j++
		if err := set(name, &opts[j]); err != nil {
			return err
		}
	}
	return nil
}

// sigAt is the index of the first token at or after i that is not a
// space or comment.
func sigAt(toks []token, i int) int {
	for i < len(toks) && toks[i].kind == tkSpace {
		i++
	}
	return i
}

// closing is the index of the ')' matching the '(' at open, or -1.
func closing(toks []token, open int) int {
	depth := 0
	for j := open; j < len(toks); j++ {
		if toks[j].kind != tkPunct {
			continue
		}
		switch toks[j].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// line is one row in c's format, ending in a newline; a nil value is NULL.
func (c *copyOut) line(vals [][]byte) []byte {
	var b []byte
	for i, v := range vals {
		if i > 0 {
			b = append(b, c.delim...)
		}
		switch {
		case v == nil:
			b = append(b, c.null...)
		case c.csv:
			b = c.csvField(b, v)
		default:
			b = c.textField(b, v)
		}
	}
	return append(b, '\n')
}

// textField escapes v as COPY's text format does.
func (c *copyOut) textField(b, v []byte) []byte {
	for _, ch := range v {
		switch ch {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\v':
			b = append(b, '\\', 'v')
		default:
			if ch == c.delim[0] {
				b = append(b, '\\')
			}
			b = append(b, ch)
		}
	}
	return b
}

// csvField quotes v when it holds the delimiter, the quote, a line break,
// equals the NULL string or starts with \. (PostgreSQL's rule), doubling
// (escaping) quotes inside.
func (c *copyOut) csvField(b, v []byte) []byte {
	s := string(v)
	if !strings.ContainsAny(s, c.delim+c.quote+"\r\n") && s != c.null && !strings.HasPrefix(s, `\.`) {
		return append(b, v...)
	}
	b = append(b, c.quote...)
	for _, ch := range v {
		if ch == c.quote[0] || ch == c.escape[0] {
			b = append(b, c.escape...)
		}
		b = append(b, ch)
	}
	return append(b, c.quote...)
}

// copyOut runs c's SELECT and streams its rows as COPY data.
func (s *session) copyOut(ctx context.Context, c *copyOut) error {
	stmt := &prepared{text: c.query, run: s.rw.rewrite(c.query)}
	p := &portal{stmt: stmt, simple: true}
	cur := s.open(ctx, p)
	defer cur.close()
	cols, err := cur.header()
	if err != nil {
		return s.queryError(cur.ctx, stmt.run, err)
	}
	s.be.Send(&pgproto3.CopyOutResponse{OverallFormat: 0, ColumnFormatCodes: make([]uint16, len(cols))})
	if c.header {
		names := make([][]byte, len(cols))
		for i, col := range cols {
			names[i] = []byte(col.name)
		}
		s.be.Send(&pgproto3.CopyData{Data: c.line(names)})
	}
	for {
		row, err := cur.next()
		if err != nil {
			return s.queryError(cur.ctx, stmt.run, err)
		}
		if row == nil {
			break
		}
		data := c.line(row)
		s.be.Send(&pgproto3.CopyData{Data: data})
		s.pending += len(data) + 5
		if s.pending > flushBytes {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	s.be.Send(&pgproto3.CopyDone{})
	s.be.Send(&pgproto3.CommandComplete{CommandTag: fmt.Appendf(nil, "COPY %d", cur.count)})
	s.srv.metrics.statements.WithLabelValues("ok").Inc()
	return nil
}
