package lake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/syncd/syncd/checkpoints"
)

// newID names a Tx's staging and temp files; random so two processes on
// one lake (a crashed one's leftovers, a new one) never share a name.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFileAtomic replaces path with data: a temp file in tmp, fsynced,
// renamed over path. A reader sees the old file or the new, never a part.
func writeFileAtomic(tmp, path string, data []byte) error {
	f, err := os.CreateTemp(tmp, "*.partial")
	if err != nil {
		return err
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		_ = os.Remove(name)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// storedCursor is a cursor in the state file. Meta is what
// checkpoints.Cursor.StoredMeta returns, as every sink stores it.
type storedCursor struct {
	Position  time.Time `json:"position"`
	Meta      string    `json:"meta,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// cursorChange is one cursor move as a commit's journal records it:
// Remove deletes, otherwise Cursor replaces.
type cursorChange struct {
	Stream string       `json:"stream"`
	Remove bool         `json:"remove,omitempty"`
	Cursor storedCursor `json:"cursor"`
}

func changeOf(c checkpoints.Cursor, now time.Time) (cursorChange, error) {
	if c.Position.IsZero() {
		return cursorChange{Stream: c.Stream, Remove: true}, nil
	}
	meta, err := c.StoredMeta()
	if err != nil {
		return cursorChange{}, err
	}
	upd := c.UpdatedAt
	if upd.IsZero() {
		upd = now
	}
	return cursorChange{Stream: c.Stream, Cursor: storedCursor{Position: c.Position.UTC(), Meta: meta, UpdatedAt: upd.UTC()}}, nil
}

func (l layout) readState() (map[string]storedCursor, error) {
	b, err := os.ReadFile(l.stateFile())
	if os.IsNotExist(err) {
		return map[string]storedCursor{}, nil
	}
	if err != nil {
		return nil, err
	}
	st := map[string]storedCursor{}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", l.stateFile(), err)
	}
	return st, nil
}

// applyCursor moves one cursor in the state file. Applying a change twice
// is applying it once, so a journal replayed after a crash is harmless.
func (l layout) applyCursor(ch cursorChange) error {
	st, err := l.readState()
	if err != nil {
		return err
	}
	if ch.Remove {
		if _, ok := st[ch.Stream]; !ok {
			return nil
		}
		delete(st, ch.Stream)
	} else {
		st[ch.Stream] = ch.Cursor
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(l.tmpDir(), l.stateFile(), b)
}

// journal is a commit decided but maybe not yet applied: every new
// partition is already written and fsynced at its Temp path. Applying it
// is idempotent, so Open finishes whatever a killed process left.
type journal struct {
	Table   string        `json:"table"`
	Renames []rename      `json:"renames,omitempty"`
	Removes []string      `json:"removes,omitempty"`
	Cursor  *cursorChange `json:"cursor,omitempty"`
}

type rename struct {
	Temp  string `json:"temp"`
	Final string `json:"final"`
}

// apply puts j's partitions in place, then moves its cursor: data first,
// so a cursor never covers rows that are not there.
func (l layout) apply(j journal) error {
	for _, r := range j.Renames {
		if err := os.MkdirAll(filepath.Dir(r.Final), 0o755); err != nil {
			return fmt.Errorf("table %s: %w", j.Table, err)
		}
		err := os.Rename(r.Temp, r.Final)
		if errors.Is(err, os.ErrNotExist) {
			// Renamed before a crash: the replay finds the temp gone.
			if _, serr := os.Stat(r.Final); serr == nil {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("table %s: %w", j.Table, err)
		}
		if err := syncDir(filepath.Dir(r.Final)); err != nil {
			return fmt.Errorf("table %s: %w", j.Table, err)
		}
	}
	for _, f := range j.Removes {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("table %s: %w", j.Table, err)
		}
		// The empty date= directory goes too; a reader tolerates either.
		_ = os.Remove(filepath.Dir(f))
		_ = syncDir(filepath.Dir(filepath.Dir(f)))
	}
	if j.Cursor != nil {
		if err := l.applyCursor(*j.Cursor); err != nil {
			return fmt.Errorf("table %s: cursor %s: %w", j.Table, j.Cursor.Stream, err)
		}
	}
	return nil
}

// recover replays journals a killed process left and removes its temp
// files. It runs at Open, before anything else touches the lake.
func (l layout) recover() error {
	ents, err := os.ReadDir(l.journalDir())
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names) // journal names start with the commit's time
	for _, n := range names {
		p := filepath.Join(l.journalDir(), n)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var j journal
		if err := json.Unmarshal(b, &j); err != nil {
			// Written whole by rename, so a torn one is not a journal: a
			// leftover of writeFileAtomic's temp cannot land here.
			return fmt.Errorf("journal %s: %w", p, err)
		}
		if err := l.apply(j); err != nil {
			return fmt.Errorf("replaying journal %s: %w", p, err)
		}
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(l.tmpDir()); err != nil {
		return err
	}
	return os.MkdirAll(l.tmpDir(), 0o755)
}

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }
