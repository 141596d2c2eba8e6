package pgserver

import (
	"errors"
	"strings"
)

// writeWords begin statements that would change the warehouse; refusing
// one is PostgreSQL's read_only_sql_transaction (25006), what a client of
// a read replica gets. Other refusals (COPY to a file, ATTACH, PRAGMA, a
// file-reading function) are insufficient_privilege (42501).
var writeWords = map[string]bool{
	"insert": true, "update": true, "delete": true, "merge": true, "upsert": true, "create": true,
	"drop": true, "alter": true, "truncate": true, "grant": true, "revoke": true, "comment": true,
	"replace": true, "refresh": true, "reindex": true, "cluster": true, "vacuum": true,
}

// duckdbErrors map DuckDB's error classes (the text before ": ") to
// SQLSTATEs clients act on.
var duckdbErrors = []struct{ prefix, code string }{
	{"Parser Error", "42601"},
	{"Catalog Error: Table with name", "42P01"},
	{"Catalog Error: Table Function with name", "42883"},
	{"Catalog Error: Scalar Function with name", "42883"},
	{"Catalog Error: Aggregate Function with name", "42883"},
	{"Catalog Error: Type with name", "42704"},
	{"Catalog Error", "42P01"},
	{"Binder Error: Referenced column", "42703"},
	{"Binder Error: No function matches", "42883"},
	{"Binder Error", "42804"},
	{"Conversion Error", "22P02"},
	{"Invalid Input Error", "22P02"},
	{"Out of Range Error", "22003"},
	{"Out of Memory Error", "53200"},
	{"INTERRUPT Error", "57014"},
	{"Interrupt Error", "57014"},
	{"Not implemented Error", "0A000"},
	{"Invalid Error", "XX000"},
}

// classify turns an error of running stmt into the client's: a refusal
// with its reason, or DuckDB's message as one line with a SQLSTATE, its
// "Did you mean" as the hint.
func classify(stmt string, err error) error {
	var se *sqlError
	if errors.As(err, &se) {
		return se
	}
	msg, hint := oneLine(err.Error())
	if errors.Is(err, ErrRefused) {
		toks := significant(lex(stmt))
		if len(toks) > 0 && writeWords[strings.ToLower(toks[0].text)] {
			return &sqlError{code: "25006", msg: "cannot execute " + strings.ToUpper(toks[0].text) + " in a read-only transaction: syncd serves the warehouse read-only"}
		}
		return &sqlError{code: "42501", msg: msg}
	}
	if errors.Is(err, ErrSyntax) {
		return &sqlError{code: "42601", msg: msg, hint: hint}
	}
	bare := msg
	for {
		// "parsing the statement: Parser Error: ..." and similar wrappers.
		i := strings.Index(bare, ": ")
		if i < 0 || strings.Contains(bare[:i], " Error") {
			break
		}
		bare = bare[i+2:]
	}
	for _, e := range duckdbErrors {
		if strings.HasPrefix(bare, e.prefix) {
			return &sqlError{code: e.code, msg: msg, hint: hint}
		}
	}
	return &sqlError{code: "XX000", msg: msg, hint: hint}
}

// oneLine keeps the first line of a DuckDB message and its suggestion;
// DuckDB's "LINE 1: ... ^" excerpt would repeat the client's own text.
func oneLine(s string) (msg, hint string) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	msg = strings.TrimSpace(lines[0])
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Did you mean") {
			hint = l
		}
	}
	return msg, hint
}

// Refused marks err as a Querier's refusal (its text unchanged), for an
// adapter over a guard with errors of its own.
func Refused(err error) error { return &marked{err, ErrRefused} }

// Syntax marks err as a statement the engine could not parse.
func Syntax(err error) error { return &marked{err, ErrSyntax} }

type marked struct{ err, mark error }

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() []error { return []error{m.mark, m.err} }
