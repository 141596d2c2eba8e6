package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/minio/minio-go/v7"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/internal/fixtures"
	"github.com/syncd/syncd/internal/s3test"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// v1Lake unpacks the committed layout-1 lake (written by the release
// before networks) into a new directory, with what the release never
// happened to leave in it: hours in a set of changed hours, and the
// journal of a commit a killed writer left (it moves the offers cursor).
func v1Lake(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	fixtures.LakeV1(t, dir)
	write := func(rel, content string) {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(rel)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("_syncd/changed.json", `{"conversions": ["2026-11-30T10:00:00Z", "2026-12-01T09:00:00Z"]}`)
	write("_syncd/journal/00000000000000000001-dead.json",
		`{"table": "offers", "cursor": {"stream": "offers", "cursor": {"position": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:01Z"}}}`)
	return dir
}

// lakeSummary is what an upgrade must keep, read from a lake's files and
// objects: per table its rows and a checksum of every column but network
// (through DuckDB, over every *.parquet file below the table), the
// network values, the cursors, runs and changed hours as the default
// network sees them, and the data files' keys below their table.
func lakeSummary(t *testing.T, dir string, layout int) []string {
	t.Helper()
	b, err := bucket.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bucketSummary(t, dir, b, layout)
}

// bucketSummary is lakeSummary of the lake in b, whose objects are the
// files below dir.
func bucketSummary(t *testing.T, dir string, b bucket.Bucket, layout int) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	tables, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, td := range tables {
		table := filepath.Base(td)
		if table == "_syncd" {
			continue
		}
		var n, networks, sum string
		q := fmt.Sprintf(`WITH f AS (SELECT * FROM read_parquet('%s/**/*.parquet', union_by_name = true, hive_partitioning = false))
			SELECT count(*)::VARCHAR, coalesce(sum(hash(t)), 0)::VARCHAR FROM (SELECT COLUMNS(c -> c <> 'network') FROM f) t`, td)
		if err := db.QueryRow(q).Scan(&n, &sum); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		networks = "none"
		if layout >= 2 {
			q := fmt.Sprintf(`SELECT coalesce(string_agg(DISTINCT coalesce(network, 'NULL'), ','), '') FROM read_parquet('%s/**/*.parquet', union_by_name = true, hive_partitioning = false)`, td)
			if err := db.QueryRow(q).Scan(&networks); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
		}
		out = append(out, fmt.Sprintf("table %s: %s rows, sum %s, networks %s", table, n, sum, networks))
	}
	st, err := readState(t.Context(), b, layout)
	if err != nil {
		t.Fatal(err)
	}
	for _, net := range slices.Sorted(mapsKeys(st)) {
		for _, stream := range slices.Sorted(mapsKeys(st[net])) {
			c := st[net][stream]
			out = append(out, fmt.Sprintf("cursor %s/%s %s %s", net, stream, c.Position.Format(time.RFC3339Nano), c.UpdatedAt.Format(time.RFC3339Nano)))
		}
	}
	runs, err := readRuns(t.Context(), b, layout)
	if err != nil {
		t.Fatal(err)
	}
	for _, net := range slices.Sorted(mapsKeys(runs)) {
		for _, stream := range slices.Sorted(mapsKeys(runs[net])) {
			sr := runs[net][stream]
			for _, r := range sr.Recent {
				out = append(out, fmt.Sprintf("run %s/%s %s %s rows %d", r.Network, stream, r.Kind, r.StartedAt.Format(time.RFC3339Nano), r.Rows))
			}
			out = append(out, fmt.Sprintf("last success %s/%s %s", net, stream, sr.LastSuccess.Format(time.RFC3339Nano)))
		}
	}
	ch, err := readChanged(t.Context(), b, layout)
	if err != nil {
		t.Fatal(err)
	}
	for _, net := range slices.Sorted(mapsKeys(ch)) {
		for _, set := range slices.Sorted(mapsKeys(ch[net])) {
			out = append(out, fmt.Sprintf("changed %s/%s %v", net, set, ch[net][set]))
		}
	}
	return out
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// upgraded is what lakeSummary should read after an upgrade of the
// summary before of a layout-1 lake: the same rows, every one of network
// default, every cursor, run and set the default network's, and the
// killed writer's journal applied.
func upgraded(before []string) []string {
	var out []string
	for _, l := range before {
		switch {
		case strings.HasPrefix(l, "table "):
			l = strings.Replace(l, "networks none", "networks default", 1)
		case strings.HasPrefix(l, "cursor default/offers "):
			l = "cursor default/offers 2030-01-01T00:00:00Z 2030-01-01T00:00:01Z"
		}
		out = append(out, l)
	}
	return out
}

// keysBelowTables lists every object outside _syncd/.
func keysBelowTables(t *testing.T, dir string) []string {
	t.Helper()
	b, err := bucket.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := b.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, syncdPrefix) {
			out = append(out, o.Key)
		}
	}
	return out
}

// TestUpgradeV1Fixture: a lake the previous release wrote opens for
// writing, and is then layout 2: every file under network=default/ with
// the network column, no file left where layout 1 kept it, every row,
// cursor, run and changed hour kept as the default network's; it loads
// on, and a second open changes nothing.
func TestUpgradeV1Fixture(t *testing.T) {
	dir := v1Lake(t)
	before := lakeSummary(t, dir, 1)
	beforeKeys := keysBelowTables(t, dir)
	b, err := bucket.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(t.Context(), b); !errors.Is(err, ErrOldLayout) || !strings.Contains(err.Error(), "run `syncd sync`") {
		t.Fatalf("a read-only open of a layout-1 lake: %v", err)
	}
	s, err := openDir(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lakeSummary(t, dir, 2), upgraded(before); !slices.Equal(got, want) {
		t.Errorf("after the upgrade:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var wantKeys []string
	for _, k := range beforeKeys {
		table, rest, _ := strings.Cut(k, "/")
		wantKeys = append(wantKeys, table+"/network=default/"+rest)
	}
	slices.Sort(wantKeys)
	if got := keysBelowTables(t, dir); !slices.Equal(got, wantKeys) {
		t.Errorf("keys after the upgrade:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantKeys, "\n"))
	}
	var m meta
	if _, err := getJSON(t.Context(), b, metaKey, &m); err != nil || m.SchemaVersion != SchemaVersion {
		t.Errorf("meta after the upgrade: %+v %v", m, err)
	}
	if objs, _ := b.List(t.Context(), upgradeKey); len(objs) != 0 {
		t.Errorf("the upgrade's journal is left: %v", objs)
	}
	c, ok, err := s.Cursor(t.Context(), "conversions")
	if err != nil || !ok || c.Position.IsZero() {
		t.Errorf("the default network's conversions cursor: %v %v %v", c, ok, err)
	}
	if hs, err := s.ChangedHours(t.Context(), "conversions"); err != nil || len(hs) != 2 {
		t.Errorf("changed hours: %v %v", hs, err)
	}
	if cs, err := s.Currencies(t.Context()); err != nil || !slices.Equal(cs, []string{"USD"}) {
		t.Errorf("currencies: %v %v", cs, err)
	}
	// Loads go on: a conversion merged into an upgraded day's file.
	rec := conversions(t, "confirmed", []int{1})
	defer rec.Release()
	if err := upsert(t, s, rec, &checkpoints.Cursor{Stream: "conversions", Position: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	first, ok, err := s.FirstDay(t.Context(), models.Conversions())
	if err != nil || !ok || first.Format(time.DateOnly) != "2025-01-02" {
		t.Errorf("first day after a load: %v %v %v", first, ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again := lakeSummary(t, dir, 2)
	if _, err := openDir(t, dir); err != nil {
		t.Fatal(err)
	}
	if got := lakeSummary(t, dir, 2); !slices.Equal(got, again) {
		t.Errorf("a second open changed the lake:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(again, "\n"))
	}
	if _, err := OpenReadOnly(t.Context(), b); err != nil {
		t.Errorf("a read-only open after the upgrade: %v", err)
	}
}

// killingBucket stands for a process killed after its first n changes to
// the lake: every later change fails and changes nothing.
type killingBucket struct {
	bucket.Bucket
	n int
}

var errKilled = errors.New("killed (test)")

func (k *killingBucket) change() error {
	if k.n <= 0 {
		return errKilled
	}
	k.n--
	return nil
}

func (k *killingBucket) Put(ctx context.Context, key, src string) error {
	if err := k.change(); err != nil {
		_ = os.Remove(src) // Put takes src whatever happens
		return err
	}
	return k.Bucket.Put(ctx, key, src)
}

func (k *killingBucket) PutBytes(ctx context.Context, key string, b []byte) error {
	if err := k.change(); err != nil {
		return err
	}
	return k.Bucket.PutBytes(ctx, key, b)
}

func (k *killingBucket) Move(ctx context.Context, src, dst string) error {
	if err := k.change(); err != nil {
		return err
	}
	return k.Bucket.Move(ctx, src, dst)
}

func (k *killingBucket) Delete(ctx context.Context, key string) error {
	if err := k.change(); err != nil {
		return err
	}
	return k.Bucket.Delete(ctx, key)
}

// TestUpgradeKilledAnywhere: an upgrade killed after any number of its
// changes (and killed again while resuming) leaves a lake the next open
// finishes upgrading, to exactly what an upgrade never killed leaves.
func TestUpgradeKilledAnywhere(t *testing.T) {
	ref := v1Lake(t)
	want := upgraded(lakeSummary(t, ref, 1))
	// How many changes a whole upgrade makes.
	count := &killingBucket{n: 1 << 30}
	b, err := bucket.OpenDir(ref)
	if err != nil {
		t.Fatal(err)
	}
	count.Bucket = b
	s, err := Open(t.Context(), count, "syncd test")
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	total := 1<<30 - count.n
	if got := lakeSummary(t, ref, 2); !slices.Equal(got, want) {
		t.Fatalf("the upgrade never killed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("an upgrade of the fixture makes %d changes", total)
	// Every point in the first and last stretch (the replay of the old
	// journal, the upgrade's journal, the state objects, the meta), and
	// a stride through the data files (three changes each: put, move,
	// delete; a stride of 17, prime to 3, hits each); each killed once
	// more a few changes into its resumption.
	for n := 0; n < total; n++ {
		if n > 3 && n < total-6 && n%17 != 0 {
			continue
		}
		t.Run(fmt.Sprintf("after %d changes", n), func(t *testing.T) {
			t.Parallel() // each its own lake; mostly waiting on fsync
			dir := v1Lake(t)
			b, err := bucket.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Open(t.Context(), &killingBucket{Bucket: b, n: n}, "syncd test"); !errors.Is(err, errKilled) {
				t.Fatalf("the killed open: %v", err)
			}
			if _, err := Open(t.Context(), &killingBucket{Bucket: b, n: 3}, "syncd test"); err != nil && !errors.Is(err, errKilled) {
				t.Fatalf("the open killed again: %v", err)
			}
			s, err := Open(t.Context(), b, "syncd test")
			if err != nil {
				t.Fatalf("the open after the kills: %v", err)
			}
			_ = s.Close()
			if got := lakeSummary(t, dir, 2); !slices.Equal(got, want) {
				t.Errorf("after the kills:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestUpgradeV1FixtureS3: the upgrade on a real S3 server (versitygw),
// where a move is a copy and a delete.
func TestUpgradeV1FixtureS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	src := v1Lake(t)
	want := upgraded(lakeSummary(t, src, 1))
	c := srv.Client(t)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == filepath.Join("_syncd", "lock") {
			return nil
		}
		_, err = c.FPutObject(t.Context(), srv.Bucket, "lake/"+filepath.ToSlash(rel), p, minio.PutObjectOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bucket.OpenS3(t.Context(), "s3://"+srv.Bucket+"/lake", bucket.S3Config{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := Open(t.Context(), &killingBucket{Bucket: b, n: 40}, "syncd test")
	if !errors.Is(err, errKilled) {
		t.Fatalf("the killed open: %v", err)
	}
	if s, err = Open(t.Context(), b, "syncd test"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := bucketSummary(t, filepath.Join(srv.Dir, srv.Bucket, "lake"), b, 2); !slices.Equal(got, want) {
		t.Errorf("after the upgrade:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ro, err := OpenReadOnly(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok, err := ro.Cursor(t.Context(), "conversions"); err != nil || !ok || c.Position.IsZero() {
		t.Errorf("the conversions cursor read back: %v %v %v", c, ok, err)
	}
}

// BenchmarkUpgradeV1 upgrades a layout-1 lake of 300,000 conversions over
// 10 days (made by writing layout 2 and taking the network level and
// column out again) and reports rows/s: the time a first open of an
// existing lake takes, per row it holds.
func BenchmarkUpgradeV1(b *testing.B) {
	const rows, days = 300_000, 10
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		s, err := openDir(b, dir)
		if err != nil {
			b.Fatal(err)
		}
		for from := 0; from < rows; from += 10_000 {
			ids := make([]int, 10_000)
			for j := range ids {
				ids[j] = from + j
			}
			rec := realisticDays(b, ids, days)
			err := upsert(b, s, rec, nil)
			rec.Release()
			if err != nil {
				b.Fatal(err)
			}
		}
		_ = s.Close()
		downgrade(b, dir)
		b.StartTimer()
		s, err = openDir(b, dir)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// downgrade makes the layout-2 lake in dir, of the default network only,
// what layout 1 kept: its files without the network column at
// <table>/[date=...]/data.parquet, flat state and runs, meta version 1.
func downgrade(tb testing.TB, dir string) {
	tb.Helper()
	ctx := context.Background()
	b, err := bucket.OpenDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	objs, err := b.List(ctx, "")
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range objs {
		if strings.HasPrefix(o.Key, syncdPrefix) {
			continue
		}
		v1 := strings.Replace(o.Key, "/"+networkLevel+models.DefaultNetwork, "", 1)
		fr, closeFn, err := openParquet(ctx, b, o.Key, memory.DefaultAllocator)
		if err != nil {
			tb.Fatal(err)
		}
		sc, err := fr.Schema()
		if err != nil {
			tb.Fatal(err)
		}
		out := arrow.NewSchema(sc.Fields()[1:], nil)
		local := filepath.Join(b.Scratch(), newID()+".partial")
		err = writeParquet(local, out, memory.DefaultAllocator, func(put func(arrow.RecordBatch) error) error {
			return eachRecord(ctx, fr, nil, func(rec arrow.RecordBatch) error {
				r := array.NewRecordBatch(out, rec.Columns()[1:], rec.NumRows())
				defer r.Release()
				return put(r)
			})
		})
		closeFn()
		if err != nil {
			tb.Fatal(err)
		}
		if err := b.Put(ctx, v1, local); err != nil {
			tb.Fatal(err)
		}
		if err := b.Delete(ctx, o.Key); err != nil {
			tb.Fatal(err)
		}
	}
	st, err := readState(ctx, b, 2)
	if err != nil {
		tb.Fatal(err)
	}
	if err := writeState(ctx, b, 1, st); err != nil {
		tb.Fatal(err)
	}
	if err := putJSON(ctx, b, metaKey, meta{Format: formatName, SchemaVersion: 1}); err != nil {
		tb.Fatal(err)
	}
}
