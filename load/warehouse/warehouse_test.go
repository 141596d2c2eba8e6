package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
)

// TestKinds: an unknown kind is a config error, by Check and by both
// opens, before anything is created.
func TestKinds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wh", "affise.duckdb")
	cfg := config.Warehouse{Kind: "oracle", Path: path, MemoryLimit: "256MB"}
	want := `config: warehouse.kind: "oracle" must be duckdb or parquet`
	_, errW := Open(ctx, cfg, "syncd test")
	_, errR := OpenReadOnly(ctx, cfg)
	for _, err := range []error{Check(cfg), errW, errR} {
		var ce *config.Error
		if !errors.As(err, &ce) || err.Error() != want {
			t.Errorf("%v, want the config error %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused kind created %s: %v", filepath.Dir(path), err)
	}
	for _, k := range []string{"duckdb", "parquet"} {
		if err := Check(config.Warehouse{Kind: k}); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}

// TestOpenLake: a lake opens for writing with SQL over it; readers open
// while the writer holds it, and see its commits in SQL; a second writer
// is refused, naming the first.
func TestOpenLake(t *testing.T) {
	ctx := context.Background()
	cfg := config.Warehouse{Kind: "parquet", Path: filepath.Join(t.TempDir(), "lake"), MemoryLimit: "256MB"}
	if _, err := OpenReadOnly(ctx, cfg); err == nil || !strings.Contains(err.Error(), "does not exist yet: run `syncd sync` first") {
		t.Fatalf("read-only open of a missing lake: %v", err)
	}
	wh, err := Open(ctx, cfg, "syncd run")
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	if _, err := Open(ctx, cfg, "syncd sync"); err == nil || !strings.Contains(err.Error(), "`syncd run`") {
		t.Fatalf("second writer: %v", err)
	}
	if n := count(t, wh, "SELECT count(*) FROM conversions"); n != 0 {
		t.Errorf("an empty lake has %d conversions", n)
	}
	pos := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := wh.SetCursor(ctx, checkpoints.Cursor{Stream: "clicks", Position: pos}); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, cfg)
	if err != nil {
		t.Fatalf("a reader while the writer runs: %v", err)
	}
	defer ro.Close()
	if n := count(t, ro, "SELECT count(*) FROM _syncd_state WHERE stream = 'clicks' AND position = TIMESTAMP '2025-06-01 00:00:00'"); n != 1 {
		t.Errorf("the reader's _syncd_state has %d rows for the cursor set", n)
	}
	if n := count(t, ro, "SELECT count(*) FROM daily_revenue"); n != 0 {
		t.Errorf("daily_revenue over an empty lake: %d rows", n)
	}
	db, err := wh.ClientDB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "COPY (SELECT 1) TO '"+filepath.Join(t.TempDir(), "x.csv")+"'"); err == nil {
		t.Error("the clients' pool of a writable lake wrote a file")
	}
}

func count(t *testing.T, q load.Querier, stmt string) int {
	t.Helper()
	var n int
	err := q.Query(context.Background(), stmt, func(r *sql.Rows) error {
		for r.Next() {
			if err := r.Scan(&n); err != nil {
				return err
			}
		}
		return r.Err()
	})
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	return n
}

// TestOpenDuckDB: a read-only open of a missing file says to sync first; a
// writable open creates it and moves cursors by hand; a read-only open
// then reads them, and refuses to write.
func TestOpenDuckDB(t *testing.T) {
	ctx := context.Background()
	cfg := config.Warehouse{Kind: "duckdb", Path: filepath.Join(t.TempDir(), "wh", "affise.duckdb"), MemoryLimit: "256MB"}
	if _, err := OpenReadOnly(ctx, cfg); err == nil || !strings.Contains(err.Error(), "does not exist yet: run `syncd sync` first") {
		t.Fatalf("read-only open of a missing warehouse: %v", err)
	}
	wh, err := Open(ctx, cfg, "syncd test")
	if err != nil {
		t.Fatal(err)
	}
	pos := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := wh.SetCursor(ctx, checkpoints.Cursor{Stream: "clicks", Position: pos}); err != nil {
		t.Fatal(err)
	}
	if _, err := wh.ClientDB(); err != nil {
		t.Errorf("a writable warehouse serves no clients' SQL: %v", err)
	}
	if err := wh.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := OpenReadOnly(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	cs, err := ro.Cursors(ctx)
	if err != nil || len(cs) != 1 || !cs[0].Position.Equal(pos) {
		t.Fatalf("cursors %v %v", cs, err)
	}
	if admin, ok := ro.(checkpoints.Admin); ok {
		if err := admin.DeleteCursor(ctx, "clicks"); err == nil {
			t.Error("a read-only warehouse deleted a cursor")
		}
	}
}

// TestDefaultMemoryLimitIsDuckDBs: the config's default warehouse.memory_limit
// is the one the DuckDB sink documents (README: "syncd needs ..."), so an
// unset key and a sink opened without WithMemoryLimit agree.
func TestDefaultMemoryLimitIsDuckDBs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "syncd.yaml")
	if err := os.WriteFile(p, []byte("api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Warehouse.MemoryLimit; got != duckdb.DefaultMemoryLimit {
		t.Errorf("config default warehouse.memory_limit %q, DuckDB sink default %q", got, duckdb.DefaultMemoryLimit)
	}
}
