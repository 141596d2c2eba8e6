// Package sqlguard runs SQL sent by clients (the daemon's /api/query, and
// any later endpoint that serves BI tools) against the DuckDB warehouse
// read-only by construction, not by matching text.
//
// Four independent walls, each enough to stop a different class of attack:
//
//  1. DuckDB's own parser must serialize the text as exactly one SELECT
//     statement (json_serialize_sql refuses everything else: EXPLAIN in any
//     spelling, PRAGMA, SET/RESET, COPY, EXPORT, ATTACH, INSTALL/LOAD, CALL,
//     DML, DDL, transactions), and the prepared statement's type must be
//     SELECT as well.
//  2. Every table function in that statement's tree must be on a read-only
//     allow-list (checkpoint(), query(), arrow_scan() and the file readers
//     are SELECT-able yet not read-only), and no scalar function with side
//     effects (nextval, setseed, write_log) may appear.
//  3. The DuckDB instance the guard queries was opened sandboxed: no file or
//     network access from SQL (enable_external_access=false) and its
//     configuration locked, so even a statement that slipped past 1 and 2
//     could neither read /proc/self/environ nor change memory_limit.
//  4. The statement runs in a READ ONLY transaction that is always rolled
//     back, on a connection no other caller shares.
//
// Time is bounded by the caller's context (DuckDB is interrupted when it
// ends); memory by the instance's memory_limit, which every query shares
// with the loader and beyond which DuckDB spills or fails the query rather
// than growing, and by the number of queries the caller lets run at once.
package sqlguard

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/syncd/syncd/models"
)

// ErrRejected marks a statement the guard refuses to run; the rest of the
// message says why and what to do instead. Callers map it to a client error
// (HTTP 400, SQLSTATE 42501).
var ErrRejected = errors.New("only read-only queries are served")

// ErrSyntax marks a statement DuckDB's parser cannot read; DuckDB's message
// follows, saying where.
var ErrSyntax = errors.New("syntax error")

// MaxStatementBytes bounds the SQL text of one statement.
const MaxStatementBytes = 1 << 20

// Guard runs client statements read-only. It is safe for concurrent use;
// each RunReadOnly takes a connection of its own from db.
type Guard struct {
	db *sql.DB
}

// New guards db, which must be a pool over a DuckDB instance opened
// sandboxed (enable_external_access=false, lock_configuration=true) and used
// by nothing but the guard, so that no session state a query could leave
// behind reaches another caller. The guard does not own db.
func New(db *sql.DB) *Guard { return &Guard{db: db} }

// RunReadOnly checks stmt and, when it is a read-only SELECT, runs it and hands the
// rows to read. The rows belong to the guard: they are closed, the
// transaction rolled back and the connection dropped when read returns.
// A refused statement returns an error wrapping ErrRejected and runs
// nothing; other errors are DuckDB's (bad SQL, a missing table, ctx ending)
// or read's.
//
// network "" runs stmt over every network's rows; a network's name runs
// it as if the warehouse held only that network's rows (ScopeToNetwork):
// its tables, and so the views and reports over them. A name
// models.ValidNetworkName refuses is an error, and runs nothing.
func (g *Guard) RunReadOnly(ctx context.Context, network, stmt string, read func(*sql.Rows) error) error {
	return g.run(ctx, network, stmt, nil, read)
}

// RunReadOnlyArgs is RunReadOnly for a statement with parameters ($1, $2,
// ... or ?): args are bound to them as values, never spliced into the
// text, so the statement the guard checks is the one that runs whatever
// they hold.
//
// It sees every network's rows.
func (g *Guard) RunReadOnlyArgs(ctx context.Context, stmt string, args []any, read func(*sql.Rows) error) error {
	return g.run(ctx, "", stmt, args, read)
}

func (g *Guard) run(ctx context.Context, network, stmt string, args []any, read func(*sql.Rows) error) error {
	if network != "" && !models.ValidNetworkName(network) {
		return badNetwork(network)
	}
	conn, err := g.conn(ctx)
	if err != nil {
		return err
	}
	defer release(conn)
	if _, err := check(ctx, conn, stmt, false); err != nil {
		return err
	}
	if network != "" {
		if err := ScopeToNetwork(ctx, conn, network); err != nil {
			return err
		}
	}
	// duckdb-go's BeginTx refuses TxOptions.ReadOnly; DuckDB's own
	// statement gives the same guarantee.
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION READ ONLY"); err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, stmt, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := read(rows); err != nil {
		return err
	}
	return rows.Err()
}

// ScopeToNetwork makes conn answer as if the warehouse held only network's
// rows: every table and view of the current database's main schema that
// has a network column (models.NetworkColumn) is shadowed by a TEMP VIEW of
// the same name holding only network's rows. DuckDB resolves a name to the
// temporary catalog first, in a statement and in the views and reports it
// reads alike, and main.<name> too; only a name qualified with the
// database's own (<db>.main.<name>) reaches past it. The views stay with
// conn: the caller must drop the connection afterwards (never hand it
// back to a pool), as RunReadOnly does. It is how `syncd query --network`
// and the daemon's query filter, on a DuckDB file and on a lake's
// catalog alike.
func ScopeToNetwork(ctx context.Context, conn *sql.Conn, network string) error {
	if !models.ValidNetworkName(network) {
		return badNetwork(network)
	}
	rows, err := conn.QueryContext(ctx, `SELECT DISTINCT database_name, table_name FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND column_name = ?
		ORDER BY table_name`, models.NetworkColumn)
	if err != nil {
		return fmt.Errorf("scope to network %s: %w", network, err)
	}
	var stmts []string
	for rows.Next() {
		var db, name string
		if err := rows.Scan(&db, &name); err != nil {
			rows.Close()
			return fmt.Errorf("scope to network %s: %w", network, err)
		}
		// The name passed ValidNetworkName: a literal needs no escaping.
		stmts = append(stmts, fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS SELECT * FROM %s.main.%s WHERE %s = '%s'",
			quoteIdent(name), quoteIdent(db), quoteIdent(name), quoteIdent(models.NetworkColumn), network))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scope to network %s: %w", network, err)
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("scope to network %s: %w", network, err)
		}
	}
	return nil
}

// QueryNetwork runs stmt on a connection of db scoped to network
// (ScopeToNetwork) and hands its rows to read; the rows are closed when
// read returns. The connection is dropped afterwards, never returned to
// the pool: its temporary views must reach no other query. Nothing checks
// stmt: this is the person's own SQL (load.Querier), not a client's.
func QueryNetwork(ctx context.Context, db *sql.DB, network, stmt string, read func(*sql.Rows) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
	}()
	if err := ScopeToNetwork(ctx, conn, network); err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	return read(rows)
}

func badNetwork(name string) error {
	return fmt.Errorf("no network can be named %q: a network's name is 1-40 of a-z, 0-9, _ and -, not starting with _ or -", name)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Shape is what a statement takes and returns, as DuckDB prepares it:
// what a client of the extended query protocol asks before it runs one.
type Shape struct {
	// Params holds the DuckDB type of each parameter, in order ($1 first);
	// "" where DuckDB cannot tell before a value is bound (SELECT $1).
	Params []string
	// Columns are the result's columns; a column's Type is "" where it
	// depends on a parameter's value (SELECT $1).
	Columns []Column
}

// Column is one result column: its name and DuckDB type, spelled as
// database/sql's ColumnTypeDatabaseTypeName spells it (VARCHAR,
// DECIMAL(18,4), BIGINT[]), so a shape and the rows of the same statement
// agree.
type Column struct {
	Name string
	Type string
}

// Describe checks stmt as RunReadOnly does and, without running it, says
// what parameters it takes and what columns it returns. A refused
// statement returns an error wrapping ErrRejected.
func (g *Guard) Describe(ctx context.Context, stmt string) (Shape, error) {
	conn, err := g.conn(ctx)
	if err != nil {
		return Shape{}, err
	}
	defer release(conn)
	shape, err := check(ctx, conn, stmt, true)
	if err != nil {
		return Shape{}, err
	}
	return *shape, nil
}

func (g *Guard) conn(ctx context.Context) (*sql.Conn, error) {
	// A fresh connection per statement: none carries session state from
	// one client to the next.
	return g.db.Conn(ctx)
}

func release(conn *sql.Conn) {
	_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

func rejectf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRejected}, args...)...)
}

const hintReadOnly = "send one SELECT (WITH, FROM-first, VALUES, SHOW, DESCRIBE and SUMMARIZE are SELECTs too)"

// check applies walls 1 and 2 to stmt; with describe it also returns the
// prepared statement's shape.
func check(ctx context.Context, conn *sql.Conn, stmt string, describe bool) (*Shape, error) {
	if strings.TrimSpace(stmt) == "" {
		return nil, rejectf("empty statement")
	}
	if len(stmt) > MaxStatementBytes {
		return nil, rejectf("statement longer than %d bytes", MaxStatementBytes)
	}
	if strings.ContainsRune(stmt, 0) {
		// DuckDB's C API reads the text up to the first NUL: what it parses
		// would not be what was sent.
		return nil, rejectf("statement contains a NUL byte")
	}
	var tree string
	if err := conn.QueryRowContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", stmt).Scan(&tree); err != nil {
		return nil, fmt.Errorf("parsing the statement: %w", err)
	}
	if err := checkTree(tree); err != nil {
		return nil, err
	}
	// The prepared statement is the one DuckDB will plan; its type must
	// agree with the parse tree's.
	var shape *Shape
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(*duckdbdriver.Conn)
		if !ok {
			return errors.New("sqlguard: the warehouse is not DuckDB")
		}
		s, err := c.PrepareContext(ctx, stmt)
		if err != nil {
			return err
		}
		defer s.Close()
		st, ok := s.(*duckdbdriver.Stmt)
		if !ok {
			return errors.New("sqlguard: cannot classify the statement")
		}
		typ, err := st.StatementType()
		if err != nil {
			return err
		}
		if typ != duckdbdriver.STATEMENT_TYPE_SELECT {
			return rejectf("DuckDB classifies the statement as %s; %s", statementTypeName(typ), hintReadOnly)
		}
		if describe {
			shape, err = shapeOf(st)
		}
		return err
	})
	return shape, err
}

// parsed is json_serialize_sql's answer.
type parsed struct {
	Error        bool              `json:"error"`
	ErrorType    string            `json:"error_type"`
	ErrorMessage string            `json:"error_message"`
	Statements   []json.RawMessage `json:"statements"`
}

// checkTree applies walls 1 and 2 to json_serialize_sql's output.
func checkTree(tree string) error {
	var p parsed
	if err := json.Unmarshal([]byte(tree), &p); err != nil {
		return fmt.Errorf("sqlguard: reading DuckDB's parse tree: %w", err)
	}
	if p.Error {
		if strings.Contains(p.ErrorMessage, "Only SELECT statements") {
			return rejectf("not a SELECT (EXPLAIN, PRAGMA, SET, COPY, EXPORT, ATTACH, INSTALL, LOAD, CALL, writes and DDL are refused); %s", hintReadOnly)
		}
		return fmt.Errorf("%w: %s", ErrSyntax, p.ErrorMessage)
	}
	switch len(p.Statements) {
	case 0:
		return rejectf("no statement")
	case 1:
	default:
		return rejectf("%d statements; send one at a time", len(p.Statements))
	}
	var root any
	dec := json.NewDecoder(strings.NewReader(string(p.Statements[0])))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return fmt.Errorf("sqlguard: reading DuckDB's parse tree: %w", err)
	}
	return walk(root, false)
}

// walk visits every node of the parse tree. inTableRef is true for the
// "function" object of a TABLE_FUNCTION reference.
func walk(v any, inTableRef bool) error {
	switch n := v.(type) {
	case []any:
		for _, c := range n {
			if err := walk(c, false); err != nil {
				return err
			}
		}
	case map[string]any:
		if name, ok := n["function_name"].(string); ok {
			if err := checkFunction(strings.ToLower(name), inTableRef); err != nil {
				return err
			}
		}
		if n["type"] == "BASE_TABLE" {
			if name, _ := n["table_name"].(string); strings.ContainsAny(name, `/\:.*?`) {
				// FROM 'file.csv' and FROM 'http://...' are replacement
				// scans, reading files rather than the warehouse.
				return rejectf("%q is a file or URL, not a table of the warehouse", name)
			}
		}
		isTableRef := n["type"] == "TABLE_FUNCTION"
		for k, c := range n {
			if err := walk(c, isTableRef && k == "function"); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkFunction(name string, table bool) error {
	if table {
		if !readOnlyTableFunctions[name] {
			return rejectf("table function %s() is not on the read-only list (file readers, checkpoint(), query() and the like are refused); query the warehouse's tables and views", name)
		}
		return nil
	}
	if sideEffectFunctions[name] {
		return rejectf("function %s() changes state", name)
	}
	return nil
}

// readOnlyTableFunctions may appear in FROM: generators, unnesting and
// catalog introspection, none of which touches a file, the network, the
// database file or a setting. Everything else is refused: read_* and the
// Parquet/CSV sniffers (files), glob, query/query_table and
// json_execute_serialized_sql (SQL inside a string escapes this check),
// checkpoint/force_checkpoint (write the file and abort the loader),
// arrow_scan (reads process memory at a given address), the logging and
// profiling switches, and duckdb_secrets/which_secret.
var readOnlyTableFunctions = map[string]bool{
	"range": true, "generate_series": true, "unnest": true, "repeat": true, "repeat_row": true,
	"json_each": true, "json_tree": true, "histogram": true, "histogram_values": true,
	"duckdb_columns": true, "duckdb_constraints": true, "duckdb_databases": true,
	"duckdb_dependencies": true, "duckdb_functions": true, "duckdb_indexes": true,
	"duckdb_keywords": true, "duckdb_schemas": true, "duckdb_sequences": true,
	"duckdb_tables": true, "duckdb_types": true, "duckdb_views": true,
	"pragma_table_info": true, "pragma_show": true, "pragma_version": true,
	"pragma_database_size": true, "pragma_storage_info": true, "pragma_collations": true,
	"pragma_platform": true, "test_all_types": true, "pg_timezone_names": true,
	"icu_calendar_names": true, "sql_auto_complete": true, "summary": true,
}

// sideEffectFunctions are the scalar functions DuckDB marks as having side
// effects that change something another statement could see. The others it
// marks so (random, uuid, current_query, error, sleep_ms...) only read or
// are bounded by the query timeout.
var sideEffectFunctions = map[string]bool{
	"nextval": true, "setseed": true, "write_log": true,
}

func statementTypeName(t duckdbdriver.StmtType) string {
	names := map[duckdbdriver.StmtType]string{
		duckdbdriver.STATEMENT_TYPE_INSERT:       "INSERT",
		duckdbdriver.STATEMENT_TYPE_UPDATE:       "UPDATE",
		duckdbdriver.STATEMENT_TYPE_EXPLAIN:      "EXPLAIN",
		duckdbdriver.STATEMENT_TYPE_DELETE:       "DELETE",
		duckdbdriver.STATEMENT_TYPE_PREPARE:      "PREPARE",
		duckdbdriver.STATEMENT_TYPE_CREATE:       "CREATE",
		duckdbdriver.STATEMENT_TYPE_EXECUTE:      "EXECUTE",
		duckdbdriver.STATEMENT_TYPE_ALTER:        "ALTER",
		duckdbdriver.STATEMENT_TYPE_TRANSACTION:  "a transaction statement",
		duckdbdriver.STATEMENT_TYPE_COPY:         "COPY",
		duckdbdriver.STATEMENT_TYPE_ANALYZE:      "ANALYZE",
		duckdbdriver.STATEMENT_TYPE_VARIABLE_SET: "SET",
		duckdbdriver.STATEMENT_TYPE_CREATE_FUNC:  "CREATE FUNCTION",
		duckdbdriver.STATEMENT_TYPE_DROP:         "DROP",
		duckdbdriver.STATEMENT_TYPE_EXPORT:       "EXPORT",
		duckdbdriver.STATEMENT_TYPE_PRAGMA:       "PRAGMA",
		duckdbdriver.STATEMENT_TYPE_VACUUM:       "VACUUM",
		duckdbdriver.STATEMENT_TYPE_CALL:         "CALL",
		duckdbdriver.STATEMENT_TYPE_SET:          "SET",
		duckdbdriver.STATEMENT_TYPE_LOAD:         "LOAD",
		duckdbdriver.STATEMENT_TYPE_EXTENSION:    "an extension statement",
		duckdbdriver.STATEMENT_TYPE_ATTACH:       "ATTACH",
		duckdbdriver.STATEMENT_TYPE_DETACH:       "DETACH",
		duckdbdriver.STATEMENT_TYPE_MULTI:        "several statements",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprintf("statement type %d", t)
}

// shapeOf reads a prepared statement's parameter and column types.
func shapeOf(st *duckdbdriver.Stmt) (*Shape, error) {
	shape := &Shape{}
	for i := 1; i <= st.NumInput(); i++ {
		t, err := st.ParamType(i)
		if err != nil {
			return nil, err
		}
		name := typeNames[t]
		if t == duckdbdriver.TYPE_INVALID || t == duckdbdriver.TYPE_ANY {
			name = ""
		}
		shape.Params = append(shape.Params, name)
	}
	n, err := st.ColumnCount()
	if err != nil {
		return nil, err
	}
	for i := range n {
		name, err := st.ColumnName(i)
		if err != nil {
			return nil, err
		}
		col := Column{Name: name}
		if t, err := st.ColumnType(i); err != nil {
			return nil, err
		} else if t != duckdbdriver.TYPE_INVALID && t != duckdbdriver.TYPE_ANY {
			info, err := st.ColumnTypeInfo(i)
			if err != nil {
				return nil, err
			}
			col.Type = typeName(info)
		}
		shape.Columns = append(shape.Columns, col)
	}
	return shape, nil
}

// typeName spells a type as duckdb-go's rows spell it for
// ColumnTypeDatabaseTypeName, for the types whose spelling a client of
// Describe tells apart: DECIMAL with its width and scale, lists with their
// element type, JSON. Other nested types keep their bare name.
func typeName(info duckdbdriver.TypeInfo) string {
	if info.Alias() == "JSON" {
		return "JSON"
	}
	switch d := info.Details().(type) {
	case *duckdbdriver.DecimalDetails:
		return fmt.Sprintf("DECIMAL(%d,%d)", d.Width, d.Scale)
	case *duckdbdriver.ListDetails:
		return typeName(d.Child) + "[]"
	case *duckdbdriver.ArrayDetails:
		return fmt.Sprintf("%s[%d]", typeName(d.Child), d.Size)
	}
	if name, ok := typeNames[info.InternalType()]; ok {
		return name
	}
	return "UNKNOWN"
}

// typeNames are DuckDB's names of its types, as duckdb-go prints them.
var typeNames = map[duckdbdriver.Type]string{
	duckdbdriver.TYPE_BOOLEAN: "BOOLEAN", duckdbdriver.TYPE_TINYINT: "TINYINT",
	duckdbdriver.TYPE_SMALLINT: "SMALLINT", duckdbdriver.TYPE_INTEGER: "INTEGER",
	duckdbdriver.TYPE_BIGINT: "BIGINT", duckdbdriver.TYPE_UTINYINT: "UTINYINT",
	duckdbdriver.TYPE_USMALLINT: "USMALLINT", duckdbdriver.TYPE_UINTEGER: "UINTEGER",
	duckdbdriver.TYPE_UBIGINT: "UBIGINT", duckdbdriver.TYPE_FLOAT: "FLOAT",
	duckdbdriver.TYPE_DOUBLE: "DOUBLE", duckdbdriver.TYPE_TIMESTAMP: "TIMESTAMP",
	duckdbdriver.TYPE_DATE: "DATE", duckdbdriver.TYPE_TIME: "TIME",
	duckdbdriver.TYPE_INTERVAL: "INTERVAL", duckdbdriver.TYPE_HUGEINT: "HUGEINT",
	duckdbdriver.TYPE_UHUGEINT: "UHUGEINT", duckdbdriver.TYPE_VARCHAR: "VARCHAR",
	duckdbdriver.TYPE_BLOB: "BLOB", duckdbdriver.TYPE_DECIMAL: "DECIMAL",
	duckdbdriver.TYPE_TIMESTAMP_S: "TIMESTAMP_S", duckdbdriver.TYPE_TIMESTAMP_MS: "TIMESTAMP_MS",
	duckdbdriver.TYPE_TIMESTAMP_NS: "TIMESTAMP_NS", duckdbdriver.TYPE_ENUM: "ENUM",
	duckdbdriver.TYPE_LIST: "LIST", duckdbdriver.TYPE_STRUCT: "STRUCT",
	duckdbdriver.TYPE_MAP: "MAP", duckdbdriver.TYPE_ARRAY: "ARRAY",
	duckdbdriver.TYPE_UUID: "UUID", duckdbdriver.TYPE_UNION: "UNION",
	duckdbdriver.TYPE_BIT: "BIT", duckdbdriver.TYPE_TIME_TZ: "TIMETZ",
	duckdbdriver.TYPE_TIMESTAMP_TZ: "TIMESTAMPTZ", duckdbdriver.TYPE_BIGNUM: "BIGNUM",
	duckdbdriver.TYPE_SQLNULL: "\"NULL\"",
}
