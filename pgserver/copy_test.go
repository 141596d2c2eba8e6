package pgserver

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCopyToStdout: COPY (query) TO STDOUT and COPY table TO STDOUT, as
// psql's \copy sends them, in text and CSV, through the same guard as a
// SELECT; COPY to a file stays refused.
func TestCopyToStdout(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	conn := ts.connect(t).PgConn()
	copyOut := func(stmt string) (string, error) {
		var b bytes.Buffer
		tag, err := conn.CopyTo(ctx, &b, stmt)
		if err == nil && !strings.HasPrefix(tag.String(), "COPY ") {
			t.Errorf("%s: tag %q", stmt, tag)
		}
		return b.String(), err
	}
	for _, c := range []struct{ stmt, want string }{
		{"COPY (SELECT id, status FROM conversions ORDER BY id) TO STDOUT", "c1\tconfirmed\nc2\tpending\nc3\tconfirmed\n"},
		{"copy (select id, revenue from conversions where id = 'c1') to stdout with csv header", "id,revenue\nc1,10.5000\n"},
		{"COPY (SELECT 1 AS a, NULL AS b, 'x' || chr(9) || 'y\\z' || chr(10) AS c) TO STDOUT", "1\t\\N\tx\\ty\\\\z\\n\n"},
		{"COPY (SELECT 'a,b' AS a, NULL AS b, '' AS c, 'say \"hi\"' AS d) TO STDOUT (FORMAT csv)", "\"a,b\",,\"\",\"say \"\"hi\"\"\"\n"},
		{"COPY (SELECT 1 AS a, NULL AS b) TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'NULL', HEADER true)", "a;b\n1;NULL\n"},
		{"COPY (SELECT 1 AS a, 2 AS b) TO STDOUT DELIMITER AS '|' CSV", "1|2\n"},
		{"COPY conversions (id, country) TO STDOUT WITH CSV", "c1,DE\nc2,FR\nc3,DE\n"},
		{"COPY main.daily_revenue TO STDOUT", "2025-06-01\t13.5000\t8.7500\t2\n2025-06-02\t4.0000\t2.0000\t1\n"},
	} {
		got, err := copyOut(c.stmt)
		if err != nil {
			t.Errorf("%s: %v", c.stmt, err)
			continue
		}
		if strings.Contains(c.stmt, "conversions (id") || strings.Contains(c.stmt, "daily_revenue") {
			lines := strings.SplitAfter(got, "\n")
			slices.Sort(lines)
			got = strings.Join(lines, "")
		}
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.stmt, got, c.want)
		}
	}
	// CSV that encoding/csv reads back whole.
	out, err := copyOut("COPY (SELECT id, raw FROM conversions ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "id" || recs[1][1] != `{"id":"c1"}` {
		t.Errorf("CSV read back: %v %q", err, recs)
	}

	// An empty string is not NULL, in a SELECT's rows either.
	var empty *string
	if err := ts.connect(t).QueryRow(ctx, "SELECT ''").Scan(&empty); err != nil || empty == nil || *empty != "" {
		t.Errorf("SELECT '': %v, %v; want the empty string", empty, err)
	}

	dir := t.TempDir()
	for _, c := range []struct{ stmt, code string }{
		{"COPY (SELECT * FROM read_csv('/etc/passwd')) TO STDOUT", "42501"},
		{"COPY (DELETE FROM conversions RETURNING id) TO STDOUT", "25006"},
		{"COPY conversions TO '" + filepath.Join(dir, "x.csv") + "' (FORMAT csv)", "42501"},
		{"COPY (SELECT 1) TO STDOUT (FORMAT binary)", "0A000"},
		{"COPY (SELECT 1) TO STDOUT (FORCE_QUOTE *)", "0A000"},
		{"COPY (SELECT 1) TO STDOUT (DELIMITER ';;')", "22023"},
		{"COPY no_such_table TO STDOUT", "42P01"},
	} {
		_, err := copyOut(c.stmt)
		if got := sqlState(err); got != c.code {
			t.Errorf("%s: SQLSTATE %q (%v), want %s", c.stmt, got, err, c.code)
		}
	}
	var n int
	if err := ts.connect(t).QueryRow(ctx, "SELECT count(*) FROM conversions").Scan(&n); err != nil || n != 3 {
		t.Errorf("after the refusals: %d conversions, %v", n, err)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*")); len(entries) > 0 {
		t.Errorf("files were written: %v", entries)
	}
}

func TestParseCopyLeavesOtherStatements(t *testing.T) {
	for _, stmt := range []string{
		"SELECT 1",
		"COPY conversions FROM STDIN",
		"COPY conversions TO '/tmp/x'",
		"COPY (SELECT 1) TO PROGRAM 'cat'",
		"copy",
	} {
		if _, ok, err := parseCopy(stmt); ok || err != nil {
			t.Errorf("%q: taken as COPY TO STDOUT (%v)", stmt, err)
		}
	}
	c, ok, err := parseCopy(`COPY ( SELECT "a b" FROM t WHERE x = '(' ) TO STDOUT`)
	if !ok || err != nil || c.query != `SELECT "a b" FROM t WHERE x = '('` || c.csv || c.delim != "\t" || c.null != `\N` {
		t.Errorf("got %+v %v %v", c, ok, err)
	}
}
