package pgserver

import (
	"strings"
)

// The lexer reads SQL as PostgreSQL clients write it, only far enough to
// split a simple query into statements, to recognise the session commands
// the endpoint answers itself, and to rewrite the catalog idioms DuckDB
// does not speak. It never decides what is safe to run: every statement
// that reaches the warehouse is checked by the Querier on the text it
// will run.

type tokenKind int

const (
	tkSpace  tokenKind = iota // whitespace and comments
	tkIdent                   // bare identifier or keyword
	tkQuoted                  // "quoted identifier"
	tkString                  // '...', E'...', $$...$$ and the like
	tkNumber                  // 1, 1.5, 1e3
	tkParam                   // $1
	tkOp                      // operators: = <> ~ :: || ...
	tkPunct                   // ( ) [ ] , ; .
	tkBad                     // an unterminated string or quoted name
)

type token struct {
	kind tokenKind
	text string
}

// is says whether t is the bare word w (case-insensitive).
func (t token) is(w string) bool { return t.kind == tkIdent && strings.EqualFold(t.text, w) }

// name is an identifier's name: lower-cased when bare, unquoted when quoted.
func (t token) name() string {
	switch t.kind {
	case tkIdent:
		return strings.ToLower(t.text)
	case tkQuoted:
		q := t.text
		if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
			// U&"..." and unterminated names: not one the rewriter knows.
			return ""
		}
		return strings.ReplaceAll(q[1:len(q)-1], `""`, `"`)
	}
	return ""
}

func (t token) isIdent() bool { return t.kind == tkIdent || t.kind == tkQuoted }

// stringValue is a plain '...' literal's value; ok is false for any other
// token (escape strings and dollar quotes included).
func (t token) stringValue() (string, bool) {
	if t.kind != tkString || len(t.text) < 2 || t.text[0] != '\'' || t.text[len(t.text)-1] != '\'' {
		return "", false
	}
	return strings.ReplaceAll(t.text[1:len(t.text)-1], "''", "'"), true
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

const opChars = "+-*/<>=~!@#%^&|`?:"

// lex splits sql into tokens whose texts, concatenated, are sql again. An
// unterminated string or comment runs to the end of the text (DuckDB then
// reports the syntax error).
func lex(sql string) []token {
	var out []token
	i := 0
	emit := func(kind tokenKind, end int) {
		out = append(out, token{kind, sql[i:end]})
		i = end
	}
	emitQuoted := func(kind tokenKind) func(end int, closed bool) {
		return func(end int, closed bool) {
			if !closed {
				kind = tkBad
			}
			emit(kind, end)
		}
	}
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			j := i
			for j < len(sql) && strings.IndexByte(" \t\n\r\f\v", sql[j]) >= 0 {
				j++
			}
			emit(tkSpace, j)
		case strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				emit(tkSpace, len(sql))
			} else {
				emit(tkSpace, i+j+1)
			}
		case strings.HasPrefix(sql[i:], "/*"):
			// PostgreSQL's block comments nest.
			depth, j := 0, i
			for j < len(sql) {
				if strings.HasPrefix(sql[j:], "/*") {
					depth++
					j += 2
				} else if strings.HasPrefix(sql[j:], "*/") {
					depth--
					j += 2
					if depth == 0 {
						break
					}
				} else {
					j++
				}
			}
			emit(tkSpace, j)
		case c == '\'':
			emitQuoted(tkString)(quotedEnd(sql, i, '\'', false))
		case (c == 'e' || c == 'E') && i+1 < len(sql) && sql[i+1] == '\'':
			emitQuoted(tkString)(quotedEnd(sql, i+1, '\'', true))
		case strings.IndexByte("bBxXnN", c) >= 0 && i+1 < len(sql) && sql[i+1] == '\'':
			emitQuoted(tkString)(quotedEnd(sql, i+1, '\'', false))
		case (c == 'u' || c == 'U') && strings.HasPrefix(sql[i+1:], "&'"):
			emitQuoted(tkString)(quotedEnd(sql, i+2, '\'', false))
		case (c == 'u' || c == 'U') && strings.HasPrefix(sql[i+1:], "&\""):
			emitQuoted(tkQuoted)(quotedEnd(sql, i+2, '"', false))
		case c == '"':
			emitQuoted(tkQuoted)(quotedEnd(sql, i, '"', false))
		case c == '$':
			j := i + 1
			for j < len(sql) && isDigit(sql[j]) {
				j++
			}
			if j > i+1 {
				emit(tkParam, j)
				continue
			}
			if end, ok := dollarQuoteEnd(sql, i); ok {
				emit(tkString, end)
				continue
			}
			emit(tkOp, i+1)
		case isIdentStart(c):
			j := i + 1
			for j < len(sql) && isIdentPart(sql[j]) {
				j++
			}
			emit(tkIdent, j)
		case isDigit(c) || (c == '.' && i+1 < len(sql) && isDigit(sql[i+1])):
			j := i
			for j < len(sql) && (isDigit(sql[j]) || sql[j] == '.' || sql[j] == '_') {
				if sql[j] == '.' && strings.HasPrefix(sql[j:], "..") {
					break
				}
				j++
			}
			if j < len(sql) && (sql[j] == 'e' || sql[j] == 'E') {
				k := j + 1
				if k < len(sql) && (sql[k] == '+' || sql[k] == '-') {
					k++
				}
				if k < len(sql) && isDigit(sql[k]) {
					j = k
					for j < len(sql) && isDigit(sql[j]) {
						j++
					}
				}
			}
			emit(tkNumber, j)
		case strings.IndexByte("()[],;.", c) >= 0:
			emit(tkPunct, i+1)
		case strings.IndexByte(opChars, c) >= 0:
			j := i + 1
			for j < len(sql) && strings.IndexByte(opChars, sql[j]) >= 0 &&
				!strings.HasPrefix(sql[j:], "--") && !strings.HasPrefix(sql[j:], "/*") {
				j++
			}
			// As PostgreSQL does: a trailing + or - belongs to the next
			// operand (a=-1) unless the operator holds a character only
			// user-defined operators use.
			if j-i > 1 && !strings.ContainsAny(sql[i:j], "~!@#%^&|`?") {
				for j-i > 1 && (sql[j-1] == '+' || sql[j-1] == '-') {
					j--
				}
			}
			emit(tkOp, j)
		default:
			emit(tkOp, i+1)
		}
	}
	return out
}

// quotedEnd is the end of the quoted token whose opening quote is at
// sql[open]; a doubled quote stays inside, as does a backslash-escaped one
// in an E'...' string. closed is false when the text ends first.
func quotedEnd(sql string, open int, q byte, backslash bool) (end int, closed bool) {
	j := open + 1
	for j < len(sql) {
		switch {
		case backslash && sql[j] == '\\':
			j += 2
		case sql[j] == q && j+1 < len(sql) && sql[j+1] == q:
			j += 2
		case sql[j] == q:
			return j + 1, true
		default:
			j++
		}
	}
	return min(j, len(sql)), false
}

// dollarQuoteEnd reads $tag$...$tag$ starting at sql[i].
func dollarQuoteEnd(sql string, i int) (int, bool) {
	j := i + 1
	for j < len(sql) && sql[j] != '$' {
		if !isIdentPart(sql[j]) || (j == i+1 && isDigit(sql[j])) {
			return 0, false
		}
		j++
	}
	if j >= len(sql) {
		return 0, false
	}
	tag := sql[i : j+1]
	k := strings.Index(sql[j+1:], tag)
	if k < 0 {
		return len(sql), true
	}
	return j + 1 + k + len(tag), true
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '$' }

// join is the text of toks.
func join(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.text)
	}
	return b.String()
}

// splitStatements cuts a simple query's text at its semicolons into the
// statements PostgreSQL would run one after the other; statements of
// nothing but spaces and comments are dropped.
func splitStatements(sql string) []string {
	var out []string
	toks := lex(sql)
	start := 0
	flush := func(end int) {
		part := toks[start:end]
		if len(significant(part)) > 0 {
			out = append(out, strings.TrimSpace(join(part)))
		}
	}
	for i, t := range toks {
		if t.kind == tkPunct && t.text == ";" {
			flush(i)
			start = i + 1
		}
	}
	flush(len(toks))
	return out
}

// significant is toks without spaces and comments.
func significant(toks []token) []token {
	out := make([]token, 0, len(toks))
	for _, t := range toks {
		if t.kind != tkSpace {
			out = append(out, t)
		}
	}
	return out
}
