package duckdb

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// TestDiskFull loads into a warehouse on a 16 MiB tmpfs that a filler file
// has all but filled: the load fails with an error saying so, the data and
// cursor committed before are intact after reopening, and once space is
// freed the next load succeeds. Needs root (mount); skipped otherwise.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	path := filepath.Join(dir, "wh.duckdb")
	m := newTestModel("items")
	target := load.Target{Model: m, Mode: models.Upsert}
	cur := func(s string) *checkpoints.Cursor {
		return &checkpoints.Cursor{Stream: "items", Position: ts(s)}
	}

	s, err := Open(bg, path, WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	loadRows(t, s, target, cur("2025-01-01T00:00:00Z"), []row{{"id": "a", "raw": "before"}, {"id": "b", "raw": "before"}})
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}

	// Fill the disk, leaving a few KB.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	s, err = Open(bg, path, WithThreads(1))
	if err != nil {
		// Opening may itself need space; that must be a clear error too.
		if !strings.Contains(strings.ToLower(err.Error()), "space") {
			t.Fatalf("open on a full disk: %v", err)
		}
		t.Logf("open on a full disk: %v", err)
	} else {
		err = loadBig(t, s, target, cur("2025-02-01T00:00:00Z"), 60_000)
		if err == nil {
			t.Fatal("a load bigger than the free space succeeded")
		}
		if !strings.Contains(err.Error(), "No space left on device") || !strings.Contains(err.Error(), "items") {
			t.Fatalf("unclear error on a full disk: %v", err)
		}
		t.Logf("load on a full disk: %v", err)
		_ = s.Close()
	}

	// Reopened (the disk still full): the old data and cursor are intact.
	s, err = Open(bg, path, WithThreads(1))
	if err != nil {
		t.Fatalf("reopen on a full disk after the failed load: %v", err)
	}
	defer s.Close()
	eq(t, queryStrings(t, s, `SELECT id, raw FROM items ORDER BY id`), []string{"a|before", "b|before"})
	c, ok, err := s.Cursor(bg, "items")
	if err != nil || !ok || !c.Position.Equal(ts("2025-01-01T00:00:00Z")) {
		t.Fatalf("cursor after the failed load: %+v %v %v", c, ok, err)
	}

	// Space again: the same Sink (as a running daemon would) loads.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := loadBig(t, s, target, cur("2025-02-01T00:00:00Z"), 60_000); err != nil {
		t.Fatalf("load once space is back: %v", err)
	}
	eq(t, queryStrings(t, s, `SELECT count(*), max(position) FROM items, _syncd_state`), []string{"60002|2025-02-01T00:00:00"})
}

// loadBig writes n rows with 100-byte payloads in one transaction.
func loadBig(t testing.TB, s *Sink, target load.Target, cur *checkpoints.Cursor, n int) error {
	tx, err := s.Begin(bg, target)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	pad := strings.Repeat("x", 100)
	for lo := 0; lo < n; lo += 10_000 {
		var rows []row
		for i := lo; i < min(lo+10_000, n); i++ {
			rows = append(rows, row{"id": "n" + strconv.Itoa(i), "raw": pad + strconv.Itoa(i)})
		}
		rec := mkRecord(t, target.Model.Schema(), rows)
		err := tx.Write(bg, rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	_, err = tx.Commit(bg, cur)
	return err
}

// TestCorruptFile damages a real warehouse file past its header: Open must
// fail with an error (not crash the process), in a child process so that a
// DuckDB abort would show as a failure here rather than kill the test run.
func TestCorruptFile(t *testing.T) {
	if p := os.Getenv("SYNCD_TEST_CORRUPT"); p != "" {
		return
	}
	s, path := openTest(t)
	loadRows(t, s, load.Target{Model: newTestModel("items"), Mode: models.Upsert}, nil, []row{{"id": "a"}})
	s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096; i < len(data); i++ { // keep the main header, garble the rest
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCorruptHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "SYNCD_TEST_CORRUPT="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("opening a corrupt file crashed or failed the process: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "open error:") {
		t.Fatalf("opening a corrupt file did not fail:\n%s", out)
	}
	t.Logf("%s", out)

	// An empty file (a crash while creating it) is a new warehouse.
	empty := filepath.Join(t.TempDir(), "empty.duckdb")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(bg, empty); err != nil {
		t.Logf("empty file: %v", err)
		if !errors.Is(err, ErrNotDuckDB) {
			t.Fatalf("an empty file: unclear error %v", err)
		}
	} else {
		s.Close()
	}
}

func TestCorruptHelper(t *testing.T) {
	path := os.Getenv("SYNCD_TEST_CORRUPT")
	if path == "" {
		t.Skip("helper process only")
	}
	ctx, cancel := context.WithTimeout(bg, 20*time.Second)
	defer cancel()
	s, err := Open(ctx, path)
	if err == nil {
		var n int
		err = s.DB().QueryRowContext(ctx, `SELECT count(*) FROM items`).Scan(&n)
		s.Close()
	}
	if err != nil {
		t.Logf("open error: %v", err)
	}
}

// TestForeignMetaTable: a _syncd_meta of another shape, or a version that
// is not a number, is refused with an error naming the problem.
func TestForeignMetaTable(t *testing.T) {
	for name, tc := range map[string]struct{ setup, want string }{
		"version not a number": {`UPDATE _syncd_meta SET value = 'v2' WHERE key = 'schema_version'`, `bad schema version "v2"`},
		"other shape":          {`DROP TABLE _syncd_meta; CREATE TABLE _syncd_meta (k INT, v INT)`, "schema version"},
	} {
		t.Run(name, func(t *testing.T) {
			s, path := openTest(t)
			if _, err := s.DB().ExecContext(bg, tc.setup); err != nil {
				t.Fatal(err)
			}
			s.Close()
			_, err := Open(bg, path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "duckdb") {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// TestIdentifiersCannotInject: names reach SQL only as checked, quoted
// identifiers. A model whose table or column name is not a plain
// identifier is refused before any SQL runs, and quoteIdent keeps even a
// hostile name one identifier.
func TestIdentifiersCannotInject(t *testing.T) {
	s, _ := openTest(t)
	loadRows(t, s, load.Target{Model: newTestModel("victim"), Mode: models.Upsert}, nil, []row{{"id": "a"}})
	for _, name := range []string{`x"; DROP TABLE victim; --`, `x; DROP TABLE victim`, "x y", "1x", "", "x\x00", `"x"`, "main.victim", "x--"} {
		bad := newTestModel(name)
		if _, err := s.Begin(bg, load.Target{Model: bad, Mode: models.Upsert}); err == nil || !strings.Contains(err.Error(), "bad table name") {
			t.Errorf("table %q: %v", name, err)
		}
		badCol := newTestModel("items")
		f := badCol.schema.Fields()
		f[4].Name = name
		badCol.schema = arrow.NewSchema(f, nil)
		if _, err := s.Begin(bg, load.Target{Model: badCol, Mode: models.Upsert}); err == nil {
			t.Errorf("column %q accepted", name)
		}
		badKey := newTestModel("items")
		badKey.key = []string{name}
		if _, err := s.Begin(bg, load.Target{Model: badKey, Mode: models.Upsert}); err == nil {
			t.Errorf("key %q accepted", name)
		}
	}
	for _, reserved := range []string{"_syncd_state", "_syncd_meta"} {
		if _, err := s.Begin(bg, load.Target{Model: newTestModel(reserved), Mode: models.ReplaceTable}); err == nil {
			t.Errorf("reserved table %s accepted", reserved)
		}
	}
	hostile := `x"; DROP TABLE victim; --`
	if _, err := s.DB().ExecContext(bg, "CREATE TABLE "+quoteIdent(hostile)+" ("+quoteIdent(hostile)+" INT)"); err != nil {
		t.Fatal(err)
	}
	eq(t, queryStrings(t, s, `SELECT count(*) FROM victim`), []string{"1"})
	eq(t, queryStrings(t, s, `SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = ?`, hostile, hostile), []string{"1"})
}
