package lake

import (
	"context"
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
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// newID names a Tx's staging and temp objects; random so two processes on
// one lake (a crashed one's leftovers, a new one) never share a name.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// storedCursor is a cursor in the state object. Meta is what
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

// getJSON reads the object at key into v; found is false when it does not
// exist.
func getJSON(ctx context.Context, b bucket.Bucket, key string, v any) (found bool, err error) {
	raw, err := b.Get(ctx, key)
	if errors.Is(err, bucket.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("%s/%s is damaged (%w); restore it or remove it to start over", b, key, err)
	}
	return true, nil
}

func putJSON(ctx context.Context, b bucket.Bucket, key string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return b.PutBytes(ctx, key, raw)
}

// The state, runs and changed-hours objects hold each network's part
// under its name (layout 2); layout 1, before networks, held the default
// network's alone, flat. read* take the layout the lake is in and return
// the layout-2 shape; write* store it in that layout.

func readState(ctx context.Context, b bucket.Bucket, layout int) (map[string]map[string]storedCursor, error) {
	st := map[string]map[string]storedCursor{}
	if layout < 2 {
		flat := map[string]storedCursor{}
		if _, err := getJSON(ctx, b, stateKey, &flat); err != nil {
			return nil, err
		}
		st[models.DefaultNetwork] = flat
		return st, nil
	}
	if _, err := getJSON(ctx, b, stateKey, &st); err != nil {
		return nil, err
	}
	return st, nil
}

func writeState(ctx context.Context, b bucket.Bucket, layout int, st map[string]map[string]storedCursor) error {
	if layout < 2 {
		return putJSON(ctx, b, stateKey, orEmpty(st[models.DefaultNetwork]))
	}
	return putJSON(ctx, b, stateKey, st)
}

func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// applyCursor moves one of network's cursors in the state object. Applying
// a change twice is applying it once, so a journal replayed after a crash
// is harmless.
func applyCursor(ctx context.Context, b bucket.Bucket, layout int, network string, ch cursorChange) error {
	st, err := readState(ctx, b, layout)
	if err != nil {
		return err
	}
	cur := st[network]
	if ch.Remove {
		if _, ok := cur[ch.Stream]; !ok {
			return nil
		}
		delete(cur, ch.Stream)
		if len(cur) == 0 {
			delete(st, network)
		}
	} else {
		if cur == nil {
			cur = map[string]storedCursor{}
			st[network] = cur
		}
		cur[ch.Stream] = ch.Cursor
	}
	return writeState(ctx, b, layout, st)
}

// journal is a commit decided but maybe not yet applied: every new
// partition is already stored at its Temp key. Applying it is idempotent,
// so Open finishes whatever a killed process left.
type journal struct {
	Table string `json:"table"`
	// Network is whose cursor and changed hours the commit moves; ""
	// (a journal of layout 1) is the default network.
	Network  string         `json:"network,omitempty"`
	Renames  []rename       `json:"renames,omitempty"`
	Cursor   *cursorChange  `json:"cursor,omitempty"`
	Changed  *changedHours  `json:"changed,omitempty"`
	Consumed *consumedHours `json:"consumed,omitempty"`
}

func (j journal) network() string {
	if j.Network == "" {
		return models.DefaultNetwork
	}
	return j.Network
}

// changedHours adds hours to a set of changed hours (load.Target.Changes).
type changedHours struct {
	Set string      `json:"set"`
	Add []time.Time `json:"add"`
}

// consumedHours removes [From, To) from a set (load.Target.Consumes).
type consumedHours struct {
	Set  string    `json:"set"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

const changedKey = "_syncd/changed.json"

func readChanged(ctx context.Context, b bucket.Bucket, layout int) (map[string]map[string][]time.Time, error) {
	sets := map[string]map[string][]time.Time{}
	if layout < 2 {
		flat := map[string][]time.Time{}
		if _, err := getJSON(ctx, b, changedKey, &flat); err != nil {
			return nil, err
		}
		sets[models.DefaultNetwork] = flat
		return sets, nil
	}
	if _, err := getJSON(ctx, b, changedKey, &sets); err != nil {
		return nil, err
	}
	return sets, nil
}

func writeChanged(ctx context.Context, b bucket.Bucket, layout int, sets map[string]map[string][]time.Time) error {
	if layout < 2 {
		return putJSON(ctx, b, changedKey, orEmpty(sets[models.DefaultNetwork]))
	}
	return putJSON(ctx, b, changedKey, sets)
}

// applyChanges adds and removes hours in network's sets in
// _syncd/changed.json; applying it twice is applying it once.
func applyChanges(ctx context.Context, b bucket.Bucket, layout int, network string, add *changedHours, del *consumedHours) error {
	if add == nil && del == nil {
		return nil
	}
	all, err := readChanged(ctx, b, layout)
	if err != nil {
		return err
	}
	sets := all[network]
	if sets == nil {
		sets = map[string][]time.Time{}
		all[network] = sets
	}
	if add != nil {
		sets[add.Set] = append(sets[add.Set], add.Add...)
	}
	if del != nil {
		sets[del.Set] = slices.DeleteFunc(sets[del.Set], func(h time.Time) bool { return !h.Before(del.From) && h.Before(del.To) })
	}
	for k, hs := range sets {
		slices.SortFunc(hs, time.Time.Compare)
		hs = slices.CompactFunc(hs, time.Time.Equal)
		if len(hs) == 0 {
			delete(sets, k)
			continue
		}
		sets[k] = hs
	}
	if len(sets) == 0 {
		delete(all, network)
	}
	return writeChanged(ctx, b, layout, all)
}

// rename is one partition put in place: the object at Temp replaces the
// one at Final.
type rename struct {
	Temp  string `json:"temp"`
	Final string `json:"final"`
}

// apply puts j's partitions in place, then moves its cursor: data first,
// so a cursor never covers rows that are not there. No partition object
// is ever deleted (an emptied one is replaced by an empty file), so a
// reader that listed a partition can always open it. layout is the lake's
// (a killed writer of layout 1 left journals of layout 1).
func apply(ctx context.Context, b bucket.Bucket, layout int, j journal) error {
	for _, r := range j.Renames {
		if err := b.Move(ctx, r.Temp, r.Final); err != nil {
			return fmt.Errorf("table %s: %w", j.Table, err)
		}
	}
	if err := applyChanges(ctx, b, layout, j.network(), j.Changed, j.Consumed); err != nil {
		return fmt.Errorf("table %s: changed hours: %w", j.Table, err)
	}
	if j.Cursor != nil {
		if err := applyCursor(ctx, b, layout, j.network(), *j.Cursor); err != nil {
			return fmt.Errorf("table %s: cursor %s: %w", j.Table, j.Cursor.Stream, err)
		}
	}
	return nil
}

// replay replays the journals a killed writer left, in commit order, and
// removes its temporaries. Only the writer runs it, under the lake's lock,
// before anything else touches the lake; layout is the lake's.
func replay(ctx context.Context, b bucket.Bucket, layout int) error {
	objs, err := b.List(ctx, journalPrefix)
	if err != nil {
		return err
	}
	// Listed in key order, and a journal's key starts with its commit time.
	for _, o := range objs {
		var j journal
		found, err := getJSON(ctx, b, o.Key, &j)
		if err != nil {
			return fmt.Errorf("journal %s: %w", o.Key, err)
		}
		if !found {
			continue
		}
		if err := apply(ctx, b, layout, j); err != nil {
			return fmt.Errorf("replaying journal %s: %w", o.Key, err)
		}
		if err := b.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	tmps, err := b.List(ctx, tmpPrefix)
	if err != nil {
		return err
	}
	for _, o := range tmps {
		if err := b.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	// Local leftovers: a dead process's staging directories.
	ents, err := os.ReadDir(b.Scratch())
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(b.Scratch(), e.Name())); err != nil {
			return err
		}
	}
	return nil
}
