package pgserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/rs/zerolog"

	"github.com/syncd/syncd/load/duckdb/sqlguard"
)

// guardQuerier is the adapter `syncd run` wires: sqlguard's checks,
// pgserver's errors.
type guardQuerier struct{ g *sqlguard.Guard }

func (q guardQuerier) Describe(ctx context.Context, stmt string) (Shape, error) {
	shape, err := q.g.Describe(ctx, stmt)
	if err != nil {
		return Shape{}, markGuard(err)
	}
	out := Shape{Params: shape.Params}
	for _, c := range shape.Columns {
		out.Columns = append(out.Columns, Column{Name: c.Name, Type: c.Type})
	}
	return out, nil
}

func (q guardQuerier) Query(ctx context.Context, stmt string, args []any, read func(*sql.Rows) error) error {
	return markGuard(q.g.RunReadOnlyArgs(ctx, stmt, args, read))
}

func markGuard(err error) error {
	switch {
	case errors.Is(err, sqlguard.ErrRejected):
		return Refused(err)
	case errors.Is(err, sqlguard.ErrSyntax):
		return Syntax(err)
	}
	return err
}

const testPassword = "correct horse 42"

type testServer struct {
	srv    *Server
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startServer serves a test warehouse; tweak adjusts the config.
func startServer(t *testing.T, tweak func(*Config)) *testServer {
	t.Helper()
	_, g := testWarehouse(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Listener: ln, Querier: guardQuerier{g}, User: "syncd", Password: testPassword, Version: "test",
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{srv: srv, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ts.done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	return ts
}

func (ts *testServer) url(user, password string) string {
	return fmt.Sprintf("postgres://%s:%s@%s/anydb?sslmode=disable&connect_timeout=5", user, strings.ReplaceAll(password, " ", "%20"), ts.addr)
}

func (ts *testServer) connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), ts.url("syncd", testPassword))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestLogin: the right user and password log in by SCRAM-SHA-256; a wrong
// password or user is refused the same way.
func TestLogin(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	conn := ts.connect(t)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %v %v", one, err)
	}
	// A client asking for protocol 3.2 is told 3.0 and goes on.
	latest, err := pgx.Connect(ctx, ts.url("syncd", testPassword)+"&max_protocol_version=latest")
	if err != nil {
		t.Fatalf("max_protocol_version=latest: %v", err)
	}
	if err := latest.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	_ = latest.Close(ctx)
	for _, c := range []struct{ user, password string }{{"syncd", "wrong password"}, {"postgres", testPassword}, {"syncd", ""}} {
		_, err := pgx.Connect(ctx, ts.url(c.user, c.password))
		if err == nil || sqlState(err) != "28P01" {
			t.Errorf("%s/%q: %v (SQLSTATE %q), want 28P01", c.user, c.password, err, sqlState(err))
		}
		if err != nil && strings.Contains(err.Error(), testPassword) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// TestQueries: the simple and the extended protocol, with parameters, in
// text and binary.
func TestQueries(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	conn := ts.connect(t)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		rows, err := conn.Query(ctx, "SELECT id, revenue, created_at, offer_id FROM conversions WHERE offer_id = $1 AND created_at >= $2 ORDER BY id",
			mode, 1, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		var got []string
		for rows.Next() {
			var id string
			var revenue float64
			var created time.Time
			var offer int64
			if err := rows.Scan(&id, &revenue, &created, &offer); err != nil {
				t.Fatalf("%v: %v", mode, err)
			}
			got = append(got, fmt.Sprintf("%s %.2f %s %d", id, revenue, created.Format(time.DateTime), offer))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		want := "c1 10.50 2025-06-01 10:00:00 1|c3 4.00 2025-06-02 08:00:00 1"
		if strings.Join(got, "|") != want {
			t.Errorf("%v: got %q, want %q", mode, strings.Join(got, "|"), want)
		}
	}
	// A view, and a parameter DuckDB cannot type before a value comes.
	var day time.Time
	var revenue float64
	if err := conn.QueryRow(ctx, "SELECT day, revenue FROM daily_revenue WHERE day = $1", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)).Scan(&day, &revenue); err != nil || revenue != 13.5 {
		t.Fatalf("daily_revenue: %v %v %v", day, revenue, err)
	}
	var echoed string
	if err := conn.QueryRow(ctx, "SELECT $1", "x'; DROP TABLE conversions; --").Scan(&echoed); err != nil || echoed != "x'; DROP TABLE conversions; --" {
		t.Fatalf("SELECT $1: %q %v", echoed, err)
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT $1::BIGINT + 1", 41).Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT $1::BIGINT + 1: %v %v", n, err)
	}
}

// TestPreparedStatements: a named statement runs again and again with new
// arguments; closing it frees the name.
func TestPreparedStatements(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	conn := ts.connect(t)
	sd, err := conn.Prepare(ctx, "by_status", "SELECT count(*), sum(revenue) FROM conversions WHERE status = $1")
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.ParamOIDs) != 1 || sd.ParamOIDs[0] != 25 || len(sd.Fields) != 2 || sd.Fields[0].DataTypeOID != 20 || sd.Fields[1].DataTypeOID != 1700 {
		t.Fatalf("described as params %v, fields %+v", sd.ParamOIDs, sd.Fields)
	}
	for status, want := range map[string]int64{"confirmed": 2, "pending": 1, "rejected": 0} {
		var n int64
		var sum *float64
		if err := conn.QueryRow(ctx, "by_status", status).Scan(&n, &sum); err != nil || n != want {
			t.Errorf("%s: %d %v, want %d", status, n, err, want)
		}
	}
	if err := conn.Deallocate(ctx, "by_status"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Prepare(ctx, "by_status", "SELECT 1"); err != nil {
		t.Fatalf("the name is not free again: %v", err)
	}
	// SQL-level DEALLOCATE, as some poolers send it.
	if _, err := conn.Exec(ctx, "DEALLOCATE ALL", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
}

// TestRefusals: writes, DDL, COPY to a file, ATTACH, PRAGMA, settings and
// file access are refused with a PostgreSQL error, nothing changes, and
// the session goes on.
func TestRefusals(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	conn := ts.connect(t)
	dir := t.TempDir()
	for _, c := range []struct{ stmt, code string }{
		{"INSERT INTO conversions (id) VALUES ('x')", "25006"},
		{"UPDATE conversions SET status = 'x'", "25006"},
		{"DELETE FROM conversions", "25006"},
		{"DROP TABLE conversions", "25006"},
		{"CREATE TABLE t (a INT)", "25006"},
		{"COPY conversions TO '" + dir + "/x.csv'", "42501"},
		{"COPY (SELECT 1) TO '" + dir + "/y.csv'", "42501"},
		{"ATTACH '" + dir + "/other.duckdb' AS o", "42501"},
		{"PRAGMA table_info('conversions')", "42501"},
		{"SET memory_limit = '10GB'", "42501"},
		{"SET enable_external_access = true", "42501"},
		{"RESET threads", "42501"},
		{"SET ROLE postgres", "42501"},
		{"SELECT * FROM read_csv('/etc/passwd')", "42501"},
		{"SELECT * FROM '/etc/passwd'", "42501"},
		{"SELECT nextval('s')", "42501"},
		{"SELECT 1; DROP TABLE conversions", "25006"},
		{"BEGIN READ WRITE", "25006"},
		{"SET default_transaction_read_only = off", "25006"},
		{"LISTEN x", "0A000"},
		{"DECLARE c CURSOR FOR SELECT 1", "0A000"},
		{"SELECT * FROM no_such_table", "42P01"},
		{"SELEC 1", "42601"},
	} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			if strings.Contains(c.stmt, ";") && mode != pgx.QueryExecModeSimpleProtocol {
				continue
			}
			_, err := conn.Exec(ctx, c.stmt, mode)
			if got := sqlState(err); got != c.code {
				t.Errorf("%v %q: SQLSTATE %q (%v), want %s", mode, c.stmt, got, err, c.code)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: the message spans lines: %v", c.stmt, err)
			}
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM conversions").Scan(&n); err != nil || n != 3 {
				t.Fatalf("after %q: %d rows, %v", c.stmt, n, err)
			}
		}
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*")); len(entries) > 0 {
		t.Errorf("files were written: %v", entries)
	}
}

// TestSessionStatements: what drivers send on connecting and around each
// query is answered without touching the warehouse's settings.
func TestSessionStatements(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	conn := ts.connect(t)
	mode := pgx.QueryExecModeSimpleProtocol
	for _, stmt := range []string{
		"SET extra_float_digits = 3", "SET application_name = 'grafana'", "SET DateStyle = ISO",
		"SET TIME ZONE 'UTC'", "SET search_path TO main", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
		"SET statement_timeout = '30s'", "SET client_encoding TO 'UTF8'", "SET NAMES 'UTF8'",
		"BEGIN", "SELECT 1", "COMMIT", "START TRANSACTION READ ONLY ISOLATION LEVEL REPEATABLE READ", "ROLLBACK",
		"SAVEPOINT a", "RELEASE a", "DISCARD ALL", "UNLISTEN *", "RESET ALL", "RESET statement_timeout",
	} {
		if _, err := conn.Exec(ctx, stmt, mode); err != nil {
			t.Errorf("%q: %v", stmt, err)
		}
	}
	if _, err := conn.Exec(ctx, "SET application_name = 'grafana'", mode); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"SHOW application_name":                        "grafana",
		"SHOW server_version":                          ServerVersion,
		"SHOW TimeZone":                                "UTC",
		"SHOW transaction isolation level":             "read committed",
		"SELECT current_setting('server_version_num')": "150000",
		"SELECT current_setting('application_name')":   "grafana",
		"SELECT current_user":                          "syncd",
		"SELECT substr(pg_catalog.version(), 1, 13)":   "PostgreSQL 15",
	} {
		for _, m := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			var got string
			if err := conn.QueryRow(ctx, q, m).Scan(&got); err != nil || got != want {
				t.Errorf("%v %q: %q %v, want %q", m, q, got, err, want)
			}
		}
	}
	var v int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int / 100").Scan(&v); err != nil || v != 1500 {
		t.Errorf("server version for Grafana: %d %v", v, err)
	}
	// The warehouse's own settings did not move.
	var limit string
	if err := conn.QueryRow(ctx, "SELECT current_setting('memory_limit')").Scan(&limit); err != nil || !strings.Contains(limit, "MiB") {
		t.Errorf("memory_limit: %q %v", limit, err)
	}
	// An error inside a block fails the block until ROLLBACK, as in PostgreSQL.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT * FROM nope"); err == nil {
		t.Fatal("no error")
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); sqlState(err) != "25P02" {
		t.Errorf("in a failed block: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Errorf("after ROLLBACK: %v", err)
	}
}

// longQuery runs for minutes unless stopped.
const longQuery = "SELECT count(*) FROM range(100000000) a, range(100000) b WHERE a.range + b.range = -1"

// TestSessionBound: sessions beyond MaxSessions are told "too many
// connections"; a freed slot is usable again.
func TestSessionBound(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxSessions = 2 })
	ctx := context.Background()
	a, b := ts.connect(t), ts.connect(t)
	_, err := pgx.Connect(ctx, ts.url("syncd", testPassword))
	if sqlState(err) != "53300" {
		t.Fatalf("a third session: %v, want SQLSTATE 53300", err)
	}
	if _, err := b.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	_ = b.Close(ctx)
	var c *pgx.Conn
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err = pgx.Connect(ctx, ts.url("syncd", testPassword))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after one left: %v", err)
	}
	defer c.Close(ctx)
	if _, err := a.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

// TestStatementTimeout: a statement ends at the server's timeout, or at
// the session's shorter statement_timeout, and the session goes on.
func TestStatementTimeout(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.StatementTimeout = 500 * time.Millisecond })
	ctx := context.Background()
	conn := ts.connect(t)
	start := time.Now()
	_, err := conn.Exec(ctx, longQuery)
	if sqlState(err) != "57014" || !strings.Contains(err.Error(), "statement timeout") {
		t.Fatalf("long query: %v", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("cut off after %s", took)
	}
	if _, err := conn.Exec(ctx, "SET statement_timeout = 100"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := conn.Exec(ctx, longQuery, pgx.QueryExecModeSimpleProtocol); sqlState(err) != "57014" {
		t.Fatalf("with statement_timeout 100ms: %v", err)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("after the timeouts: %v", err)
	}
}

// TestCancel: a client's cancel request (pgx sends one when its context
// ends) stops the statement; the session goes on.
func TestCancel(t *testing.T) {
	ts := startServer(t, nil)
	conn := ts.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := conn.Exec(ctx, longQuery)
	if err == nil {
		t.Fatal("the long query finished")
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("cancelled after %s", took)
	}
	if conn.IsClosed() {
		// pgx closes the connection when its context ends mid-query;
		// the server side must have ended the statement all the same.
		conn = ts.connect(t)
	}
	if _, err := conn.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatalf("after the cancel: %v", err)
	}
	// psql's Ctrl-C: a CancelRequest on a connection of its own.
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), longQuery)
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := conn.PgConn().CancelRequest(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if sqlState(err) != "57014" || !strings.Contains(err.Error(), "user request") {
			t.Fatalf("cancelled query: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the cancel request did not stop the query")
	}
	if _, err := conn.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatalf("after the cancel request: %v", err)
	}
}

// TestShutdown: ending Serve's context ends a running statement and every
// session at once, telling the clients why.
func TestShutdown(t *testing.T) {
	ts := startServer(t, nil)
	idle := ts.connect(t)
	busy := ts.connect(t)
	errc := make(chan error, 1)
	go func() {
		_, err := busy.Exec(context.Background(), longQuery)
		errc <- err
	}()
	// And a client that connected but never logs in.
	silent, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	ts.cancel()
	select {
	case <-ts.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	if err := <-errc; err == nil {
		t.Error("the long query finished")
	}
	if _, err := idle.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Error("an idle session survived the shutdown")
	} else {
		t.Logf("idle session: %v", err)
	}
	ts.done <- nil // for the cleanup
}

// selfSigned is a TLS config with a fresh certificate for 127.0.0.1.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "syncd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

// TestTLS: with a certificate, clients connect over TLS, and one that
// does not ask for it is refused before it sends its password.
func TestTLS(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TLS = selfSigned(t) })
	ctx := context.Background()
	url := strings.Replace(ts.url("syncd", testPassword), "sslmode=disable", "sslmode=require", 1)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if !conn.PgConn().Conn().(*tls.Conn).ConnectionState().HandshakeComplete {
		t.Fatal("not TLS")
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM conversions").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d %v", n, err)
	}
	_, err = pgx.Connect(ctx, ts.url("syncd", testPassword))
	if sqlState(err) != "28000" {
		t.Fatalf("plain connection: %v, want SQLSTATE 28000", err)
	}
}

// TestTypes: DuckDB's types reach clients as PostgreSQL's, with the same
// values in text and in binary.
func TestTypes(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	conn := ts.connect(t)
	const q = `SELECT true AS b, 7::SMALLINT AS i2, 8::INTEGER AS i4, 9::BIGINT AS i8, 10::HUGEINT AS hi,
		1.5::FLOAT AS f4, 2.25::DOUBLE AS f8, 123.4567::DECIMAL(18,4) AS num, 'tëxt' AS s,
		DATE '2025-06-01' AS d, TIMESTAMP '2025-06-01 10:11:12.345678' AS ts,
		TIMESTAMPTZ '2025-06-01 10:11:12+00' AS tstz, TIME '01:02:03' AS tm,
		INTERVAL '1 day 2 hours' AS iv, '\x00\x01'::BLOB AS blob, [1, 2, NULL] AS ints, ['a', 'b'] AS strs,
		{'k': 1} AS st, '{"a": 1}'::JSON AS js, 'a8098c1a-f86e-11da-bd1a-00112444be1e'::UUID AS id, NULL::INTEGER AS nul`
	want := []string{
		"true", "7", "8", "9", "10", "1.5", "2.25", "123.4567", "tëxt", "2025-06-01", "2025-06-01 10:11:12.345678",
		"2025-06-01 10:11:12 +0000 UTC", "01:02:03", "1 day 02:00:00", "0001", "[1 2 <nil>]", "[a b]", `{"k":1}`,
		`{"a":1}`, "a8098c1a-f86e-11da-bd1a-00112444be1e", "<nil>",
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		rows, err := conn.Query(ctx, q, mode)
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if !rows.Next() {
			t.Fatalf("%v: no row: %v", mode, rows.Err())
		}
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		rows.Close()
		for i, v := range vals {
			got := show(v)
			if i < len(want) && got != want[i] {
				t.Errorf("%v column %s: %s (%T), want %s", mode, rows.FieldDescriptions()[i].Name, got, v, want[i])
			}
		}
	}
}

// show prints a value pgx decoded, comparably across formats.
func show(v any) string {
	switch x := v.(type) {
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format(time.DateOnly)
		}
		if x.Location() == time.UTC && x.Nanosecond() != 0 {
			return x.Format("2006-01-02 15:04:05.999999")
		}
		return x.UTC().String()
	case pgtype.Numeric:
		f, _ := x.Float64Value()
		return fmt.Sprint(f.Float64)
	case pgtype.Time:
		d := time.Duration(x.Microseconds) * time.Microsecond
		return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	case pgtype.Interval:
		d := time.Duration(x.Microseconds) * time.Microsecond
		return fmt.Sprintf("%d day %02d:%02d:%02d", x.Days, int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	case []byte:
		return fmt.Sprintf("%x", x)
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case []any:
		return fmt.Sprint(x)
	case map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// TestGrafanaPanelQueries: a Grafana panel's SQL as the data source sends
// it, its macros ($__timeFilter, $__timeGroupAlias) expanded, runs.
func TestGrafanaPanelQueries(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	conn := ts.connect(t)
	for _, q := range []string{
		`SELECT day AS "time", sum(revenue) AS revenue, sum(payouts) AS payouts FROM daily_revenue
			WHERE day BETWEEN '2025-05-01T00:00:00Z' AND '2025-06-30T23:59:59.999Z' GROUP BY day ORDER BY 1`,
		`SELECT floor(extract(epoch from created_at)/3600)*3600 AS "time", count(*) AS conversions FROM conversions
			WHERE created_at BETWEEN '2025-05-01T00:00:00Z' AND '2025-06-30T23:59:59Z' GROUP BY 1 ORDER BY 1`,
		`SELECT created_at AS "time", revenue FROM conversions WHERE created_at >= to_timestamp(1746057600) AND created_at <= to_timestamp(1751327999) ORDER BY 1`,
	} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			rows, err := conn.Query(ctx, q, mode)
			if err != nil {
				t.Fatalf("%v %s: %v", mode, q, err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil || n == 0 {
				t.Errorf("%v %s: %d rows, %v", mode, q, n, err)
			}
		}
	}
}
