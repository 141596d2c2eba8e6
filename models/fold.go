package models

import (
	"bytes"
	"slices"
	"strconv"
	"time"
)

// Folding: raw holds what no typed column holds.
//
// A top-level member whose column is read from it alone, as it is (a
// column declared without a path or decoder, of a type below), is left out
// of raw when the column's value gives it back exactly: a JSON string for a
// VARCHAR, an integer written as its digits for an integer, a number
// written as the shortest decimal of the DECIMAL (12.5, not 12.50), a
// "YYYY-MM-DD HH:MM:SS" string of the TIMESTAMP when the rows were asked for
// in UTC; and for a json column (see column.json), any value but null, which
// the column holds as raw would. Anything else (null, false, a number where
// a string is, a member named twice) stays in raw as sent, and an object
// with a \uD8xx escape keeps raw whole. So the whole object is: raw's
// members, plus each folded column that is not NULL and whose member raw
// lacks, written back as above (see Folds; the sinks' <table>_raw views do
// this). The order of members is not kept.

// FoldKind says how a folded column is written back into the object.
type FoldKind int

const (
	// FoldString: a JSON string of the VARCHAR.
	FoldString FoldKind = iota
	// FoldInt: the integer's digits.
	FoldInt
	// FoldDecimal: the DECIMAL's shortest decimal (no trailing zeros, no
	// trailing '.').
	FoldDecimal
	// FoldTime: a JSON string "YYYY-MM-DD HH:MM:SS" of the TIMESTAMP (UTC).
	FoldTime
	// FoldJSON: the VARCHAR as it is: a json column, which holds the
	// member's JSON text (any value but null).
	FoldJSON
)

// Fold is a column whose top-level member of the same name raw may leave
// out (see the comment above).
type Fold struct {
	Column string
	Kind   FoldKind
}

// Folds lists m's folded columns, in column order; none for a Model not
// made by this package.
func Folds(m Model) []Fold {
	t, ok := m.(*table)
	if !ok {
		return nil
	}
	out := make([]Fold, len(t.folds))
	for i, f := range t.folds {
		out[i] = Fold{Column: t.cols[f.col].name, Kind: f.kind}
	}
	return out
}

// fold is a folded column: its index and its member's slot.
type fold struct {
	col, slot int
	kind      FoldKind
}

// foldOf says whether c (as declared) may be folded, and how.
func foldOf(c column) (FoldKind, bool) {
	if c.json {
		r := c.from.routes
		return FoldJSON, len(r) == 1 && !r[0].id && slices.Equal(r[0].names, []string{c.name})
	}
	if c.dec != nil || len(c.from.routes) != 1 || c.from.found {
		return 0, false
	}
	r := c.from.routes[0]
	if r.id || !slices.Equal(r.names, []string{c.name}) {
		return 0, false
	}
	switch c.typ {
	case tString:
		return FoldString, true
	case tInt64, tInt32:
		return FoldInt, true
	case tDecimal:
		return FoldDecimal, true
	case tTimestamp:
		return FoldTime, true
	}
	return 0, false
}

// folds reports whether the member v, decoded into c, is given back
// exactly by c (see the package comment above); utc: the builder reads
// naive times in UTC.
func (f fold) folds(c *cell, v []byte, utc bool, buf []byte) bool {
	if c.null || len(v) == 0 {
		return false
	}
	switch f.kind {
	case FoldString:
		return v[0] == '"'
	case FoldJSON:
		return true // the cell holds the member's text (builder.jsonText)
	case FoldInt:
		return string(strconv.AppendInt(buf[:0], c.i, 10)) == string(v)
	case FoldDecimal:
		return string(appendDecShort(buf[:0], c.i)) == string(v)
	case FoldTime:
		if !utc || v[0] != '"' {
			return false
		}
		b := time.UnixMicro(c.i).UTC().AppendFormat(append(buf[:0], '"'), time.DateTime)
		return string(append(b, '"')) == string(v)
	}
	return false
}

// appendDecShort appends a scaled DECIMAL(18,4) as its shortest decimal.
func appendDecShort(b []byte, x int64) []byte {
	if x < 0 {
		b = append(b, '-')
		x = -x
	}
	b = strconv.AppendInt(b, x/decScale, 10)
	frac := x % decScale
	if frac == 0 {
		return b
	}
	digits := decScaleExp
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	var d [decScaleExp]byte
	s := strconv.AppendInt(d[:0], frac, 10)
	b = append(b, '.')
	for i := len(s); i < digits; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// residual is the raw copy less the members the folded columns give back;
// the copy itself when none.
func (b *builder) residual() []byte {
	out := b.sc.out
	if hasSurrogateEscape(out) {
		// DuckDB's JSON reader refuses a lone surrogate (\ud800), so the
		// view could not look into such a raw: it stays whole, which the
		// view gives back as it is.
		return out
	}
	// drop marks the members (by their index in sc.tops) a typed column
	// holds: marks, not a sorted list (sorting it was 1% of a backfill).
	drop := b.drop
	if len(drop) < len(b.sc.tops) {
		drop = make([]bool, len(b.sc.tops))
		b.drop = drop
	}
	drop = drop[:len(b.sc.tops)]
	clear(drop)
	dropped := 0
	var buf [40]byte
	for _, f := range b.t.folds {
		top := b.top[f.slot]
		if b.seen[f.slot] != 1 || top < 0 || b.sc.tops[top].to == 0 {
			continue
		}
		if f.folds(&b.state.cells[f.col], b.state.vals[f.slot], b.utc, buf[:]) {
			drop[top] = true
			dropped++
		}
	}
	if dropped == 0 {
		return out
	}
	res := append(b.res[:0], '{')
	n := 0
	for i, sp := range b.sc.tops {
		if sp.to == 0 || drop[i] {
			continue
		}
		if n > 0 {
			res = append(res, ',')
		}
		res = append(res, out[sp.from:sp.to]...)
		n++
	}
	res = append(res, '}')
	b.res = res
	return res
}

// SyncedAtColumn names the column every table ends with: when syncd wrote
// the row (not decoded from the object).
const SyncedAtColumn = colSyncedAt

// Sanitize is obj as a row's whole object holds it: compact, credentials
// left out, invalid UTF-8 replaced (what <table>_raw gives back).
func Sanitize(obj []byte) ([]byte, error) {
	sc := scanner{data: obj, emit: true}
	if err := sc.scanTop(nil); err != nil {
		return nil, err
	}
	return sc.out, nil
}

// hasSurrogateEscape reports a \uD800-\uDFFF escape in a JSON text.
func hasSurrogateEscape(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`\u`))
		if i < 0 || i+2 >= len(b) {
			return false
		}
		if c := b[i+2]; c == 'd' || c == 'D' {
			return true
		}
		b = b[i+2:]
	}
}
