package pgserver

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRewrite: whatever a client sends, the lexer, the statement splitter,
// the session commands and the rewriter neither panic nor lose text: a
// panic there would end the daemon, not just the session. (What runs is
// the Querier's to check, on the rewritten text.)
func FuzzRewrite(f *testing.F) {
	files, _ := filepath.Glob("testdata/psql15/*.sql")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		"SELECT 1; SELECT 2", "SELECT 'a''b', E'\\'', $$x$$, $t$y$t$, \"q\"\"q\"", "/* /* nested */ */ SELECT 1",
		"SELECT c.oid::pg_catalog.regclass, 'x'::regclass::oid, CAST(1 AS pg_catalog.text)",
		"SELECT * FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(x)$' COLLATE pg_catalog.default",
		"SET application_name = 'x'", "SHOW ALL", "BEGIN READ ONLY", "SELECT version(", "SELECT (((", "SELECT ]]",
		"SELECT format_type(1, 2, 3), quote_ident(), current_setting()", "FROM generate_series(1, 2) s, string_to_array('a', ',') t",
		"SELECT '{0}'::int[], x::timestamp(3) with time zone, y::double precision[]", "SELECT $1::regtype, user, current_user",
	} {
		f.Add(s)
	}
	r := testRewriter()
	s := &session{settings: map[string]string{}, stmts: map[string]*prepared{}, srv: &Server{cfg: Config{MaxSessions: 16}}}
	for k, v := range settingDefaults {
		s.settings[k] = v
	}
	f.Fuzz(func(t *testing.T, sql string) {
		if got := join(lex(sql)); got != sql {
			t.Fatalf("lexing lost text: %q -> %q", sql, got)
		}
		_ = r.rewrite(sql)
		for _, stmt := range splitStatements(sql) {
			_ = r.rewrite(stmt)
			_, _, _ = s.command(stmt)
		}
	})
}
