package lakesql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/internal/s3test"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/lake"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// commit upserts conversions c<id> with status, created on 2025-01-01 +
// id%2 days.
func commit(t *testing.T, s *lake.Sink, status string, ids ...int) {
	t.Helper()
	b := models.Conversions().NewBuilder(memory.DefaultAllocator, models.DefaultNetwork, time.UTC, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
	defer b.Release()
	for _, i := range ids {
		obj := fmt.Sprintf(`{"id":"c%d","status":%q,"currency":"USD","revenue":2,"payouts":1,"created_at":"2025-01-0%d 10:00:00"}`, i, status, 1+i%2)
		if err := b.Append(json.RawMessage(obj)); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	tx, err := s.Begin(t.Context(), load.Target{Model: models.Conversions(), Mode: models.Upsert})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.Write(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(t.Context(), &checkpoints.Cursor{Stream: "conversions", Position: time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
}

func scalar(t *testing.T, d *DB, q string) string {
	t.Helper()
	var out string
	err := d.Query(t.Context(), q, func(r *sql.Rows) error {
		for r.Next() {
			var v sql.NullString
			if err := r.Scan(&v); err != nil {
				return err
			}
			out = v.String
		}
		return r.Err()
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// Over a lake on S3: the mirror holds what is committed after a Refresh,
// downloads only the partitions that changed, and every table, state
// table and view answers.
func TestMirrorOfS3Lake(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	b, err := bucket.OpenS3(context.Background(), "s3://"+srv.Bucket+"/lake", bucket.S3Config{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lk, err := lake.Open(t.Context(), b, "syncd test")
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	mirrorDir := t.TempDir()
	d, err := Open(t.Context(), lk, Options{MirrorDir: mirrorDir, Sandboxed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := scalar(t, d, "SELECT count(*) FROM conversions"); got != "0" {
		t.Errorf("an empty lake's conversions: %s rows", got)
	}
	for _, m := range models.Names() {
		scalar(t, d, "SELECT count(*) FROM "+m) // every table answers before its first file
	}

	commit(t, lk, "pending", 1, 2, 3, 4)
	if err := d.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := scalar(t, d, "SELECT count(*) || '/' || count(*) FILTER (status = 'pending') FROM conversions"); got != "4/4" {
		t.Errorf("after the first commit: %s", got)
	}
	if got := scalar(t, d, "SELECT position FROM _syncd_state WHERE stream = 'conversions'"); got != "2025-01-03T00:00:00Z" {
		t.Errorf("_syncd_state: %q", got)
	}
	odd := filepath.Join(mirrorDir, "conversions", "network=default", "date=2025-01-02", "data.parquet") // ids 1 and 3
	before, err := os.Stat(odd)
	if err != nil {
		t.Fatal(err)
	}

	commit(t, lk, "confirmed", 2) // rewrites 2025-01-01 only
	if err := d.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := scalar(t, d, "SELECT string_agg(id || '=' || status, ',' ORDER BY id) FROM conversions"); got != "c1=pending,c2=confirmed,c3=pending,c4=pending" {
		t.Errorf("after the second commit: %s", got)
	}
	after, err := os.Stat(odd)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("the mirror downloaded a partition that did not change")
	}
	if got := scalar(t, d, "SELECT sum(revenue)::INTEGER FROM daily_revenue"); got != "8" {
		t.Errorf("daily_revenue over the mirror: %s", got)
	}
	// The clients' pool reads the mirror and nothing else.
	db, err := d.ClientDB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), "SELECT * FROM read_csv('/etc/passwd')"); err == nil {
		t.Error("the clients' pool read a file outside the mirror")
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM conversions").Scan(&n); err != nil || n != 4 {
		t.Errorf("the clients' pool: %d rows, %v", n, err)
	}
}

// _syncd_runs over a lake has a DuckDB warehouse's columns, in its order,
// with each pass's summary; a pass recorded without one (an older syncd)
// shows NULL there.
func TestRunsTableHasTheSummary(t *testing.T) {
	dir := t.TempDir()
	b, err := bucket.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	lk, err := lake.Open(t.Context(), b, "syncd test")
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	at := time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)
	if err := lk.RecordRun(t.Context(), load.Run{Stream: "conversions", Kind: "sync", StartedAt: at, FinishedAt: at.Add(time.Minute),
		Rows: 12, RowsRead: 1850, Inserted: 2, Updated: 10, Unchanged: 1838, Requests: 9, Retries: 2,
		CursorBefore: at.Add(-time.Hour), CursorAfter: at}); err != nil {
		t.Fatal(err)
	}
	// A line as a syncd before the summary wrote it.
	runs := filepath.Join(dir, "_syncd", "runs.json")
	old := `{"offers":{"recent":[{"stream":"offers","kind":"sync","started_at":"2025-01-02T00:00:00Z","finished_at":"2025-01-02T00:00:01Z","rows":3,"requests":1}]}}`
	data, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	var both map[string]map[string]json.RawMessage // network, stream
	if err := json.Unmarshal(data, &both); err != nil {
		t.Fatal(err)
	}
	var oldRuns map[string]json.RawMessage
	_ = json.Unmarshal([]byte(old), &oldRuns)
	both["default"]["offers"] = oldRuns["offers"]
	data, _ = json.Marshal(both)
	if err := os.WriteFile(runs, data, 0o644); err != nil {
		t.Fatal(err)
	}

	d, err := Open(t.Context(), lk, Options{MirrorDir: t.TempDir(), Sandboxed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := scalar(t, d, `SELECT string_agg(column_name, ',' ORDER BY column_index) FROM duckdb_columns() WHERE table_name = '_syncd_runs'`); got !=
		"network,stream,kind,started_at,finished_at,rows,requests,error,rows_read,rows_inserted,rows_updated,rows_unchanged,retries,cursor_before,cursor_after" {
		t.Errorf("_syncd_runs columns: %s", got)
	}
	if got := scalar(t, d, `SELECT string_agg(concat_ws('|', network, stream, rows, rows_read, rows_inserted, rows_updated, rows_unchanged, requests, retries,
		coalesce(strftime(cursor_before, '%H:%M'), 'NULL'), coalesce(strftime(cursor_after, '%H:%M'), 'NULL')), ';' ORDER BY stream) FROM _syncd_runs`); got !=
		"default|conversions|12|1850|2|10|1838|9|2|23:00|00:00;default|offers|3|1|NULL|NULL" {
		t.Errorf("_syncd_runs: %s", got)
	}
}

// TestRawViewOverTheLake: conversions_raw gives back each conversion's
// whole object from the lake's files, whose raw holds only what no typed
// column holds.
func TestRawViewOverTheLake(t *testing.T) {
	b, err := bucket.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lk, err := lake.Open(t.Context(), b, "syncd test")
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	commit(t, lk, "pending", 1, 2)
	d, err := Open(t.Context(), lk, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := scalar(t, d, "SELECT raw FROM conversions_raw WHERE id = 'c1'")
	var obj map[string]any
	if err := json.Unmarshal([]byte(got), &obj); err != nil {
		t.Fatalf("conversions_raw's raw is not JSON: %v: %s", err, got)
	}
	want := map[string]any{"id": "c1", "status": "pending", "currency": "USD", "revenue": 2.0, "payouts": 1.0, "created_at": "2025-01-02 10:00:00"}
	if fmt.Sprint(obj) != fmt.Sprint(want) {
		t.Errorf("conversions_raw: %v, want %v", obj, want)
	}
	if raw := scalar(t, d, "SELECT raw FROM conversions WHERE id = 'c1'"); len(raw) >= len(got) {
		t.Errorf("raw %s is not smaller than the object %s", raw, got)
	}
}

// oldConversions is conversions as a build before the detail columns
// (schema version 7) wrote it: without them, raw holding them.
type oldConversions struct{ models.Model }

func (o oldConversions) Schema() *arrow.Schema {
	var fs []arrow.Field
	for _, f := range o.Model.Schema().Fields() {
		if isDetail(o.Model, f.Name) {
			continue
		}
		fs = append(fs, f)
	}
	return arrow.NewSchema(fs, nil)
}

// isDetail: a column the old build did not have (one this test's objects
// send, or any other of the details: all are after payment_status).
func isDetail(m models.Model, name string) bool {
	past := false
	for _, f := range m.Schema().Fields() {
		if f.Name == "payment_status" {
			past = true
			continue
		}
		if f.Name == name {
			return past && name != "raw" && name != models.SyncedAtColumn
		}
	}
	return false
}

// writeConversions commits objs through target model m; old: the record
// is cut to the old schema with raw holding each whole object.
func writeConversions(t *testing.T, s *lake.Sink, old bool, objs ...string) {
	t.Helper()
	m := models.Conversions()
	b := m.NewBuilder(memory.DefaultAllocator, models.DefaultNetwork, time.UTC, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
	defer b.Release()
	for _, o := range objs {
		if err := b.Append(json.RawMessage(o)); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	target := models.Model(m)
	if old {
		target = oldConversions{m}
		sc := target.Schema()
		cols := make([]arrow.Array, sc.NumFields())
		for i, f := range sc.Fields() {
			if f.Name == "raw" {
				sb := array.NewStringBuilder(memory.DefaultAllocator)
				sb.AppendValues(objs, nil)
				cols[i] = sb.NewArray()
				sb.Release()
				defer cols[i].Release()
				continue
			}
			cols[i] = rec.Column(rec.Schema().FieldIndices(f.Name)[0])
		}
		rec = array.NewRecordBatch(sc, cols, rec.NumRows())
		defer rec.Release()
	}
	tx, err := s.Begin(t.Context(), load.Target{Model: target, Mode: models.Upsert})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.Write(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(t.Context(), &checkpoints.Cursor{Stream: "conversions", Position: time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
}

// TestMixedLakeOldAndNewFiles: a lake holding files written before the
// detail columns (raw whole) and after (raw less the details) reads as one
// table: the new columns are NULL on the old rows, conversions_raw gives
// back every object whole, and a new row merged into an old day's file
// keeps the old rows.
func TestMixedLakeOldAndNewFiles(t *testing.T) {
	b, err := bucket.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lk, err := lake.Open(t.Context(), b, "syncd test")
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	obj := func(id, day int) string {
		return fmt.Sprintf(`{"id":"c%d","status":"confirmed","currency":"USD","revenue":2,"payouts":1,"created_at":"2025-01-0%d 10:00:00",`+
			`"ua":"Mozilla/5.0 (X11)","ip":"10.0.0.%d","city_id":%d,"sum":0,"district":null,`+
			`"offer":{"id":7,"title":"Offer \"7\"","external_id":false},"partner":{"id":3,"manager":null},"fraud_type":[]}`, id, day, id, 100+id)
	}
	objs := map[string]string{"c1": obj(1, 1), "c2": obj(2, 2), "c3": obj(3, 1), "c4": obj(4, 2), "c5": obj(5, 3)}
	writeConversions(t, lk, true, objs["c1"], objs["c2"], objs["c5"]) // old files for three days
	writeConversions(t, lk, false, objs["c3"])                        // a new row into day 1's old file
	writeConversions(t, lk, false, objs["c4"])                        // and into day 2's; day 3's stays old
	d, err := Open(t.Context(), lk, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := scalar(t, d, "SELECT count(*) FROM conversions"); got != "5" {
		t.Fatalf("conversions: %s rows, want 5", got)
	}
	for id, want := range objs {
		got := scalar(t, d, "SELECT raw FROM conversions_raw WHERE id = '"+id+"'")
		var g, w any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("%s: conversions_raw is not JSON: %v: %s", id, err, got)
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: conversions_raw %s\nwant %s", id, got, want)
		}
	}
	// The detail columns: NULL on the rows an old build wrote (raw has
	// them), set on the new ones, which raw leaves out.
	if got := scalar(t, d, `SELECT string_agg(id || '=' || coalesce(ua, 'NULL') || '/' || coalesce(CAST(city_id AS VARCHAR), 'NULL') || '/' ||
		coalesce(offer ->> 'title', 'NULL'), ' ' ORDER BY id) FROM conversions`); got != `c1=NULL/NULL/NULL c2=NULL/NULL/NULL c3=Mozilla/5.0 (X11)/103/Offer "7" c4=Mozilla/5.0 (X11)/104/Offer "7" c5=NULL/NULL/NULL` {
		t.Errorf("detail columns: %s", got)
	}
	if got := scalar(t, d, `SELECT count(*) FROM conversions WHERE id IN ('c3', 'c4') AND (raw LIKE '%"ua"%' OR raw LIKE '%"offer"%')`); got != "0" {
		t.Errorf("%s new rows' raw still hold the details", got)
	}
}
