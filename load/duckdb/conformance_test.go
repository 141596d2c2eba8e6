package duckdb_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/syncd/syncd/internal/fixtures"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/sinktest"
)

// warehouseFile is the DuckDB file inside the suite's directory.
const warehouseFile = "warehouse.duckdb"

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, dir string) sinktest.Sink {
			// Two threads: the machine is shared, and the suite's tables are small.
			s, err := duckdb.Open(context.Background(), filepath.Join(dir, warehouseFile), duckdb.WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read:  readTable,
		Crash: copyFiles,
		ForNetwork: func(s sinktest.Sink, network string) sinktest.Sink {
			return s.(*duckdb.Sink).ForNetwork(network)
		},
		Previous: func(t *testing.T, dir string) {
			fixtures.WarehouseV1(t, filepath.Join(dir, warehouseFile))
		},
	})
}

// readTable reads through Arrow, as the suite wants, on a connection of
// the sink's own pool, so it sees what any query of the warehouse would.
func readTable(t *testing.T, s load.Sink, table string) []arrow.RecordBatch {
	t.Helper()
	ctx := context.Background()
	ds := s.(*duckdb.Sink)
	var n int
	if err := ds.DB().QueryRowContext(ctx,
		`SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?`,
		table).Scan(&n); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	if n == 0 {
		return nil
	}
	conn, err := ds.DB().Conn(ctx)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer conn.Close()
	var out []arrow.RecordBatch
	err = conn.Raw(func(dc any) error {
		a, err := duckdbdriver.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rr, err := a.QueryContext(ctx, fmt.Sprintf(`SELECT * FROM main."%s"`, table))
		if err != nil {
			return err
		}
		defer rr.Release()
		for rr.Next() {
			rec := rr.RecordBatch()
			rec.Retain()
			out = append(out, rec)
		}
		return rr.Err()
	})
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return out
}

// copyFiles is a kill: the abandoned sink stays open (DuckDB's driver
// would hand a reopen of the same path the same, still running, instance),
// and the restarted process gets a copy of the database and its WAL as
// they are on disk now.
func copyFiles(t *testing.T, _ load.Sink, dir string) string {
	t.Helper()
	after := t.TempDir()
	for _, name := range []string{warehouseFile, warehouseFile + ".wal"} {
		if err := copyFile(filepath.Join(dir, name), filepath.Join(after, name)); err != nil {
			t.Fatalf("crash: %v", err)
		}
	}
	return after
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if os.IsNotExist(err) {
		return nil // no WAL: everything is checkpointed
	}
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return dst.Close()
}
