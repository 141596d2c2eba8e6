package lake_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/minio/minio-go/v7"

	"github.com/syncd/syncd/internal/s3test"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/lake"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/load/sinktest"
	"github.com/syncd/syncd/models"
)

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, dir string) sinktest.Sink {
			return openLake(t, dir)
		},
		Read: func(t *testing.T, s load.Sink, table string) []arrow.RecordBatch {
			t.Helper()
			return readGlob(t, s.(*lake.Sink).Bucket().(*bucket.Dir).Root(), table)
		},
		// A copy of the files as they are: what a kill leaves, without
		// the abandoned sink's lock, which the kernel drops at a kill.
		Crash: func(t *testing.T, _ load.Sink, dir string) string {
			return copyDir(t, dir)
		},
		ForNetwork: lakeNetwork,
	})
}

func lakeNetwork(s sinktest.Sink, network string) sinktest.Sink {
	return s.(*lake.Sink).ForNetwork(network)
}

func openLake(t *testing.T, dir string) *lake.Sink {
	t.Helper()
	b, err := bucket.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := lake.Open(context.Background(), b, "syncd test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// copyDir copies the tree at dir to a new temporary directory.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	if err := os.CopyFS(to, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	return to
}

// The same suite on S3: a real S3 server (versitygw) on loopback, each
// sink in a prefix of its own; a plain reader reads the server's backing
// files, which are the objects.
func TestConformanceS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	prefixes := map[string]string{} // the suite's directory -> its prefix
	prefixOf := func(dir string) string {
		if p, ok := prefixes[dir]; ok {
			return p
		}
		p := fmt.Sprintf("lake%d", len(prefixes))
		prefixes[dir] = p
		return p
	}
	open := func(t *testing.T, dir string) sinktest.Sink {
		b, err := bucket.OpenS3(context.Background(), "s3://"+srv.Bucket+"/"+prefixOf(dir), bucket.S3Config{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		s, err := lake.Open(context.Background(), b, "syncd test")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sinktest.Run(t, sinktest.Harness{
		Open:       open,
		ForNetwork: lakeNetwork,
		Read: func(t *testing.T, s load.Sink, table string) []arrow.RecordBatch {
			t.Helper()
			for dir, p := range prefixes {
				_ = dir
				if s.(*lake.Sink).Bucket().String() == "s3://"+srv.Bucket+"/"+p {
					return readGlob(t, filepath.Join(srv.Dir, srv.Bucket, p), table)
				}
			}
			t.Fatalf("no prefix for %s", s.(*lake.Sink).Bucket())
			return nil
		},
		// What a kill leaves: the objects as they are, copied to a new
		// prefix, without the abandoned writer's lock object (a restarted
		// process on this host would take over a dead PID's lock).
		Crash: func(t *testing.T, _ load.Sink, dir string) string {
			from := filepath.Join(srv.Dir, srv.Bucket, prefixOf(dir))
			to := t.TempDir()
			p := prefixOf(to)
			c := srv.Client(t)
			err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(from, path)
				if filepath.ToSlash(rel) == "_syncd/lock" {
					return nil
				}
				_, err = c.FPutObject(context.Background(), srv.Bucket, p+"/"+filepath.ToSlash(rel), path, minio.PutObjectOptions{})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return to
		},
	})
}

// readGlob reads a table as a plain reader does: every *.parquet file
// under <path>/<table>/, read with pqarrow.
func readGlob(t *testing.T, root, table string) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	err := filepath.WalkDir(filepath.Join(root, table), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d == nil && strings.HasSuffix(p, table) {
				return fs.SkipAll // never committed
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return nil
		}
		pf, err := file.OpenParquetFile(p, false)
		if err != nil {
			return err
		}
		defer pf.Close()
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
		if err != nil {
			return err
		}
		rr, err := fr.GetRecordReader(context.Background(), nil, nil)
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

// A plain DuckDB reader over the lake's glob sees the model's logical
// types (TIMESTAMP, not TIMESTAMPTZ; DECIMAL(18,4)) and every row once.
func TestDuckDBReadsPartitions(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openLake(t, dir)
	defer s.Close()
	conv := models.Conversions()
	b := conv.NewBuilder(memory.DefaultAllocator, models.DefaultNetwork, time.UTC, time.Date(2025, 2, 1, 6, 0, 0, 0, time.UTC))
	defer b.Release()
	const perDay, days = 500, 3
	for d := range days {
		for i := range perDay {
			obj := fmt.Sprintf(`{"id":"c-%d-%d","status":"confirmed","currency":"USD","offer_id":71,"partner_id":12,
				"revenue":4.5,"payouts":3,"earnings":"1.5","created_at":"2025-01-0%d 1%d:00:00","updated_at":null}`, d, i, d+1, i%10)
			if err := b.Append(json.RawMessage(obj)); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	tx, err := s.Begin(ctx, load.Target{Model: conv, Mode: models.Upsert})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	src := fmt.Sprintf(`read_parquet('%s/conversions/**/*.parquet', hive_partitioning=true)`, dir)
	types := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM `+src+`)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		types[n] = ty
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for col, want := range map[string]string{"created_at": "TIMESTAMP", "updated_at": "TIMESTAMP", "revenue": "DECIMAL(18,4)",
		"payouts": "DECIMAL(18,4)", "id": "VARCHAR", "offer_id": "BIGINT", "date": "DATE", "network": "VARCHAR"} {
		if types[col] != want {
			t.Errorf("column %s is %q, want %s", col, types[col], want)
		}
	}
	var n, distinct int
	var rev float64
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT id), sum(revenue) FROM `+src).Scan(&n, &distinct, &rev); err != nil {
		t.Fatal(err)
	}
	if n != perDay*days || distinct != n || rev != 4.5*perDay*days {
		t.Errorf("DuckDB reads %d rows (%d distinct), revenue %g; want %d rows, revenue %g", n, distinct, rev, perDay*days, 4.5*perDay*days)
	}
	var mismatched int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+src+` WHERE CAST(created_at AS DATE) <> date`).Scan(&mismatched); err != nil {
		t.Fatal(err)
	}
	if mismatched != 0 {
		t.Errorf("%d rows sit in a date= partition other than their created_at's day", mismatched)
	}
}

// A second Parquet implementation (arrow-go's own file reader, below
// pqarrow) reads a partition's footer: the logical types are the real
// Parquet ones other engines rely on, and the codec is zstd.
func TestParquetLogicalTypes(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openLake(t, dir)
	defer s.Close()
	conv := models.Conversions()
	b := conv.NewBuilder(memory.DefaultAllocator, models.DefaultNetwork, time.UTC, time.Date(2025, 2, 1, 6, 0, 0, 0, time.UTC))
	defer b.Release()
	if err := b.Append(json.RawMessage(`{"id":"c1","status":"confirmed","currency":"EUR","offer_id":7,"revenue":"4.5","payouts":3,"created_at":"2025-01-02 10:00:00"}`)); err != nil {
		t.Fatal(err)
	}
	rec := b.NewRecord()
	defer rec.Release()
	tx, err := s.Begin(ctx, load.Target{Model: conv, Mode: models.Upsert})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	pf, err := file.OpenParquetFile(filepath.Join(dir, "conversions", "network=default", "date=2025-01-02", "data.parquet"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	want := map[string]string{
		"created_at": "Timestamp(isAdjustedToUTC=false, timeUnit=microseconds, is_from_converted_type=false, force_set_converted_type=false)",
		"revenue":    "Decimal(precision=18, scale=4)",
		"status":     "String",
		"raw":        "String",
		"offer_id":   "Int(bitWidth=64, isSigned=true)",
	}
	for i := range sc.NumColumns() {
		col := sc.Column(i)
		if w, ok := want[col.Name()]; ok {
			if got := col.LogicalType().String(); got != w {
				t.Errorf("column %s: logical type %s, want %s", col.Name(), got, w)
			}
			delete(want, col.Name())
		}
	}
	for c := range want {
		t.Errorf("column %s missing from the file", c)
	}
	cc, err := pf.RowGroup(0).MetaData().ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	if cc.Compression() != compress.Codecs.Zstd {
		t.Errorf("codec %v, want zstd", cc.Compression())
	}
}
