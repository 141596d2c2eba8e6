package lake

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"time"

	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// upgradeRecord is _syncd/upgrade.json, the journal of an upgrade from
// layout 1 (one network, <table>/date=.../) to layout 2 (<table>/network=
// <name>/date=.../, a network column in every file). It exists from the
// upgrade's first change to its last, so a writer killed at any point
// leaves it, and the next writer's Open goes on from where it stopped.
type upgradeRecord struct {
	From int `json:"from"`
	// Stage is upgradeFiles while data files move, upgradeObjects once
	// they all have: the state, runs and changed-hours objects below, in
	// layout 2, are then what is to be written.
	Stage   string                             `json:"stage"`
	State   map[string]map[string]storedCursor `json:"state,omitempty"`
	Runs    map[string]map[string]*streamRuns  `json:"runs,omitempty"`
	Changed map[string]map[string][]time.Time  `json:"changed,omitempty"`
}

const (
	upgradeFiles   = "files"
	upgradeObjects = "objects"
)

// upgrade brings a lake of layout from to SchemaVersion, or finishes an
// upgrade under way (resuming, with rec as left). Every partition of
// layout 1 becomes the default network's, its rows gaining network
// 'default'; cursors, runs and changed hours become the default
// network's. Each step can be repeated: a data file is written under its
// new key first and its old one removed after, and one whose new key
// exists is only removed, so nothing is lost or doubled however often the
// upgrade is killed and resumed.
func upgrade(ctx context.Context, b bucket.Bucket, from int, resuming bool, rec upgradeRecord) error {
	if !resuming {
		if from != 1 {
			return fmt.Errorf("no upgrade from layout %d", from)
		}
		// A killed writer of layout 1 may have left a commit half
		// applied: it lands first, as the layout it was written for.
		if err := replay(ctx, b, 1); err != nil {
			return err
		}
		rec = upgradeRecord{From: from, Stage: upgradeFiles}
		if err := putJSON(ctx, b, upgradeKey, rec); err != nil {
			return err
		}
	}
	if rec.Stage == upgradeFiles {
		files, err := v1Files(ctx, b)
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := upgradeFile(ctx, b, f); err != nil {
				return fmt.Errorf("%s: %w", f.from, err)
			}
		}
		next := upgradeRecord{From: rec.From, Stage: upgradeObjects}
		if next.State, err = readState(ctx, b, 1); err != nil {
			return err
		}
		if next.Runs, err = readRuns(ctx, b, 1); err != nil {
			return err
		}
		if next.Changed, err = readChanged(ctx, b, 1); err != nil {
			return err
		}
		if err := putJSON(ctx, b, upgradeKey, next); err != nil {
			return err
		}
		rec = next
	}
	if rec.Stage != upgradeObjects {
		return fmt.Errorf("%s/%s has an unknown stage %q; restore it from a backup", b, upgradeKey, rec.Stage)
	}
	if err := writeState(ctx, b, 2, orEmpty(rec.State)); err != nil {
		return err
	}
	if err := putJSON(ctx, b, runsKey, orEmpty(rec.Runs)); err != nil {
		return err
	}
	if err := writeChanged(ctx, b, 2, orEmpty(rec.Changed)); err != nil {
		return err
	}
	if err := putJSON(ctx, b, metaKey, meta{Format: formatName, SchemaVersion: SchemaVersion}); err != nil {
		return err
	}
	return b.Delete(ctx, upgradeKey)
}

// upgradeFile moves one data file of layout 1 to its key in layout 2,
// rewritten with the network column.
func upgradeFile(ctx context.Context, b bucket.Bucket, f v1File) error {
	done, err := b.List(ctx, f.to)
	if err != nil {
		return err
	}
	for _, o := range done {
		if o.Key == f.to {
			// Moved before a kill that came before the old file's removal.
			return b.Delete(ctx, f.from)
		}
	}
	name := newID() + "-upgrade.parquet.partial"
	local := filepath.Join(b.Scratch(), name)
	if err := rewriteWithNetwork(ctx, b, f.from, local, models.DefaultNetwork); err != nil {
		return err
	}
	tmp := path.Join(tmpPrefix, name)
	if err := b.Put(ctx, tmp, local); err != nil {
		return err
	}
	if err := b.Move(ctx, tmp, f.to); err != nil {
		return err
	}
	return b.Delete(ctx, f.from)
}
