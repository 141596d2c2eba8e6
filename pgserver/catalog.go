package pgserver

import (
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// PostgreSQL clients learn what a database holds from pg_catalog: psql's
// \dt and \d, JDBC's and SQLAlchemy's metadata, DBeaver's navigator. DuckDB
// has views of that name, but with fewer columns than PostgreSQL 15 (psql's
// \d reads relforcerowsecurity), type ids that are DuckDB's own (so
// pg_attribute does not join pg_type), and no pg_policy, pg_inherits,
// pg_roles or the like, which psql reads even when they would be empty.
//
// So each pg_catalog relation a statement names is replaced by a subquery
// with PostgreSQL 15's columns (catalog_columns.go), filled from DuckDB's
// view where it has the column, from duckdb_columns() and constants where
// PostgreSQL's meaning differs, and with neutral values (false, 0, '',
// NULL) elsewhere. Relations DuckDB lacks are empty. The subqueries read
// nothing but DuckDB's catalog functions and views: they pass the
// Querier's checks like any statement.

// pgCatalogOID and infoSchemaOID are PostgreSQL's namespace oids for the
// two system schemas, which DuckDB's pg_namespace does not list.
const (
	pgCatalogOID  = 11
	infoSchemaOID = 13000
	userOID       = 10
)

type catalogColumn struct{ name, typ string }

func parseColumns(spec string) []catalogColumn {
	var out []catalogColumn
	for _, f := range strings.Fields(spec) {
		name, typ, _ := strings.Cut(f, ":")
		out = append(out, catalogColumn{name, typ})
	}
	return out
}

// relationSource says where a relation's rows come from, when not from
// DuckDB's view of the same name, and the columns computed differently.
type relationSource struct {
	// from is the FROM clause (and WHERE); "" reads DuckDB's view, or no
	// rows when DuckDB has none.
	from  string
	exprs map[string]string
	// noRows: the relation is empty, whatever DuckDB has.
	noRows bool
}

func relationSources(user string, tables []string) map[string]relationSource {
	u := quoteString(user)
	return map[string]relationSource{
		"pg_class": {exprs: map[string]string{
			"oid":      stableOID("relnamespace", "relname"),
			"relkind":  tableKind("relkind", "relname", "'v'", "'r'", tables),
			"relowner": fmt.Sprint(userOID),
			"relam":    "CASE relkind WHEN 'r' THEN 2 WHEN 'i' THEN 403 ELSE 0 END",
			// DuckDB's reltype 0 is PostgreSQL's "no row type" as well.
			"relreplident": "'d'",
		}},
		"pg_namespace": {from: "FROM (SELECT oid, nspname FROM pg_catalog.pg_namespace" +
			fmt.Sprintf(" UNION ALL SELECT %d, 'pg_catalog' UNION ALL SELECT %d, 'information_schema')", pgCatalogOID, infoSchemaOID),
			exprs: map[string]string{"oid": "oid", "nspname": "nspname", "nspowner": fmt.Sprint(userOID)}},
		"pg_attribute": {from: "FROM duckdb_columns()", exprs: map[string]string{
			"attrelid":      stableOID("schema_oid", "table_name"),
			"attname":       "column_name",
			"atttypid":      oidCaseSQL("data_type"),
			"attstattarget": "-1",
			"attlen":        "-1",
			"attnum":        "column_index",
			"attcacheoff":   "-1",
			"atttypmod":     "CASE WHEN data_type LIKE 'DECIMAL(%' THEN ((numeric_precision << 16) | numeric_scale) + 4 ELSE -1 END",
			"attalign":      "'d'",
			"attstorage":    "'p'",
			"attnotnull":    "NOT is_nullable",
			"atthasdef":     "column_default IS NOT NULL",
			"attislocal":    "true",
		}},
		"pg_type": {from: "FROM " + typesValuesSQL(), exprs: map[string]string{
			"oid": "pgt_oid", "typname": "pgt_name", "typnamespace": fmt.Sprint(pgCatalogOID), "typowner": fmt.Sprint(userOID),
			"typlen": "pgt_len", "typbyval": "pgt_len IN (1, 2, 4, 8)", "typtype": "'b'", "typcategory": "pgt_category",
			"typisdefined": "true", "typdelim": "','", "typelem": "pgt_elem", "typarray": "pgt_array",
			"typalign": "'i'", "typstorage": "'p'", "typtypmod": "-1",
		}},
		"pg_database": {from: "FROM duckdb_databases() WHERE NOT internal", exprs: map[string]string{
			"oid": "database_oid", "datname": "database_name", "datdba": fmt.Sprint(userOID),
			"encoding": "6", "datlocprovider": "'c'", "datallowconn": "true", "datconnlimit": "-1",
			"datcollate": "'C'", "datctype": "'C'",
		}},
		"pg_roles": {from: "FROM (SELECT 1)", exprs: map[string]string{
			"rolname": u, "rolinherit": "true", "rolcanlogin": "true", "rolconnlimit": "-1",
			"rolpassword": "'********'", "oid": fmt.Sprint(userOID),
		}},
		"pg_user": {from: "FROM (SELECT 1)", exprs: map[string]string{
			"usename": u, "usesysid": fmt.Sprint(userOID), "passwd": "'********'",
		}},
		"pg_am": {from: "FROM (VALUES (2, 'heap', 't'), (403, 'btree', 'i'), (0, 'art', 'i')) am(o, n, t)",
			exprs: map[string]string{"oid": "o", "amname": "n", "amtype": "t"}},
		"pg_tables":     {exprs: map[string]string{"tableowner": u}},
		"pg_views":      {exprs: map[string]string{"viewowner": u}},
		"pg_proc":       {exprs: map[string]string{"proowner": fmt.Sprint(userOID)}},
		"pg_tablespace": {exprs: map[string]string{"spcowner": fmt.Sprint(userOID)}},
		"pg_attrdef": {from: "FROM duckdb_columns() WHERE column_default IS NOT NULL", exprs: map[string]string{
			"oid": "hash(schema_oid, table_name, column_index) % 2000000000", "adrelid": stableOID("schema_oid", "table_name"),
			"adnum": "column_index", "adbin": "column_default",
		}},
		"pg_description": {from: "FROM (" +
			"SELECT " + stableOID("schema_oid", "table_name") + " AS o, 0 AS n, comment AS c FROM duckdb_tables() WHERE comment IS NOT NULL" +
			" UNION ALL SELECT " + stableOID("schema_oid", "view_name") + ", 0, comment FROM duckdb_views() WHERE comment IS NOT NULL AND NOT internal" +
			" UNION ALL SELECT " + stableOID("schema_oid", "table_name") + ", column_index, comment FROM duckdb_columns() WHERE comment IS NOT NULL)",
			exprs: map[string]string{"objoid": "o", "classoid": fmt.Sprint(catalogOIDs["pg_class"]), "objsubid": "n", "description": "c"}},
		// DuckDB reports its own settings there; PostgreSQL clients read
		// PostgreSQL's, and none of DuckDB's concern them.
		"pg_settings":      {noRows: true},
		"pg_stat_activity": {noRows: true},
	}
}

// stableOID is the oid clients see for the relation name in schema: DuckDB
// gives a relation a new oid whenever it is replaced (the views after a
// load, a lake's tables on refresh), and psql's \d looks a relation up by
// name, then describes it by oid in a second statement.
func stableOID(schema, name string) string {
	return fmt.Sprintf("CAST(hash(%s, %s) %% 2000000000 + 16384 AS BIGINT)", schema, name)
}

// catalogOIDs are PostgreSQL's fixed oids of its catalogs, which clients
// name as 'pg_class'::regclass.
var catalogOIDs = map[string]int{
	"pg_class": 1259, "pg_namespace": 2615, "pg_attribute": 1249, "pg_type": 1247, "pg_proc": 1255,
	"pg_constraint": 2606, "pg_database": 1262, "pg_description": 2609, "pg_index": 2610, "pg_attrdef": 2604,
}

// infoSchemaViews are DuckDB's information_schema views that list every
// attached database (its system and temp ones too); a PostgreSQL client
// expects only the one it is connected to.
var infoSchemaViews = map[string]string{
	"schemata": "catalog_name",
	"tables":   "table_catalog",
	"columns":  "table_catalog",
	"views":    "table_catalog",
}

// newRelations builds the subquery standing in for each relation of
// pgColumns, and for DuckDB's information_schema views. tables are shown
// as tables whatever DuckDB has them as.
func newRelations(user string, tables []string) map[string]string {
	sources := relationSources(user, tables)
	out := make(map[string]string, len(pgColumns)+len(infoSchemaViews))
	for view, col := range infoSchemaViews {
		sel := "*"
		if view == "tables" {
			sel = "* REPLACE (" + tableKind("table_type", "table_name", "'VIEW'", "'BASE TABLE'", tables) + " AS table_type)"
		}
		out["information_schema."+view] = "(SELECT " + sel + " FROM information_schema." + view + " WHERE " + col + " = current_database())"
	}
	for rel, spec := range pgColumns {
		src := sources[rel]
		duck := map[string]string{}
		var duckOrder []catalogColumn
		if d, ok := duckdbColumns[rel]; ok && src.from == "" {
			duckOrder = parseColumns(d)
			for _, c := range duckOrder {
				duck[c.name] = c.typ
			}
		}
		cols := parseColumns(spec)
		seen := map[string]bool{}
		var sel []string
		for _, c := range cols {
			seen[c.name] = true
			expr, ok := src.exprs[c.name]
			if !ok {
				if dt, has := duck[c.name]; has && castable(dt, c.typ) {
					expr = c.name
				} else {
					expr = neutral(c.typ)
				}
			}
			sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", expr, sqlType(c.typ), c.name))
		}
		// Columns DuckDB keeps from older PostgreSQL versions (relhasoids),
		// which older clients still read.
		for _, c := range duckOrder {
			if !seen[c.name] {
				sel = append(sel, c.name)
			}
		}
		from := src.from
		switch {
		case from != "":
		case len(duck) > 0:
			from = "FROM pg_catalog." + rel
		default:
			src.noRows = true
		}
		if src.noRows {
			from += " WHERE false"
		}
		out[rel] = "(SELECT " + strings.Join(sel, ", ") + " " + strings.TrimSpace(from) + ")"
	}
	return out
}

// tableKind is the SQL expression of kind column col that shows the
// relation named by nameCol as a table (table) where DuckDB has it as a
// view (view) and its name is one of tables: a Parquet lake's tables are
// views over its files, and clients should list them with the tables.
func tableKind(col, nameCol, view, table string, tables []string) string {
	if len(tables) == 0 {
		return col
	}
	quoted := make([]string, len(tables))
	for i, t := range tables {
		quoted[i] = quoteString(t)
	}
	return fmt.Sprintf("CASE WHEN %s = %s AND %s IN (%s) THEN %s ELSE %s END", col, view, nameCol, strings.Join(quoted, ", "), table, col)
}

// castable says whether DuckDB's column of type from holds the values
// PostgreSQL's column of type to does, so it can be read through a CAST.
func castable(from, to string) bool {
	numeric := map[string]bool{"SMALLINT": true, "INTEGER": true, "BIGINT": true, "FLOAT": true}
	switch {
	case from == to, from == "NULL":
		return true
	case to == "VARCHAR" || to == "CHAR":
		return from == "VARCHAR"
	case numeric[from] && numeric[to]:
		return true
	case strings.HasSuffix(from, "[]") && strings.HasSuffix(to, "[]"):
		return castable(strings.TrimSuffix(from, "[]"), strings.TrimSuffix(to, "[]"))
	}
	return false
}

func sqlType(t string) string {
	if t == "CHAR" {
		return "VARCHAR"
	}
	return t
}

// neutral is the value of a column DuckDB has no answer for: what
// PostgreSQL shows for an object without the feature.
func neutral(t string) string {
	switch t {
	case "BOOLEAN":
		return "false"
	case "SMALLINT", "INTEGER", "BIGINT", "FLOAT":
		return "0"
	case "CHAR":
		return "''"
	}
	return "NULL"
}

// oidCaseSQL is a SQL expression mapping a DuckDB type name column (as
// duckdb_columns() spells it) to its PostgreSQL type oid, as oidOf does.
func oidCaseSQL(col string) string {
	names := make([]string, 0, len(duckdbScalars))
	for n := range duckdbScalars {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("CASE")
	fmt.Fprintf(&b, " WHEN %s LIKE 'DECIMAL(%%)[]' THEN %d", col, oidOf("DECIMAL[]"))
	fmt.Fprintf(&b, " WHEN %s LIKE 'DECIMAL(%%' THEN %d", col, oidOf("DECIMAL"))
	for _, n := range names {
		fmt.Fprintf(&b, " WHEN %s = '%s' THEN %d", col, n, oidOf(n))
		if a := oidOf(n + "[]"); a != pgtype.TextOID {
			fmt.Fprintf(&b, " WHEN %s = '%s[]' THEN %d", col, n, a)
		}
	}
	fmt.Fprintf(&b, " ELSE %d END", oidOf("VARCHAR"))
	return b.String()
}

// typesValuesSQL lists pgTypes and their arrays as a VALUES table with
// oid, typname, typlen, typcategory, typelem, typarray and format_type's
// spelling, in columns whose names no catalog query uses.
func typesValuesSQL() string {
	var rows []string
	for _, t := range allTypes() {
		rows = append(rows, fmt.Sprintf("(%d, %s, %d, %s, %d, %d, %s)", t.oid, quoteString(t.name), t.length, quoteString(t.category), t.elem, t.array, quoteString(t.format)))
	}
	return "(VALUES " + strings.Join(rows, ", ") + ") pgt(pgt_oid, pgt_name, pgt_len, pgt_category, pgt_elem, pgt_array, pgt_format)"
}

// allTypes is pgTypes and the array type of each.
func allTypes() []pgType {
	var out []pgType
	for _, t := range pgTypes {
		out = append(out, t)
		if t.array != 0 {
			a, _ := typeByOID(t.array)
			out = append(out, a)
		}
	}
	return out
}

// formatTypeSQL is format_type(typ, typmod): PostgreSQL's spelling of a
// type, with numeric's precision and scale.
func formatTypeSQL(typ, typmod string) string {
	return fmt.Sprintf("(SELECT pgt_format || CASE WHEN pgt_oid = %d AND (%s) > 4 THEN '(' || CAST((((%s) - 4) >> 16) AS VARCHAR) || ',' || CAST((((%s) - 4) & 65535) AS VARCHAR) || ')' ELSE '' END FROM %s WHERE pgt_oid = (%s))",
		oidOf("DECIMAL"), typmod, typmod, typmod, typesValuesSQL(), typ)
}
