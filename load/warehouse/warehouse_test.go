package warehouse

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/config"
)

// TestKinds: duckdb opens; parquet is refused as a config error, by Check
// and by both opens, before anything is created; any other kind names the
// setting.
func TestKinds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wh", "affise.duckdb")
	for kind, want := range map[string]string{
		"parquet": "config: warehouse.kind: parquet is not available in this version yet; use duckdb",
		"oracle":  `config: warehouse.kind: "oracle" must be duckdb or parquet`,
	} {
		cfg := config.Warehouse{Kind: kind, Path: path, MemoryLimit: "256MB"}
		_, errW := Open(ctx, cfg, "syncd test")
		_, errR := OpenReadOnly(ctx, cfg)
		for _, err := range []error{Check(cfg), errW, errR} {
			var ce *config.Error
			if !errors.As(err, &ce) || err.Error() != want {
				t.Errorf("%s: %v, want the config error %q", kind, err, want)
			}
		}
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused kind created %s: %v", filepath.Dir(path), err)
	}
	if err := Check(config.Warehouse{Kind: "duckdb"}); err != nil {
		t.Errorf("duckdb: %v", err)
	}
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
