package lake

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// One writer at a time: a second writer's Open is refused, naming the
// first; readers open meanwhile and see what it commits; after Close the
// next writer opens.
func TestOneWriterManyReaders(t *testing.T) {
	dir := t.TempDir()
	b, err := bucket.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(t.Context(), b); !errors.Is(err, ErrNoLake) {
		t.Fatalf("read-only open of an empty location: %v, want ErrNoLake", err)
	}
	w, err := Open(t.Context(), b, "syncd run")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(t.Context(), b, "syncd sync")
	var locked *bucket.LockedError
	if !errors.As(err, &locked) || locked.Holder != "syncd run" || !strings.Contains(err.Error(), "`syncd run`") {
		t.Fatalf("second writer: %v, want a LockedError naming syncd run", err)
	}
	r1, err := OpenReadOnly(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := OpenReadOnly(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	pos := time.Date(2025, 1, 4, 0, 0, 0, 0, time.UTC)
	if err := commitConversions(t, w, "pending", []int{1, 2}, &checkpoints.Cursor{Stream: "conversions", Position: pos}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Sink{r1, r2} {
		c, ok, err := r.Cursor(t.Context(), "conversions")
		if err != nil || !ok || !c.Position.Equal(pos) {
			t.Errorf("a reader sees cursor %v %v %v", c, ok, err)
		}
		if _, err := r.Begin(t.Context(), load.Target{Model: models.Conversions(), Mode: models.Upsert}); !errors.Is(err, errReadOnly) {
			t.Errorf("a reader began a load: %v", err)
		}
		if err := r.SetCursor(t.Context(), checkpoints.Cursor{Stream: "clicks", Position: pos}); !errors.Is(err, errReadOnly) {
			t.Errorf("a reader set a cursor: %v", err)
		}
		if err := r.RecordRun(t.Context(), load.Run{Stream: "clicks", Kind: "sync"}); !errors.Is(err, errReadOnly) {
			t.Errorf("a reader recorded a run: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2, err := Open(t.Context(), b, "syncd sync")
	if err != nil {
		t.Fatalf("a writer after the first closed: %v", err)
	}
	_ = w2.Close()
}

// A lake written by a newer syncd is refused by writers and readers; a
// location holding something else than a lake's meta object is named.
func TestRefusesNewerLake(t *testing.T) {
	for content, want := range map[string]string{
		`{"format":"syncd-parquet-lake","schema_version":99}`: "schema version 99, newer than this syncd's 2: upgrade syncd",
		`{"format":"something"}`:                              "does not describe a syncd lake",
		`{"format":`:                                          "is damaged",
	} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "_syncd"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "_syncd", "meta.json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := bucket.OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(t.Context(), b, "syncd sync"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("writer on %s: %v, want %q", content, err, want)
		}
		if _, err := OpenReadOnly(t.Context(), b); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("reader on %s: %v, want %q", content, err, want)
		}
		// The refused writer let go of the lock.
		if unlock, err := b.Lock(t.Context(), "x"); err != nil {
			t.Errorf("lock after a refused open: %v", err)
		} else {
			_ = unlock()
		}
	}
}

// Runs: the latest sync pass per stream and its last success survive the
// bound on kept passes.
func TestRunsKeptBounded(t *testing.T) {
	s, err := openDir(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.RecordRun(t.Context(), load.Run{Stream: "clicks", Kind: "sync", StartedAt: t0, FinishedAt: t0.Add(time.Minute), Rows: 5}); err != nil {
		t.Fatal(err)
	}
	for i := range keptRuns + 5 {
		at := t0.Add(time.Duration(i+1) * time.Hour)
		if err := s.RecordRun(t.Context(), load.Run{Stream: "clicks", Kind: "sync", StartedAt: at, FinishedAt: at.Add(time.Minute), Error: "boom"}); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.Runs(t.Context())
	if err != nil || len(runs) != keptRuns {
		t.Fatalf("kept %d runs (%v), want %d", len(runs), err, keptRuns)
	}
	last, err := s.LastRuns(t.Context())
	if err != nil || len(last) != 1 {
		t.Fatalf("last runs %v %v", last, err)
	}
	if last[0].Error != "boom" || !last[0].LastSuccess.Equal(t0.Add(time.Minute)) {
		t.Errorf("last run %+v, want the failed one with the first pass's success", last[0])
	}
}
