package pgserver

import (
	"fmt"
	"regexp"
	"strings"
)

// rewriter turns a statement as PostgreSQL clients write it into one
// DuckDB runs with the meaning the client expects: pg_catalog relations
// with PostgreSQL's columns (catalog.go), the functions and casts catalog
// queries use (format_type, pg_get_userbyid, ::regclass, OPERATOR(...),
// COLLATE "default"), and the answers drivers check (version(),
// current_setting('server_version_num')). Everything else is left as
// written. The result is checked by the Querier like any client's text:
// the rewriter widens what is understood, never what may run.
type rewriter struct {
	relations map[string]string
	user      string
	version   string // what version() answers
	pid       uint32
	// setting is a session setting's value, for current_setting().
	setting func(name string) (string, bool)
	funcs   map[string]func(args []string) (string, bool)
}

func newRewriter(relations map[string]string, user, version string, pid uint32, setting func(string) (string, bool)) *rewriter {
	r := &rewriter{relations: relations, user: user, version: version, pid: pid, setting: setting}
	r.funcs = r.functions()
	return r
}

const tkRaw tokenKind = -1 // rewritten text: opaque to later rules

func raw(s string) token { return token{tkRaw, s} }

// rewrite rewrites one statement. Unbalanced text is left as written, for
// DuckDB to say where it is wrong.
func (r *rewriter) rewrite(sql string) string {
	toks := lex(sql)
	if !balanced(toks) {
		return sql
	}
	return join(r.walk(toks, r.namesCatalog(toks)))
}

// balanced says whether every ( and [ is closed, in order, and every
// string and quoted name.
func balanced(toks []token) bool {
	var stack []string
	for _, t := range toks {
		if t.kind == tkBad {
			return false
		}
		if t.kind != tkPunct {
			continue
		}
		switch t.text {
		case "(", "[":
			stack = append(stack, t.text)
		case ")", "]":
			want := map[string]string{")": "(", "]": "["}[t.text]
			if len(stack) == 0 || stack[len(stack)-1] != want {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0
}

// namesCatalog says whether toks name a pg_catalog relation: only then are
// PostgreSQL's array literals ('{0}') read as DuckDB's lists.
func (r *rewriter) namesCatalog(toks []token) bool {
	for _, t := range toks {
		if t.isIdent() {
			if _, ok := r.relations[t.name()]; ok {
				return true
			}
		}
	}
	return false
}

// fromContext are the words after which a name is a relation.
var fromContext = map[string]bool{"from": true, "join": true, ",": true, "lateral": true}

// aliasStops may follow a relation in FROM where an alias could stand.
var aliasStops = map[string]bool{
	"where": true, "join": true, "left": true, "right": true, "inner": true, "full": true, "cross": true,
	"natural": true, "on": true, "using": true, "group": true, "order": true, "limit": true, "offset": true,
	"union": true, "except": true, "intersect": true, "window": true, "having": true, "fetch": true,
	"for": true, "qualify": true, "tablesample": true, "returning": true, "lateral": true, "positional": true,
	"asof": true, "anti": true, "semi": true,
}

// scalarInFrom are scalar functions PostgreSQL clients call in FROM.
var scalarInFrom = map[string]bool{
	"string_to_array": true, "regexp_split_to_array": true, "current_schemas": true, "string_split": true,
}

// notCallable are keywords that a parenthesis may follow without them
// being a function's name.
var notCallable = map[string]bool{
	"in": true, "any": true, "all": true, "some": true, "exists": true, "select": true, "where": true,
	"and": true, "or": true, "not": true, "on": true, "as": true, "values": true, "from": true, "join": true,
	"using": true, "when": true, "then": true, "else": true, "case": true, "is": true, "like": true, "over": true,
	"filter": true, "within": true, "lateral": true, "with": true, "by": true, "recursive": true,
}

func (r *rewriter) walk(toks []token, cat bool) []token {
	var out []token
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tkSpace {
			out = append(out, t)
			continue
		}
		n := nextSig(toks, i)
		switch {
		case t.is("operator") && n >= 0 && toks[n].text == "(":
			// OPERATOR(pg_catalog.~) is ~.
			end := matchParen(toks, n)
			inner := significant(toks[n+1 : end])
			if len(inner) >= 3 && inner[1].text == "." {
				inner = inner[2:]
			}
			op := join(inner)
			if k := nextSig(toks, end); k >= 0 && regexOps[op] {
				if lit, ok := regexLiteral(op, toks[k]); ok {
					out = append(out, raw(lit))
					i = k
					continue
				}
			}
			out = append(out, raw(op))
			i = end
		case t.is("collate") && n >= 0:
			// PostgreSQL's collation names mean nothing to DuckDB; the
			// ones catalog queries use ask for the default anyway.
			end, parts := qualifiedName(toks, n)
			if len(parts) == 2 && parts[0] == "pg_catalog" || len(parts) == 1 && defaultCollations[parts[0]] {
				i = end - 1
				continue
			}
			out = append(out, t)
		case t.kind == tkOp && t.text == "::":
			end, typ := parseType(toks, i+1)
			if end <= i+1 {
				out = append(out, t)
				continue
			}
			out = r.cast(out, typ)
			i = end - 1
		case t.is("cast") && n >= 0 && toks[n].text == "(":
			end := matchParen(toks, n)
			as := topLevel(toks, n+1, end, func(t token) bool { return t.is("as") })
			if as < 0 {
				out = append(out, t)
				continue
			}
			expr := join(r.walk(toks[n+1:as], cat))
			tend, typ := parseType(toks, as+1)
			if tend <= as+1 || nextSigFrom(toks, tend) != end {
				out = append(out, t)
				continue
			}
			out = r.cast(append(out, raw("("+strings.TrimSpace(expr)+")")), typ)
			i = end
		case t.kind == tkOp && regexOps[t.text] && n >= 0:
			lit, ok := regexLiteral(t.text, toks[n])
			if !ok {
				out = append(out, t)
				continue
			}
			out = append(out, raw(lit))
			i = n
		case t.kind == tkString && cat && pgArrayLiteral.MatchString(t.text):
			out = append(out, raw("'["+t.text[2:len(t.text)-2]+"]'"))
		case t.isIdent():
			i = r.name(toks, i, &out, cat)
		default:
			out = append(out, t)
		}
	}
	return out
}

var defaultCollations = map[string]bool{"default": true, "C": true, "c": true, "POSIX": true, "posix": true}

var regexOps = map[string]bool{"~": true, "!~": true, "~*": true, "!~*": true}

// regexLiteral is op and the pattern literal lit in DuckDB's terms:
// PostgreSQL's ~ finds the pattern anywhere, DuckDB's must match all of
// the text, so the pattern is widened. Only a literal pattern is.
func regexLiteral(op string, lit token) (string, bool) {
	pat, ok := lit.stringValue()
	if !ok {
		return "", false
	}
	flags := "(?s)"
	if strings.HasSuffix(op, "*") {
		flags = "(?is)"
	}
	return strings.TrimSuffix(op, "*") + " " + quoteString(flags+".*(?:"+pat+").*"), true
}

// pgArrayLiteral is a PostgreSQL array literal of plain elements, '{0}'.
var pgArrayLiteral = regexp.MustCompile(`^'\{[^{}'"\\]*\}'$`)

// name handles an identifier at toks[i]: a function call, a pg_catalog
// relation, a session user keyword, or a name left alone. It returns the
// index of the last token consumed.
func (r *rewriter) name(toks []token, i int, out *[]token, cat bool) int {
	end, parts := qualifiedName(toks, i)
	prev := lastSig(*out)
	afterDot := prev >= 0 && (*out)[prev].text == "."
	n := nextSig(toks, end-1)
	isCall := n >= 0 && toks[n].text == "(" && !(len(parts) == 1 && toks[i].kind == tkIdent && notCallable[parts[0]])
	qualified := len(parts) == 2 && parts[0] == "pg_catalog"

	if isCall && !afterDot && (len(parts) == 1 || qualified) {
		fn := parts[len(parts)-1]
		close := matchParen(toks, n)
		args := splitArgs(toks, n+1, close)
		rewritten := make([]string, len(args))
		for k, a := range args {
			rewritten[k] = strings.TrimSpace(join(r.walk(a, cat)))
		}
		if f, ok := r.funcs[fn]; ok {
			if s, ok := f(rewritten); ok {
				*out = append(*out, raw(s))
				return close
			}
		}
		name := toks[end-1].text // pg_catalog.lower(x) is lower(x) to DuckDB
		call := name + "(" + strings.Join(rewritten, ", ") + ")"
		if (fn == "generate_series" || fn == "unnest") && prev >= 0 && fromContext[strings.ToLower((*out)[prev].text)] {
			// PostgreSQL names the column of FROM f(...) s after s;
			// DuckDB after the function.
			a := nextSig(toks, close)
			if a >= 0 && toks[a].is("as") {
				a = nextSig(toks, a)
			}
			if a >= 0 && toks[a].isIdent() && !aliasStops[toks[a].name()] {
				if c := nextSig(toks, a); c < 0 || toks[c].text != "(" {
					*out = append(*out, raw(call+" AS "+toks[a].text+"("+toks[a].text+")"))
					return a
				}
			}
		}
		if scalarInFrom[fn] && prev >= 0 && fromContext[strings.ToLower((*out)[prev].text)] {
			// PostgreSQL reads FROM string_to_array(...) s as one row
			// holding the array; to DuckDB it would be a table function.
			alias := fn
			last := close
			a := nextSig(toks, close)
			if a >= 0 && toks[a].is("as") {
				a = nextSig(toks, a)
			}
			if a >= 0 && toks[a].isIdent() && !aliasStops[toks[a].name()] {
				alias, last = toks[a].text, a
			}
			*out = append(*out, raw("(SELECT "+call+" AS "+alias+") AS "+alias))
			return last
		}
		*out = append(*out, raw(call))
		return close
	}
	if afterDot {
		*out = append(*out, toks[i:end]...)
		return end - 1
	}
	rel := ""
	switch {
	case qualified:
		rel = parts[1]
	case len(parts) == 2 && parts[0] == "information_schema":
		rel = parts[0] + "." + parts[1]
	case len(parts) == 3 && parts[0] == "pg_catalog":
		// pg_catalog.pg_class.relname: the relation's alias qualifies it.
		*out = append(*out, raw(toks[nextSig(toks, nextSig(toks, i))].text+"."+toks[end-1].text))
		return end - 1
	case len(parts) == 1 && prev >= 0 && fromContext[strings.ToLower((*out)[prev].text)]:
		rel = parts[0]
	}
	if sub, ok := r.relations[rel]; ok && !isCall {
		alias := ` AS "` + rel[strings.LastIndexByte(rel, '.')+1:] + `"`
		if a := nextSig(toks, end-1); a >= 0 && (toks[a].is("as") || toks[a].isIdent() && !aliasStops[toks[a].name()]) {
			alias = ""
		}
		*out = append(*out, raw(sub+alias))
		return end - 1
	}
	if len(parts) == 1 && toks[i].kind == tkIdent && !isCall {
		switch parts[0] {
		case "current_user", "session_user", "user", "current_role":
			*out = append(*out, raw(quoteString(r.user)))
			return i
		}
	}
	*out = append(*out, toks[i:end]...)
	return end - 1
}

// functions are the calls rewritten: each gets its arguments' rewritten
// text and answers false to leave the call as it is.
func (r *rewriter) functions() map[string]func(args []string) (string, bool) {
	null := func(typ string) func([]string) (string, bool) {
		return func([]string) (string, bool) { return "CAST(NULL AS " + typ + ")", true }
	}
	constant := func(s string) func([]string) (string, bool) {
		return func([]string) (string, bool) { return s, true }
	}
	return map[string]func([]string) (string, bool){
		"version":                            constant(quoteString(r.version)),
		"pg_get_userbyid":                    constant(quoteString(r.user)),
		"pg_backend_pid":                     constant(fmt.Sprint(r.pid)),
		"pg_is_in_recovery":                  constant("false"),
		"pg_relation_is_publishable":         constant("false"),
		"pg_encoding_to_char":                constant("'UTF8'"),
		"pg_get_partkeydef":                  null("VARCHAR"),
		"pg_get_statisticsobjdef_columns":    null("VARCHAR"),
		"pg_get_triggerdef":                  null("VARCHAR"),
		"pg_get_ruledef":                     null("VARCHAR"),
		"pg_get_functiondef":                 null("VARCHAR"),
		"pg_get_function_arguments":          null("VARCHAR"),
		"pg_get_function_result":             null("VARCHAR"),
		"pg_get_function_identity_arguments": null("VARCHAR"),
		"pg_get_function_sqlbody":            null("VARCHAR"),
		"pg_database_size":                   null("BIGINT"),
		"pg_tablespace_size":                 null("BIGINT"),
		"shobj_description":                  null("VARCHAR"),
		"pg_table_size":                      null("BIGINT"),
		"pg_relation_size":                   null("BIGINT"),
		"pg_total_relation_size":             null("BIGINT"),
		"pg_indexes_size":                    null("BIGINT"),
		"obj_description": func(a []string) (string, bool) {
			return "CAST(NULL AS VARCHAR)", true
		},
		"pg_get_expr": func(a []string) (string, bool) {
			if len(a) < 2 {
				return "", false
			}
			return "pg_get_expr(" + a[0] + ", " + a[1] + ")", true
		},
		"pg_get_viewdef": func(a []string) (string, bool) {
			if len(a) < 1 {
				return "", false
			}
			// PostgreSQL's is the query alone; DuckDB keeps the CREATE VIEW.
			return "(SELECT rtrim(regexp_replace(sql, '^CREATE\\s+(OR\\s+REPLACE\\s+)?(TEMP\\s+|TEMPORARY\\s+)?VIEW\\s+.*?\\s+AS\\s+', '', 's'), '; ') FROM duckdb_views() WHERE " +
				stableOID("schema_oid", "view_name") + " = (" + a[0] + "))", true
		},
		"pg_get_indexdef": func(a []string) (string, bool) {
			if len(a) < 1 {
				return "", false
			}
			return "(SELECT sql FROM duckdb_indexes() WHERE index_oid = (" + a[0] + "))", true
		},
		"format_type": func(a []string) (string, bool) {
			if len(a) != 2 {
				return "", false
			}
			return formatTypeSQL(a[0], a[1]), true
		},
		"current_setting": func(a []string) (string, bool) {
			if len(a) < 1 {
				return "", false
			}
			name, ok := lex1String(a[0])
			if !ok {
				return "", false
			}
			if v, ok := r.setting(strings.ToLower(name)); ok {
				return quoteString(v), true
			}
			return "", false
		},
		"quote_ident": func(a []string) (string, bool) {
			if len(a) != 1 {
				return "", false
			}
			x := "(" + a[0] + ")"
			return fmt.Sprintf(`(CASE WHEN regexp_full_match(%s, '[a-z_][a-z0-9_$]*') THEN %s ELSE '"' || replace(%s, '"', '""') || '"' END)`, x, x, x), true
		},
		"array_remove": func(a []string) (string, bool) {
			if len(a) != 2 {
				return "", false
			}
			return "list_filter(" + a[0] + ", lambda pg_e: pg_e IS DISTINCT FROM (" + a[1] + "))", true
		},
		"parse_ident": func(a []string) (string, bool) {
			if len(a) < 1 {
				return "", false
			}
			return "string_split(" + a[0] + ", '.')", true
		},
		"array_lower": func(a []string) (string, bool) {
			if len(a) != 2 {
				return "", false
			}
			return "(CASE WHEN len(" + a[0] + ") > 0 THEN 1 END)", true
		},
		"array_upper": func(a []string) (string, bool) {
			if len(a) != 2 {
				return "", false
			}
			return "nullif(len(" + a[0] + "), 0)", true
		},
		"array_length": func(a []string) (string, bool) {
			if len(a) != 2 {
				return "", false
			}
			return "nullif(len(" + a[0] + "), 0)", true
		},
		"to_regclass": func(a []string) (string, bool) {
			if len(a) != 1 {
				return "", false
			}
			return "(SELECT oid FROM " + r.relations["pg_class"] + " c WHERE relname = " + a[0] + " LIMIT 1)", true
		},
	}
}

// lex1String is the value of text that is one string literal.
func lex1String(text string) (string, bool) {
	toks := significant(lex(text))
	if len(toks) != 1 {
		return "", false
	}
	return toks[0].stringValue()
}

// castType is a type after :: or CAST's AS, in PostgreSQL's spelling.
type castType struct {
	name   string // lower-case base name, pg_catalog. dropped
	mods   string // "(18,4)"
	arrays string // "[]"
}

// typeMap spells PostgreSQL types DuckDB does not know as DuckDB's.
var typeMap = map[string]string{
	"name": "VARCHAR", "char": "VARCHAR", "bpchar": "VARCHAR", "text": "VARCHAR",
	"oid": "BIGINT", "xid": "BIGINT", "xid8": "BIGINT", "cid": "BIGINT",
	"regoper": "BIGINT", "regoperator": "BIGINT", "regconfig": "BIGINT", "regdictionary": "BIGINT", "regcollation": "BIGINT",
	"int2vector": "SMALLINT[]", "oidvector": "BIGINT[]",
	"pg_node_tree": "VARCHAR", "aclitem": "VARCHAR", "inet": "VARCHAR", "cidr": "VARCHAR", "macaddr": "VARCHAR",
	"tsvector": "VARCHAR", "tsquery": "VARCHAR", "xml": "VARCHAR", "pg_lsn": "VARCHAR", "anyarray": "VARCHAR[]",
	"jsonb": "JSON", "timestamp without time zone": "TIMESTAMP", "time without time zone": "TIME",
	"timestamp with time zone": "TIMESTAMPTZ", "time with time zone": "TIMETZ",
}

// cast applies ::typ to the operand at the end of out.
func (r *rewriter) cast(out []token, typ castType) []token {
	switch typ.name {
	case "regclass", "regtype", "regnamespace", "regproc", "regprocedure", "regrole":
		start := operandStart(out)
		if start < 0 {
			return append(out, raw("::"+typ.name))
		}
		operand := strings.TrimSpace(join(out[start:]))
		return append(out[:start], raw(r.regCast(typ.name, operand)))
	}
	target := typ.name
	if m, ok := typeMap[typ.name]; ok {
		target = m
		if strings.HasSuffix(m, "[]") || typ.name == "char" && typ.mods != "" {
			typ.mods = ""
		}
	}
	if typ.arrays != "" {
		// PostgreSQL's '{a,b}'::text[] is DuckDB's '[a,b]'.
		if j := lastSig(out); j >= 0 && pgArrayLiteral.MatchString(out[j].text) {
			out[j] = raw("'[" + out[j].text[2:len(out[j].text)-2] + "]'")
		}
	}
	return append(out, raw("::"+target+typ.mods+typ.arrays))
}

// regCast is operand::reg*: a name literal becomes its object's oid, an
// oid its object's name, as PostgreSQL prints them.
func (r *rewriter) regCast(kind, operand string) string {
	lit, isLit := lex1String(operand)
	if isLit {
		name := objectName(lit)
		switch kind {
		case "regclass":
			if oid, ok := catalogOIDs[name]; ok {
				return fmt.Sprint(oid)
			}
			return "(SELECT oid FROM " + r.relations["pg_class"] + " c WHERE relname = " + quoteString(name) + " LIMIT 1)"
		case "regtype":
			return "(SELECT pgt_oid FROM " + typesValuesSQL() + " WHERE pgt_name = " + quoteString(name) + " OR pgt_format = " + quoteString(name) + " LIMIT 1)"
		case "regnamespace":
			return "(SELECT oid FROM " + r.relations["pg_namespace"] + " n WHERE nspname = " + quoteString(name) + ")"
		case "regrole":
			return fmt.Sprint(userOID)
		default:
			return "(SELECT oid FROM pg_catalog.pg_proc WHERE proname = " + quoteString(name) + " LIMIT 1)"
		}
	}
	x := "(" + operand + ")"
	switch kind {
	case "regclass":
		return "(SELECT relname FROM " + r.relations["pg_class"] + " c WHERE oid = " + x + " LIMIT 1)"
	case "regtype":
		return formatTypeSQL(x, "NULL")
	case "regnamespace":
		return "(SELECT nspname FROM " + r.relations["pg_namespace"] + " n WHERE oid = " + x + ")"
	case "regrole":
		return quoteString(r.user)
	default:
		return "(SELECT proname FROM pg_catalog.pg_proc WHERE oid = " + x + " LIMIT 1)"
	}
}

// objectName is the object a reg* literal names: its last part, unquoted,
// lower-cased unless quoted ('public."Foo"' is Foo).
func objectName(s string) string {
	toks := significant(lex(s))
	if len(toks) == 0 {
		return s
	}
	last := toks[len(toks)-1]
	if n := last.name(); n != "" {
		return n
	}
	return s
}

// parseType reads a type name starting at or after toks[i]; end is the
// index after it (end <= i when there is none).
func parseType(toks []token, i int) (end int, typ castType) {
	j := nextSigFrom(toks, i)
	if j < 0 || !toks[j].isIdent() {
		return i, typ
	}
	if toks[j].name() == "pg_catalog" {
		if d := nextSig(toks, j); d >= 0 && toks[d].text == "." {
			if k := nextSig(toks, d); k >= 0 && toks[k].isIdent() {
				j = k
			}
		}
	}
	words := []string{toks[j].name()}
	end = j + 1
	// Multi-word names.
	more := map[string][]string{"double": {"precision"}, "character": {"varying"}, "bit": {"varying"}}
	if w, ok := more[words[0]]; ok {
		if k := nextSig(toks, end-1); k >= 0 && toks[k].is(w[0]) {
			words = append(words, w[0])
			end = k + 1
		}
	}
	if words[0] == "timestamp" || words[0] == "time" {
		k := nextSig(toks, end-1)
		if k >= 0 && toks[k].text == "(" {
			c := matchParen(toks, k)
			typ.mods = join(significant(toks[k : c+1]))
			end = c + 1
			k = nextSig(toks, end-1)
		}
		if k >= 0 && (toks[k].is("with") || toks[k].is("without")) {
			k2 := nextSig(toks, k)
			k3 := nextSig(toks, k2)
			if k2 >= 0 && k3 >= 0 && toks[k2].is("time") && toks[k3].is("zone") {
				words = append(words, toks[k].name(), "time", "zone")
				end = k3 + 1
			}
		}
	}
	typ.name = strings.Join(words, " ")
	if k := nextSig(toks, end-1); typ.mods == "" && k >= 0 && toks[k].text == "(" {
		c := matchParen(toks, k)
		typ.mods = join(significant(toks[k : c+1]))
		end = c + 1
	}
	for {
		k := nextSig(toks, end-1)
		if k < 0 || toks[k].text != "[" {
			break
		}
		c := matchBracket(toks, k)
		typ.arrays += "[]"
		end = c + 1
	}
	return end, typ
}

// qualifiedName reads name(.name)* at toks[i]: end is the index after it,
// parts the names.
func qualifiedName(toks []token, i int) (end int, parts []string) {
	if i < 0 || i >= len(toks) || !toks[i].isIdent() {
		return i, nil
	}
	parts = []string{toks[i].name()}
	if toks[i].kind == tkQuoted {
		parts[0] = toks[i].name()
	}
	end = i + 1
	for end+1 < len(toks) && toks[end].text == "." && toks[end+1].isIdent() {
		parts = append(parts, toks[end+1].name())
		end += 2
	}
	return end, parts
}

// nextSig is the index of the first significant token after i, or -1.
func nextSig(toks []token, i int) int { return nextSigFrom(toks, i+1) }

func nextSigFrom(toks []token, i int) int {
	if i < 0 {
		return -1
	}
	for ; i < len(toks); i++ {
		if toks[i].kind != tkSpace {
			return i
		}
	}
	return -1
}

func lastSig(toks []token) int {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].kind != tkSpace {
			return i
		}
	}
	return -1
}

// matchParen is the index of the ) closing the ( at toks[open]; rewrite
// only walks balanced text.
func matchParen(toks []token, open int) int { return matchClose(toks, open, "(", ")") }

func matchBracket(toks []token, open int) int { return matchClose(toks, open, "[", "]") }

func matchClose(toks []token, open int, o, c string) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		if toks[i].kind != tkPunct {
			continue
		}
		switch toks[i].text {
		case o:
			depth++
		case c:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(toks) - 1
}

// topLevel is the index of the first token in toks[from:to] outside any
// parentheses for which match holds, or -1.
func topLevel(toks []token, from, to int, match func(token) bool) int {
	depth := 0
	for i := from; i < to && i < len(toks); i++ {
		switch {
		case toks[i].kind == tkPunct && (toks[i].text == "(" || toks[i].text == "["):
			depth++
		case toks[i].kind == tkPunct && (toks[i].text == ")" || toks[i].text == "]"):
			depth--
		case depth == 0 && match(toks[i]):
			return i
		}
	}
	return -1
}

// splitArgs cuts toks[from:to] at its top-level commas.
func splitArgs(toks []token, from, to int) [][]token {
	if len(significant(toks[from:to])) == 0 {
		return nil
	}
	var out [][]token
	for {
		c := topLevel(toks, from, to, func(t token) bool { return t.kind == tkPunct && t.text == "," })
		if c < 0 {
			return append(out, toks[from:to])
		}
		out = append(out, toks[from:c])
		from = c + 1
	}
}

// operandStart is where the operand ending out starts: a literal, a
// (qualified) name, a parenthesised expression or call, with subscripts.
func operandStart(out []token) int {
	j := lastSig(out)
	if j < 0 {
		return -1
	}
	t := out[j]
	switch {
	case t.kind == tkPunct && t.text == ")":
		open := matchOpen(out, j, "(", ")")
		k := lastSig(out[:open])
		if k >= 0 && out[k].isIdent() && !notCallable[out[k].name()] {
			return nameStart(out, k)
		}
		return open
	case t.kind == tkPunct && t.text == "]":
		open := matchOpen(out, j, "[", "]")
		if s := operandStart(out[:open]); s >= 0 {
			return s
		}
		return open
	case t.isIdent():
		return nameStart(out, j)
	case t.kind == tkString, t.kind == tkNumber, t.kind == tkParam, t.kind == tkRaw:
		return j
	}
	return -1
}

// nameStart extends the name at out[k] back over qualifiers (a.b.c).
func nameStart(out []token, k int) int {
	for k >= 2 && out[k-1].text == "." && out[k-2].isIdent() {
		k -= 2
	}
	return k
}

func matchOpen(toks []token, close int, o, c string) int {
	depth := 0
	for i := close; i >= 0; i-- {
		if toks[i].kind != tkPunct {
			continue
		}
		switch toks[i].text {
		case c:
			depth++
		case o:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return 0
}
