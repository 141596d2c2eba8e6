package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

var bg = context.Background()

// loadRows runs one transaction writing each batch of rows as one record.
func loadRows(t testing.TB, s *Sink, target load.Target, cur *checkpoints.Cursor, batches ...[]row) int64 {
	t.Helper()
	tx, err := s.Begin(bg, target)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, b := range batches {
		rec := mkRecord(t, target.Model.Schema(), b)
		err := tx.Write(bg, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := tx.Commit(bg, cur)
	if err != nil {
		t.Fatal(err)
	}
	return n.Changed()
}

const itemsQ = `SELECT id, updated_at, amount::VARCHAR, day, raw FROM items ORDER BY id`

func TestUpsertReplacesChangedKeepsOthers(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	up := load.Target{Model: m, Mode: models.Upsert}
	n := loadRows(t, s, up, nil, []row{
		{"id": "a", "updated_at": ts("2025-01-01T10:00:00Z"), "amount": "1.5", "day": day("2025-01-01"), "raw": "a1"},
		{"id": "b", "updated_at": ts("2025-01-01T10:00:00Z"), "amount": "2", "day": day("2025-01-01"), "raw": "b1"},
	})
	if n != 2 {
		t.Fatalf("rows = %d", n)
	}
	n = loadRows(t, s, up, nil, []row{
		{"id": "b", "updated_at": ts("2025-01-02T11:30:00Z"), "amount": "20.1234", "day": day("2025-01-02"), "raw": "b2"},
		{"id": "c", "updated_at": ts("2025-01-02T11:30:00Z"), "amount": "-3", "day": day("2025-01-02"), "raw": "c1"},
	})
	if n != 2 {
		t.Fatalf("rows = %d", n)
	}
	eq(t, queryStrings(t, s, itemsQ), []string{
		"a|2025-01-01T10:00:00|1.5000|2025-01-01T00:00:00|a1",
		"b|2025-01-02T11:30:00|20.1234|2025-01-02T00:00:00|b2",
		"c|2025-01-02T11:30:00|-3.0000|2025-01-02T00:00:00|c1",
	})
}

func TestTimestampsAreUTCWhateverTheSessionZone(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	// A non-UTC zone on the Go side must not matter either.
	berlin := time.FixedZone("CET", 3600)
	loadRows(t, s, load.Target{Model: m, Mode: models.Upsert}, nil, []row{
		{"id": "a", "updated_at": time.Date(2025, 3, 1, 1, 30, 0, 0, berlin)},
	})
	eq(t, queryStrings(t, s, `SELECT updated_at::VARCHAR FROM items`), []string{"2025-03-01 00:30:00"})
}

func TestDuplicateKeysLatestUpdatedAtWins(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	up := load.Target{Model: m, Mode: models.Upsert}
	n := loadRows(t, s, up, nil,
		[]row{
			{"id": "a", "updated_at": ts("2025-01-01T12:00:00Z"), "raw": "a-noon"},
			{"id": "a", "updated_at": ts("2025-01-01T09:00:00Z"), "raw": "a-9"},
			{"id": "b", "updated_at": ts("2025-01-01T09:00:00Z"), "raw": "b-first"},
			{"id": "b", "updated_at": ts("2025-01-01T09:00:00Z"), "raw": "b-second"}, // tie: last written wins
		},
		[]row{
			{"id": "a", "updated_at": ts("2025-01-01T11:00:00Z"), "raw": "a-11"}, // older than noon: loses
			{"id": "b", "updated_at": ts("2025-01-01T09:00:00Z"), "raw": "b-third"},
			{"id": "c", "raw": "c-null-ts"},
			{"id": "c", "updated_at": ts("2025-01-01T01:00:00Z"), "raw": "c-ts"}, // a time beats NULL
		},
	)
	if n != 3 {
		t.Fatalf("rows = %d, want 3", n)
	}
	eq(t, queryStrings(t, s, `SELECT id, raw FROM items ORDER BY id`), []string{"a|a-noon", "b|b-third", "c|c-ts"})
}

func TestDuplicateKeysWithoutUpdatedAtLastWrittenWins(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("plain")
	m.schema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "raw", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	m.day = ""
	loadRows(t, s, load.Target{Model: m, Mode: models.Upsert}, nil,
		[]row{{"id": "a", "raw": "1"}, {"id": "a", "raw": "2"}},
		[]row{{"id": "a", "raw": "3"}, {"id": "b", "raw": "1"}, {"id": "a", "raw": "4"}},
	)
	eq(t, queryStrings(t, s, `SELECT id, raw FROM plain ORDER BY id`), []string{"a|4", "b|1"})
}

func TestReplaceDaysDeletesExactlyTheWindow(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	var rows []row
	for _, d := range []string{"2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05"} {
		rows = append(rows, row{"id": "old-" + d, "day": day(d)})
	}
	loadRows(t, s, load.Target{Model: m, Mode: models.Upsert}, nil, rows)

	win := load.Target{Model: m, Mode: models.ReplaceDays, From: day("2025-01-02"), To: day("2025-01-04")}
	n := loadRows(t, s, win, nil, []row{
		{"id": "new-02", "day": day("2025-01-02")},
		{"id": "new-03a", "day": day("2025-01-03")},
		{"id": "new-03b", "day": day("2025-01-03")},
	})
	if n != 3 {
		t.Fatalf("rows = %d", n)
	}
	eq(t, queryStrings(t, s, `SELECT strftime(day, '%d'), id FROM items ORDER BY day, id`), []string{
		"01|old-2025-01-01", "02|new-02", "03|new-03a", "03|new-03b", "04|old-2025-01-04", "05|old-2025-01-05",
	})

	// An empty load of a window empties those days.
	loadRows(t, s, load.Target{Model: m, Mode: models.ReplaceDays, From: day("2025-01-03"), To: day("2025-01-04")}, nil)
	eq(t, queryStrings(t, s, `SELECT count(*) FROM items WHERE day = DATE '2025-01-03'`), []string{"0"})

	// Rows outside the window are refused and nothing changes.
	tx, err := s.Begin(bg, win)
	if err != nil {
		t.Fatal(err)
	}
	rec := mkRecord(t, m.Schema(), []row{{"id": "x", "day": day("2025-01-05")}})
	if err := tx.Write(bg, rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if _, err := tx.Commit(bg, nil); err == nil || !strings.Contains(err.Error(), "outside the replaced days") {
		t.Fatalf("want an outside-window error, got %v", err)
	}
	eq(t, queryStrings(t, s, `SELECT count(*) FROM items`), []string{"4"})
}

func TestReplaceTable(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	rt := load.Target{Model: m, Mode: models.ReplaceTable}
	loadRows(t, s, rt, nil, []row{{"id": "a"}, {"id": "b"}, {"id": "c"}})
	n := loadRows(t, s, rt, nil, []row{{"id": "b", "raw": "x"}, {"id": "d"}, {"id": "d", "raw": "dup"}})
	if n != 2 {
		t.Fatalf("rows = %d", n)
	}
	eq(t, queryStrings(t, s, `SELECT id, raw FROM items ORDER BY id`), []string{"b|x", "d|dup"})
}

func TestCursorCommitsWithDataAndRollbackLeavesBoth(t *testing.T) {
	s, path := openTest(t)
	m := newTestModel("items")
	up := load.Target{Model: m, Mode: models.Upsert}
	cur := &checkpoints.Cursor{Stream: "items", Position: ts("2025-01-01T10:00:00Z"), Meta: "m1"}
	loadRows(t, s, up, cur, []row{{"id": "a", "raw": "1"}})

	// Rollback: neither data nor cursor move.
	tx, err := s.Begin(bg, up)
	if err != nil {
		t.Fatal(err)
	}
	rec := mkRecord(t, m.Schema(), []row{{"id": "a", "raw": "2"}, {"id": "b"}})
	if err := tx.Write(bg, rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal("second Rollback:", err)
	}
	if _, err := tx.Commit(bg, &checkpoints.Cursor{Stream: "items", Position: ts("2030-01-01T00:00:00Z")}); !errors.Is(err, ErrTxDone) {
		t.Fatalf("Commit after Rollback: %v", err)
	}
	if err := tx.Write(bg, rec); !errors.Is(err, ErrTxDone) {
		t.Fatalf("Write after Rollback: %v", err)
	}
	eq(t, queryStrings(t, s, `SELECT id, raw FROM items ORDER BY id`), []string{"a|1"})
	c, ok, err := s.Cursor(bg, "items")
	if err != nil || !ok || !c.Position.Equal(cur.Position) || c.Meta != "m1" {
		t.Fatalf("cursor = %+v %v %v", c, ok, err)
	}

	// Reopen: data and cursor are durable.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	eq(t, queryStrings(t, s2, `SELECT id, raw FROM items ORDER BY id`), []string{"a|1"})
	c, ok, err = s2.Cursor(bg, "items")
	if err != nil || !ok || !c.Position.Equal(cur.Position) || c.Position.Location() != time.UTC || c.UpdatedAt.IsZero() {
		t.Fatalf("cursor after reopen = %+v %v %v", c, ok, err)
	}
}

func TestCommitTwiceAndRollbackAfterCommit(t *testing.T) {
	s, _ := openTest(t)
	up := load.Target{Model: newTestModel("items"), Mode: models.Upsert}
	tx, err := s.Begin(bg, up)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(bg, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback after Commit should be a no-op: %v", err)
	}
	if _, err := tx.Commit(bg, nil); !errors.Is(err, ErrTxDone) {
		t.Fatalf("second Commit: %v", err)
	}
}

func TestCancelMidCommitLeavesNothing(t *testing.T) {
	for _, step := range []string{"flush", "delete", "insert", "cursor", "drop-stage", "commit"} {
		t.Run(step, func(t *testing.T) {
			s, _ := openTest(t)
			m := newTestModel("items")
			up := load.Target{Model: m, Mode: models.Upsert}
			cur0 := &checkpoints.Cursor{Stream: "items", Position: ts("2025-01-01T00:00:00Z")}
			loadRows(t, s, up, cur0, []row{{"id": "a", "raw": "1"}})

			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			s.testHook = func(_ context.Context, st string) {
				if st == step {
					cancel()
				}
			}
			tx, err := s.Begin(ctx, up)
			if err != nil {
				t.Fatal(err)
			}
			rec := mkRecord(t, m.Schema(), []row{{"id": "a", "raw": "2"}, {"id": "b"}})
			if err := tx.Write(ctx, rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
			_, err = tx.Commit(ctx, &checkpoints.Cursor{Stream: "items", Position: ts("2025-06-01T00:00:00Z")})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want context.Canceled, got %v", err)
			}
			s.testHook = nil
			eq(t, queryStrings(t, s, `SELECT id, raw FROM items ORDER BY id`), []string{"a|1"})
			c, _, _ := s.Cursor(bg, "items")
			if !c.Position.Equal(cur0.Position) {
				t.Fatalf("cursor moved to %v", c.Position)
			}
			// The sink is still usable.
			loadRows(t, s, up, nil, []row{{"id": "z"}})
			eq(t, queryStrings(t, s, `SELECT count(*) FROM items`), []string{"2"})
		})
	}
}

func TestCancelDuringLongInsert(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	up := load.Target{Model: m, Mode: models.Upsert}
	loadRows(t, s, up, nil, []row{{"id": "first"}})
	rows := make([]row, 200_000)
	for i := range rows {
		rows[i] = row{"id": "id-" + strconv.Itoa(i), "raw": "r"}
	}
	// A held key: the rows are staged, and the commit's insert is long
	// (new keys alone would go into the table at Write).
	rows[0] = row{"id": "first", "raw": "r"}
	ctx, cancel := context.WithCancel(bg)
	tx, err := s.Begin(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	rec := mkRecord(t, m.Schema(), rows)
	if err := tx.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	s.testHook = func(_ context.Context, st string) {
		if st == "insert" {
			go func() { time.Sleep(2 * time.Millisecond); cancel() }()
		}
	}
	_, err = tx.Commit(ctx, &checkpoints.Cursor{Stream: "items", Position: ts("2025-06-01T00:00:00Z")})
	s.testHook = nil
	cancel()
	if err == nil {
		t.Skip("insert finished before the cancel arrived")
	}
	eq(t, queryStrings(t, s, `SELECT count(*) FROM items`), []string{"1"})
	if _, ok, _ := s.Cursor(bg, "items"); ok {
		t.Fatal("cursor was stored")
	}
}

func TestFailedWriteRollsBack(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	tx, err := s.Begin(bg, load.Target{Model: m, Mode: models.Upsert})
	if err != nil {
		t.Fatal(err)
	}
	other := newTestModel("items")
	other.schema = arrow.NewSchema([]arrow.Field{{Name: "nope", Type: arrow.BinaryTypes.String}}, nil)
	rec := mkRecord(t, other.schema, []row{{"nope": "x"}})
	defer rec.Release()
	if err := tx.Write(bg, rec); err == nil || !strings.Contains(err.Error(), "items") {
		t.Fatalf("want a schema error naming the table, got %v", err)
	}
	if _, err := tx.Commit(bg, nil); !errors.Is(err, ErrTxDone) {
		t.Fatalf("Commit after failed Write: %v", err)
	}
	nullKey := mkRecord(t, m.Schema(), []row{{"raw": "no id"}})
	defer nullKey.Release()
	tx, _ = s.Begin(bg, load.Target{Model: m, Mode: models.Upsert})
	if err := tx.Write(bg, nullKey); err == nil || !strings.Contains(err.Error(), "NULL id") {
		t.Fatalf("want a NULL key error, got %v", err)
	}
}

func TestStore(t *testing.T) {
	s, _ := openTest(t)
	if _, ok, err := s.Cursor(bg, "x"); ok || err != nil {
		t.Fatalf("missing cursor: %v %v", ok, err)
	}
	p := time.Date(2025, 2, 3, 4, 5, 6, 7000, time.FixedZone("X", -7200))
	if err := s.SetCursor(bg, checkpoints.Cursor{Stream: "b", Position: p, Meta: `{"to":"2025-03-01"}`}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(bg, checkpoints.Cursor{Stream: "a", Position: p}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(bg, checkpoints.Cursor{Stream: "a", Position: p.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Cursors(bg)
	if err != nil || len(cs) != 2 {
		t.Fatalf("cursors = %v %v", cs, err)
	}
	if cs[0].Stream != "a" || !cs[0].Position.Equal(p.Add(time.Hour)) || cs[1].Meta != `{"to":"2025-03-01"}` || !cs[1].Position.Equal(p) {
		t.Fatalf("cursors = %+v", cs)
	}
	if err := s.DeleteCursor(bg, "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Cursor(bg, "a"); ok {
		t.Fatal("deleted cursor still there")
	}
	err = s.RecordRun(bg, load.Run{Stream: "a", Kind: "sync", StartedAt: p, FinishedAt: p.Add(time.Second), Rows: 10, Requests: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordRun(bg, load.Run{Stream: "a", Kind: "backfill", StartedAt: p, FinishedAt: p, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	eq(t, queryStrings(t, s, `SELECT stream, kind, started_at, finished_at, rows, requests, error FROM _syncd_runs ORDER BY kind DESC`), []string{
		"a|sync|2025-02-03T06:05:06|2025-02-03T06:05:07|10|3|NULL",
		"a|backfill|2025-02-03T06:05:06|2025-02-03T06:05:06|0|0|boom",
	})
}

func TestFilePermissionsAndDir(t *testing.T) {
	s, path := openTest(t)
	loadRows(t, s, load.Target{Model: newTestModel("items"), Mode: models.Upsert}, nil, []row{{"id": "a"}})
	s.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v", st.Mode().Perm())
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", dst.Mode().Perm())
	}
}

func TestReadOnlyAfterClose(t *testing.T) {
	s, path := openTest(t)
	loadRows(t, s, load.Target{Model: newTestModel("items"), Mode: models.Upsert},
		&checkpoints.Cursor{Stream: "items", Position: ts("2025-01-01T00:00:00Z")}, []row{{"id": "a"}})
	s.Close()

	ro, err := Open(bg, path, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	eq(t, queryStrings(t, ro, `SELECT id FROM items`), []string{"a"})
	if _, ok, err := ro.Cursor(bg, "items"); !ok || err != nil {
		t.Fatalf("cursor: %v %v", ok, err)
	}
	if _, err := ro.Begin(bg, load.Target{Model: newTestModel("items")}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Begin on read-only: %v", err)
	}
	if _, err := ro.DB().ExecContext(bg, `INSERT INTO items (id) VALUES ('b')`); err == nil {
		t.Fatal("insert into a read-only warehouse succeeded")
	}

	if _, err := Open(bg, filepath.Join(t.TempDir(), "missing.duckdb"), ReadOnly()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("read-only open of a missing file: %v", err)
	}
}

func TestSchemaVersionTooNew(t *testing.T) {
	s, path := openTest(t)
	if _, err := s.DB().ExecContext(bg, `UPDATE _syncd_meta SET value = '999' WHERE key = 'schema_version'`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, opts := range [][]Option{nil, {ReadOnly()}} {
		_, err := Open(bg, path, opts...)
		if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "999") {
			t.Fatalf("want ErrSchemaTooNew, got %v", err)
		}
	}
}

func TestNotADuckDBFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.duckdb")
	if err := os.WriteFile(path, []byte(strings.Repeat("this is a text file\n", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]Option{nil, {ReadOnly()}} {
		_, err := Open(bg, path, opts...)
		if !errors.Is(err, ErrNotDuckDB) || !strings.Contains(err.Error(), path+" is not a DuckDB database") {
			t.Fatalf("got %v", err)
		}
	}
}

func TestTableColumnMismatch(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	loadRows(t, s, load.Target{Model: m, Mode: models.Upsert}, nil, []row{{"id": "a"}})
	m2 := newTestModel("items")
	m2.schema = arrow.NewSchema(append(m.schema.Fields()[:4], arrow.Field{Name: "country", Type: arrow.BinaryTypes.String}), nil)
	_, err := s.Begin(bg, load.Target{Model: m2, Mode: models.Upsert})
	if !errors.Is(err, ErrTableMismatch) {
		t.Fatalf("want ErrTableMismatch, got %v", err)
	}
	for _, want := range []string{"items", "missing columns country", "unexpected columns raw"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q lacks %q", err, want)
		}
	}
	// The failed Begin left no transaction behind.
	loadRows(t, s, load.Target{Model: m, Mode: models.Upsert}, nil, []row{{"id": "b"}})

	// The real case: stats_daily slices changed in the config.
	d := day("2025-01-01")
	loadRows(t, s, load.Target{Model: statsModel(t, "day", "offer"), Mode: models.ReplaceDays, From: d, To: d.AddDate(0, 0, 1)}, nil)
	_, err = s.Begin(bg, load.Target{Model: statsModel(t, "day", "offer", "country"), Mode: models.ReplaceDays, From: d, To: d.AddDate(0, 0, 1)})
	if !errors.Is(err, ErrTableMismatch) || !strings.Contains(err.Error(), "stats_daily") || !strings.Contains(err.Error(), "missing columns country") {
		t.Fatalf("stats_daily slices change: %v", err)
	}
	t.Log(err)
}

func TestBadOptionsAndTargets(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(bg, filepath.Join(dir, "x.duckdb"), WithMemoryLimit("1GB'; DROP")); err == nil {
		t.Fatal("bad memory limit accepted")
	}
	s, err := Open(bg, filepath.Join(dir, "x.duckdb"), WithMemoryLimit("256MB"), WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	eq(t, queryStrings(t, s, `SELECT current_setting('memory_limit'), current_setting('threads')`), []string{"244.1 MiB|2"})
	// A commit checkpoints at 64MB of WAL, not DuckDB's 16MB (sink.go's
	// checkpointThreshold says why).
	eq(t, queryStrings(t, s, `SELECT current_setting('checkpoint_threshold')`), []string{"61.0 MiB"})

	m := newTestModel("items")
	if _, err := s.Begin(bg, load.Target{Model: m, Mode: models.ReplaceDays}); err == nil {
		t.Fatal("replace-days without a window accepted")
	}
	bad := newTestModel(`items"; DROP TABLE x; --`)
	if _, err := s.Begin(bg, load.Target{Model: bad, Mode: models.Upsert}); err == nil {
		t.Fatal("bad table name accepted")
	}
	nokey := newTestModel("items")
	nokey.key = nil
	if _, err := s.Begin(bg, load.Target{Model: nokey, Mode: models.Upsert}); err == nil {
		t.Fatal("upsert without key accepted")
	}
}

// holdInChild opens path in a child process (as owner, when not empty) and
// returns the child's PID once it holds the file.
func holdInChild(t *testing.T, path, owner string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldHelper$")
	cmd.Env = append(os.Environ(), "SYNCD_TEST_HOLD="+path, "SYNCD_TEST_HOLD_OWNER="+owner)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	buf := make([]byte, 64)
	if n, err := stdout.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "ready") {
		t.Fatalf("helper: %q %v", buf[:n], err)
	}
	return cmd.Process.Pid
}

// TestLockedByAnotherProcess: the lock error names the holder as its owner
// file records it (when the PID DuckDB reports matches), else the program
// DuckDB reports; one line, with what to do.
func TestLockedByAnotherProcess(t *testing.T) {
	if os.Getenv("SYNCD_TEST_HOLD") != "" {
		return
	}
	cases := []struct {
		name, owner, stale string
		want               func(path string, pid int) string
	}{
		{"syncd run", "syncd run", "", func(path string, pid int) string {
			return fmt.Sprintf("the warehouse %s is in use by `syncd run` (PID %d): stop it, or query through it with `syncd query`", path, pid)
		}},
		{"syncd sync", "syncd sync", "", func(path string, pid int) string {
			return fmt.Sprintf("the warehouse %s is in use by `syncd sync` (PID %d): wait for it to finish, or stop it", path, pid)
		}},
		{"no owner file", "", "", func(path string, pid int) string {
			return fmt.Sprintf("the warehouse %s is in use by another process, %s (PID %d):", path, filepath.Base(os.Args[0]), pid)
		}},
		{"stale owner file", "", `{"pid":1,"command":"syncd backfill"}`, func(path string, pid int) string {
			return fmt.Sprintf("the warehouse %s is in use by another process, %s (PID %d):", path, filepath.Base(os.Args[0]), pid)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "locked.duckdb")
			pid := holdInChild(t, path, c.owner)
			if c.stale != "" {
				if err := os.WriteFile(path+".owner", []byte(c.stale), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for _, ro := range []bool{false, true} {
				var opts []Option
				if ro {
					opts = append(opts, ReadOnly())
				}
				_, err := Open(bg, path, append(opts, Owner("syncd check"))...)
				var le *load.LockError
				if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
					t.Fatalf("want a LockError, got %v", err)
				}
				if le.PID != pid || !strings.HasPrefix(err.Error(), c.want(path, pid)) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "duckdb.org") {
					t.Errorf("read-only %v:\n got  %v\n want one line starting %q", ro, err, c.want(path, pid))
				}
				t.Log(err)
			}
		})
	}
}

// TestOwnerFile: a writable Open records who holds the file in a file of
// its owner's alone, and Close removes it; read-only opens leave it be.
func TestOwnerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "owned.duckdb")
	s, err := Open(bg, path, Owner("syncd query --write"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path + ".owner")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("owner file mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path + ".owner")
	if !strings.Contains(string(b), `"syncd query --write"`) || !strings.Contains(string(b), fmt.Sprintf(`"pid":%d`, os.Getpid())) {
		t.Errorf("owner file: %s", b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".owner"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("owner file left after Close: %v", err)
	}
	ro, err := Open(bg, path, ReadOnly(), Owner("syncd query"))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := os.Stat(path + ".owner"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read-only open wrote an owner file: %v", err)
	}
}

func TestHoldHelper(t *testing.T) {
	path := os.Getenv("SYNCD_TEST_HOLD")
	if path == "" {
		t.Skip("helper process only")
	}
	var opts []Option
	if owner := os.Getenv("SYNCD_TEST_HOLD_OWNER"); owner != "" {
		opts = append(opts, Owner(owner))
	}
	s, err := Open(bg, path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Stdout.WriteString("ready\n")
	time.Sleep(time.Minute)
}

func TestConcurrentLoads(t *testing.T) {
	s, _ := openTest(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 4 {
		// Two goroutines per table: the sink serializes them.
		table := "t" + strconv.Itoa(g%2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := newTestModel(table)
			for i := range 5 {
				tx, err := s.Begin(bg, load.Target{Model: m, Mode: models.Upsert})
				if err != nil {
					errs <- err
					return
				}
				rec := mkRecord(t, m.Schema(), []row{{"id": strconv.Itoa(g*100 + i)}, {"id": "shared", "raw": strconv.Itoa(g)}})
				err = tx.Write(bg, rec)
				rec.Release()
				if err == nil {
					_, err = tx.Commit(bg, &checkpoints.Cursor{Stream: table, Position: time.Unix(int64(i), 0)})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	eq(t, queryStrings(t, s, `SELECT (SELECT count(*) FROM t0), (SELECT count(*) FROM t1), (SELECT count(*) FROM _syncd_state)`), []string{"11|11|2"})

	// A second Begin on a busy table waits, and gives up with its context.
	tx, err := s.Begin(bg, load.Target{Model: newTestModel("t0"), Mode: models.Upsert})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if _, err := s.Begin(ctx, load.Target{Model: newTestModel("t0"), Mode: models.Upsert}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Begin: %v", err)
	}
	tx.Rollback()
	tx2, err := s.Begin(bg, load.Target{Model: newTestModel("t0"), Mode: models.Upsert})
	if err != nil {
		t.Fatal(err)
	}
	tx2.Rollback()
}

func TestManySmallWritesAcrossFlushes(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	base := ts("2025-01-01T00:00:00Z")
	var batches [][]row
	seq := 0
	for w := 0; w < 45; w++ {
		var b []row
		for i := 0; i < 1000; i++ {
			// ids repeat across writes (and flushes); later writes are newer.
			b = append(b, row{"id": strconv.Itoa(seq % 30_000), "updated_at": base.Add(time.Duration(seq) * time.Second), "raw": strconv.Itoa(seq)})
			seq++
		}
		batches = append(batches, b)
	}
	n := loadRows(t, s, load.Target{Model: m, Mode: models.Upsert}, nil, batches...)
	if n != 30_000 {
		t.Fatalf("rows = %d", n)
	}
	eq(t, queryStrings(t, s, `SELECT count(*), count(DISTINCT id), min(raw::INT), max(raw::INT) FROM items`), []string{"30000|30000|15000|44999"})
	eq(t, queryStrings(t, s, `SELECT raw FROM items WHERE id = '0' OR id = '29999' ORDER BY id`), []string{"30000", "29999"})
}

func TestUpsertOfUnchangedRowsWritesNothing(t *testing.T) {
	s, _ := openTest(t)
	m := newTestModel("items")
	up := load.Target{Model: m, Mode: models.Upsert}
	a1 := row{"id": "a", "updated_at": ts("2025-01-01T10:00:00Z"), "amount": "1", "day": day("2025-01-01"), "raw": "a1"}
	b1 := row{"id": "b", "updated_at": ts("2025-01-01T10:00:00Z"), "amount": "2", "day": day("2025-01-01"), "raw": "b1"}
	if n := loadRows(t, s, up, nil, []row{a1, b1}); n != 2 {
		t.Fatalf("first load wrote %d rows", n)
	}
	// A re-read of the same rows changes nothing and says so.
	if n := loadRows(t, s, up, nil, []row{a1, b1}); n != 0 {
		t.Fatalf("re-reading unchanged rows wrote %d", n)
	}
	// An older version staged before the unchanged latest one must not
	// sneak in; a changed row is still written.
	aOld := row{"id": "a", "updated_at": ts("2024-12-31T10:00:00Z"), "amount": "9", "day": day("2025-01-01"), "raw": "a0"}
	b2 := row{"id": "b", "updated_at": ts("2025-01-02T10:00:00Z"), "amount": "3", "day": day("2025-01-01"), "raw": "b2"}
	if n := loadRows(t, s, up, nil, []row{aOld, a1, b2}); n != 1 {
		t.Fatalf("wrote %d rows, want only the changed b", n)
	}
	eq(t, queryStrings(t, s, `SELECT id, raw FROM items ORDER BY id`), []string{"a|a1", "b|b2"})
}

func TestLibraryVersion(t *testing.T) {
	v := LibraryVersion()
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+`).MatchString(v) {
		t.Fatalf("LibraryVersion = %q, want vX.Y.Z", v)
	}
}

// TestOpenCheckpointsALeftWAL: a process that died left committed rows in
// the WAL alone. DuckDB replays them into memory at open and keeps them
// there; Open checkpoints them into the file, so a resumed load has the
// memory_limit to itself again, and the rows are all there.
func TestOpenCheckpointsALeftWAL(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "wh.duckdb")
	s, err := Open(bg, src)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The stopped process: its commits went to the WAL and no checkpoint
	// followed. Copying the files while it is open is what a kill leaves.
	raw, err := sql.Open("duckdb", src)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{"SET checkpoint_threshold = '1GB'", "CREATE TABLE big (i INT, s VARCHAR)",
		"INSERT INTO big SELECT i, repeat('x', 200) || i FROM range(100000) r(i)"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	crashed := filepath.Join(dir, "crashed", "wh.duckdb")
	if err := os.MkdirAll(filepath.Dir(crashed), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", ".wal"} {
		data, err := os.ReadFile(src + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if suffix == ".wal" && len(data) < 10<<20 {
			t.Fatalf("the WAL holds %d bytes; the rows went elsewhere and the test proves nothing", len(data))
		}
		if err := os.WriteFile(crashed+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	s, err = Open(bg, crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(crashed + ".wal"); !os.IsNotExist(err) {
		t.Errorf("the WAL is still there after Open (%v): its rows sit in memory", err)
	}
	eq(t, queryStrings(t, s, `SELECT count(*), count(DISTINCT s) FROM big`), []string{"100000|100000"})
	if mem := queryStrings(t, s, `SELECT sum(memory_usage_bytes) FROM duckdb_memory()`); len(mem) != 1 {
		t.Fatalf("duckdb_memory: %v", mem)
	} else if n, _ := strconv.ParseInt(mem[0], 10, 64); n > 16<<20 {
		t.Errorf("DuckDB holds %d bytes after Open; the replayed rows were not written out", n)
	}
}
