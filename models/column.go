package models

import "strings"

// column is one typed column of a table: its name, its type (which fixes its
// Arrow type and how Affise's drifting values are decoded, see decode.go),
// and where its value is in an API object.
type column struct {
	name string
	typ  colType
	// from is where the value is; empty: the top-level member named like
	// the column.
	from path
	// dec decodes the value in place of the type's decoder (postbacks' _id
	// and {sec, usec} dates).
	dec decoder
	// notNull is set for key columns (and stats_daily's, whose decoders
	// never leave a NULL): a key missing, null or "" fails the row.
	notNull bool
	// loose: a value the type cannot hold leaves the column NULL (and the
	// member in raw) instead of failing the row. Columns added after rows
	// were loading are loose, so a field's drift never stops a stream
	// that loaded before.
	loose bool
	// json: the column holds the member's JSON text as raw would (compact,
	// credentials left out), whatever its shape: nested objects and
	// arrays, which repeat across rows and compress as a column of their
	// own, not inside each row's raw. A VARCHAR: query it with DuckDB's
	// JSON functions (offer ->> 'title').
	json bool
}

// looseStrings are loose VARCHAR columns of the top-level members named.
func looseStrings(names ...string) []column {
	cols := make([]column, len(names))
	for i, n := range names {
		cols[i] = column{name: n, typ: tString, loose: true}
	}
	return cols
}

// jsonColumns are json columns of the top-level members named.
func jsonColumns(names ...string) []column {
	cols := make([]column, len(names))
	for i, n := range names {
		cols[i] = column{name: n, typ: tString, json: true}
	}
	return cols
}

// looseDecoder is d, with a value d refuses leaving the cell NULL and the
// row good.
func looseDecoder(d decoder) decoder {
	return func(r *rowState, col int, field string, v []byte) {
		if r.err != nil {
			return // the row failed already: nothing is kept
		}
		d(r, col, field, v)
		if r.err != nil {
			r.err = nil
			r.cells[col] = cell{null: true}
		}
	}
}

// jsonMember marks a json column's cell: NULL for a missing or null
// member, else set (the builder puts the member's text in, see
// builder.jsonText, once the scan wrote it).
func (r *rowState) jsonMember(col int, _ string, v []byte) {
	r.cells[col] = cell{null: isNull(v)}
}

// decoder decodes v, the value found at a column's path, into cell col;
// field is the path as errors name it.
type decoder func(r *rowState, col int, field string, v []byte)

// decoderOf is the decoder of a column's type; key columns are required.
func decoderOf(c column) decoder {
	switch c.typ {
	case tString:
		if c.notNull {
			return (*rowState).reqStr
		}
		return (*rowState).str
	case tInt64, tInt32:
		if c.notNull {
			return (*rowState).reqInt
		}
		return (*rowState).int
	case tDecimal:
		return (*rowState).dec
	case tTimestamp:
		return (*rowState).ts
	case tBool:
		return (*rowState).boolean
	case tFloat:
		return (*rowState).float
	}
	return nil // tDate: stats_daily's day only, which names its decoder
}

// path is where a column's value is in an API object: routes tried in
// order, the first present value winning (see first), and the field name
// errors give for it.
type path struct {
	field  string
	routes []route
	// found: the first route whose member is there at all wins, even when
	// it holds null or "" (see found).
	found bool
}

// route is a walk from a top-level member down nested members; "[0]"
// steps into an array's first element. id takes the value as an id: an
// object's "id", else the value itself (see idOf).
type route struct {
	names []string
	id    bool
	slot  int // the top-level member's slot in rowState.vals (buildTable sets it)
}

// at is the value at a member path: at("track", "click_id").
func at(names ...string) path {
	return path{field: pathField(names), routes: []route{{names: names}}}
}

// idAt is the id at a member path: idAt("offer") reads offer.id, or offer
// itself when Affise sends the bare id.
func idAt(names ...string) path {
	return path{field: pathField(names) + ".id", routes: []route{{names: names, id: true}}}
}

// either is the first of ps that holds a value; errors name the first.
func either(ps ...path) path {
	p := path{field: ps[0].field}
	for _, q := range ps {
		p.routes = append(p.routes, q.routes...)
	}
	return p
}

// found is the first of ps whose member is there at all, even null or "";
// errors name the first. stats_daily's slices, which Affise names in more
// than one way, read like this.
func found(ps ...path) path {
	p := either(ps...)
	p.found = true
	return p
}

// named is p with errors naming the field as given.
func (p path) named(field string) path {
	p.field = field
	return p
}

func pathField(names []string) string {
	return strings.ReplaceAll(strings.Join(names, "."), ".[0]", "[0]")
}

// value follows p through the object whose members the scan put in vals.
func (r *rowState) value(p *path) []byte {
	if len(p.routes) == 1 {
		return r.follow(&p.routes[0])
	}
	if p.found {
		for i := range p.routes {
			if v := r.follow(&p.routes[i]); v != nil {
				return v
			}
		}
		return nil
	}
	var buf [4][]byte
	vs := buf[:0]
	for i := range p.routes {
		vs = append(vs, r.follow(&p.routes[i]))
	}
	return first(vs...)
}

func (r *rowState) follow(rt *route) []byte {
	v := r.vals[rt.slot]
	for _, n := range rt.names[1:] {
		if v == nil {
			return nil
		}
		if n == "[0]" {
			v = firstElem(v)
		} else {
			v = member(v, n)
		}
	}
	if rt.id {
		return idOf(v)
	}
	return v
}

// declaredRow decodes every column from its path, in column order (so the
// first bad field of an object is the one reported).
func declaredRow(r *rowState) {
	for i := range r.t.decl {
		c := &r.t.cols[i]
		r.t.decl[i](r, i, c.from.field, r.value(&c.from))
	}
}
