package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// conversions builds one record of conversions: id<i> created on day
// 2025-01-0<day of i>, status given.
func conversions(t testing.TB, status string, ids []int) arrow.RecordBatch {
	t.Helper()
	b := models.Conversions().NewBuilder(memory.DefaultAllocator, models.DefaultNetwork, time.UTC, time.Date(2025, 2, 1, 6, 0, 0, 0, time.UTC))
	defer b.Release()
	for _, i := range ids {
		obj := fmt.Sprintf(`{"id":"c%d","status":%q,"currency":"USD","offer_id":71,"revenue":4.5,"payouts":3,
			"created_at":"2025-01-0%d 10:00:00","updated_at":null}`, i, status, 1+i%3)
		if err := b.Append(json.RawMessage(obj)); err != nil {
			t.Fatal(err)
		}
	}
	return b.NewRecord()
}

// openDir opens a writer on a lake in dir, closed when the test ends.
func openDir(t testing.TB, dir string) (*Sink, error) {
	t.Helper()
	b, err := bucket.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	s, err := Open(context.Background(), b, "syncd test")
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

func commitConversions(t *testing.T, s *Sink, status string, ids []int, cur *checkpoints.Cursor) error {
	t.Helper()
	rec := conversions(t, status, ids)
	defer rec.Release()
	return upsert(t, s, rec, cur)
}

// upsert loads rec into conversions in one Tx and commits it with cur; a
// failed Begin or Write fails the test, Commit's error is returned.
func upsert(tb testing.TB, s *Sink, rec arrow.RecordBatch, cur *checkpoints.Cursor) error {
	tb.Helper()
	ctx := context.Background()
	tx, err := s.Begin(ctx, load.Target{Model: models.Conversions(), Mode: models.Upsert})
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.Write(ctx, rec); err != nil {
		tb.Fatal(err)
	}
	_, err = tx.Commit(ctx, cur)
	return err
}

// statuses reads conversions id -> status through Parquet files only, and
// fails on a key seen twice or a stray file a glob would match.
func statuses(t *testing.T, s *Sink) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(s.b.(*bucket.Dir).Root(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		if strings.Contains(p, "_syncd") || filepath.Base(p) != dataFile {
			t.Errorf("a *.parquet glob matches %s", p)
		}
		return nil
	})
	parts, err := partitions(t.Context(), s.b, "conversions", models.DefaultNetwork)
	if err != nil {
		t.Fatal(err)
	}
	sc := models.Conversions().Schema()
	for _, p := range parts {
		_, err := scanObject(t.Context(), s.b, fileKey("conversions", p), sc, memory.DefaultAllocator, func(rec arrow.RecordBatch) error {
			ids := rec.Column(sc.FieldIndices("id")[0])
			st := rec.Column(sc.FieldIndices("status")[0])
			for i := range int(rec.NumRows()) {
				id := ids.ValueStr(i)
				if _, dup := out[id]; dup {
					t.Errorf("%s stored twice", id)
				}
				out[id] = st.ValueStr(i)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// A process killed after a commit's journal is durable, with none, some
// or all of its partitions renamed: the next Open lands the commit whole,
// data and cursor.
func TestKillAfterJournal(t *testing.T) {
	for renamed := range 4 { // the commit rewrites 3 partitions
		t.Run(fmt.Sprintf("after %d renames", renamed), func(t *testing.T) {
			dir := t.TempDir()
			s, err := openDir(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			ids := []int{0, 1, 2, 3, 4, 5}
			if err := commitConversions(t, s, "pending", ids, nil); err != nil {
				t.Fatal(err)
			}
			s.killAfterJournal = func(journal) (int, bool) { return renamed, true }
			pos := time.Date(2025, 1, 4, 0, 0, 0, 0, time.UTC)
			if err := commitConversions(t, s, "confirmed", ids, &checkpoints.Cursor{Stream: "conversions", Position: pos}); err == nil {
				t.Fatal("the killed commit succeeded")
			}
			// What a reader sees before the restart: every row once, old
			// or new.
			if got := statuses(t, s); len(got) != len(ids) {
				t.Fatalf("before the restart a reader sees %v", got)
			}

			_ = s.unlock() // the kill: the kernel drops a dead process's flock
			s2, err := openDir(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			got := statuses(t, s2)
			for _, i := range ids {
				if got[fmt.Sprintf("c%d", i)] != "confirmed" {
					t.Errorf("after the restart %v", got)
					break
				}
			}
			c, ok, err := s2.Cursor(t.Context(), "conversions")
			if err != nil || !ok || !c.Position.Equal(pos) {
				t.Errorf("cursor after the restart = %v %v %v, want %v", c, ok, err, pos)
			}
		})
	}
}

// A reader looping over the files while commits rewrite them sees every
// row exactly once, never a broken file.
func TestReaderDuringCommits(t *testing.T) {
	s, err := openDir(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, 300)
	for i := range ids {
		ids[i] = i
	}
	if err := commitConversions(t, s, "pending", ids, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			if err := commitConversions(t, s, fmt.Sprint("s", i), ids, nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	reads := 0
	for {
		select {
		case <-done:
			if reads == 0 {
				t.Log("no read overlapped a commit")
			}
			return
		default:
		}
		if got := statuses(t, s); len(got) != len(ids) {
			t.Fatalf("a reader sees %d rows, want %d", len(got), len(ids))
		}
		reads++
	}
}
