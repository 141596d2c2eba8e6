package warehouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/models"
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

// TestLakeNetworkViews: the networks' views of one lake load apart and
// share one SQL; the lake's Query sees every network, a view's only its
// own (through the views over the tables too, and _syncd_state); closing
// a view closes the lake, once.
func TestLakeNetworkViews(t *testing.T) {
	ctx := context.Background()
	cfg := config.Warehouse{Kind: "parquet", Path: filepath.Join(t.TempDir(), "lake"), MemoryLimit: "256MB"}
	wh, err := Open(ctx, cfg, "syncd sync")
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	load1 := func(w load.Warehouse, ids ...string) {
		t.Helper()
		m := models.Conversions()
		b := m.NewBuilder(memory.DefaultAllocator, w.Network(), time.UTC, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
		defer b.Release()
		for _, id := range ids {
			if err := b.Append(json.RawMessage(`{"id":"` + id + `","status":"confirmed","currency":"USD","revenue":2,"payouts":1,"created_at":"2025-01-01 10:00:00"}`)); err != nil {
				t.Fatal(err)
			}
		}
		rec := b.NewRecord()
		defer rec.Release()
		tx, err := w.Begin(ctx, load.Target{Model: m, Mode: models.Upsert})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := tx.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Commit(ctx, &checkpoints.Cursor{Stream: "conversions", Position: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
	}
	alpha, beta := wh.ForNetwork("alpha"), wh.ForNetwork("beta")
	if alpha.Network() != "alpha" || wh.Network() != models.DefaultNetwork {
		t.Fatalf("networks: %s, %s", alpha.Network(), wh.Network())
	}
	load1(alpha, "c1", "c2")
	load1(beta, "c1")
	// The refresher makes the first files' table a view off this
	// goroutine: refresh here so the SQL below sees them.
	if err := wh.(*lakeWarehouse).sql.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, wh, "SELECT count(*) FROM conversions"); n != 3 {
		t.Errorf("the lake's Query sees %d conversions, want 3", n)
	}
	if n := count(t, alpha, "SELECT count(*) FROM conversions"); n != 2 {
		t.Errorf("alpha's Query sees %d conversions, want 2", n)
	}
	if n := count(t, beta, "SELECT sum(count) FROM conversions_by_status"); n != 1 {
		t.Errorf("beta's Query sees %d conversions through a view, want 1", n)
	}
	if n := count(t, beta, "SELECT count(*) FROM _syncd_state"); n != 1 {
		t.Errorf("beta's Query sees %d cursors, want 1", n)
	}
	// The filter was the view's connection's alone.
	if n := count(t, wh, "SELECT count(*) FROM _syncd_state"); n != 2 {
		t.Errorf("the lake's Query after a view's sees %d cursors, want 2", n)
	}
	if c, ok, err := beta.Cursor(ctx, "conversions"); err != nil || !ok || c.Position.IsZero() {
		t.Errorf("beta's cursor: %v %v %v", c, ok, err)
	}
	if _, ok, err := wh.Cursor(ctx, "conversions"); err != nil || ok {
		t.Errorf("the default network holds a conversions cursor: %v %v", ok, err)
	}
	if err := alpha.Close(); err != nil {
		t.Fatal(err)
	}
	if err := wh.Close(); err != nil {
		t.Errorf("closing again: %v", err)
	}
	ro, err := OpenReadOnly(ctx, cfg)
	if err != nil {
		t.Fatalf("a reader after a view closed the lake: %v", err)
	}
	defer ro.Close()
	if n := count(t, ro.ReadNetwork("alpha"), "SELECT count(*) FROM conversions"); n != 2 {
		t.Errorf("alpha's read-only Query sees %d conversions, want 2", n)
	}
}
