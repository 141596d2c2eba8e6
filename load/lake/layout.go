package lake

import (
	"context"
	"strings"
	"time"

	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// dataFile is the one file each partition holds: a partition is rewritten
// whole and replaced in one step, so readers never see two versions side
// by side.
const dataFile = "data.parquet"

// syncd's own objects, all under _syncd/: no reader's glob of a table
// reaches them. Temporaries end in .partial besides.
const (
	syncdPrefix   = "_syncd/"
	stateKey      = "_syncd/state.json"
	runsKey       = "_syncd/runs.json"
	metaKey       = "_syncd/meta.json"
	upgradeKey    = "_syncd/upgrade.json"
	journalPrefix = "_syncd/journal/"
	tmpPrefix     = "_syncd/tmp/"
)

// partition names a partition of a table relative to the table's prefix:
// "network=<name>" for a table without a day column,
// "network=<name>/date=YYYY-MM-DD" otherwise. This file is the only code
// that knows the levels below a table (layout 2; layout 1, before
// networks, had no network= level: see v1Files).
type partition string

const networkLevel, dateLevel = "network=", "date="

func wholePartition(network string) partition { return partition(networkLevel + network) }

func dayPartition(network string, day time.Time) partition {
	return partition(networkLevel + network + "/" + dateLevel + day.UTC().Format(time.DateOnly))
}

// day is the UTC midnight a date= partition holds; ok is false for the
// whole-table partition.
func (p partition) day() (time.Time, bool) {
	_, d, ok := strings.Cut(string(p), "/"+dateLevel)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, d)
	return t, err == nil
}

// fileKey is the object holding partition p of table.
func fileKey(table string, p partition) string {
	return table + "/" + string(p) + "/" + dataFile
}

// networkPrefix is the prefix of every object of network's part of table.
func networkPrefix(table, network string) string {
	return table + "/" + networkLevel + network + "/"
}

// partitionOfKey is the partition of network a table's object key holds;
// ok is false for an object that is not one of its partitions' data file.
func partitionOfKey(table, network, key string) (partition, bool) {
	rest, ok := strings.CutPrefix(key, networkPrefix(table, network))
	if !ok {
		return "", false
	}
	if rest == dataFile {
		return wholePartition(network), true
	}
	dir, ok := strings.CutSuffix(rest, "/"+dataFile)
	if !ok || strings.Contains(dir, "/") {
		return "", false
	}
	p := partition(networkLevel + network + "/" + dir)
	_, ok = p.day()
	return p, ok
}

// partitions lists network's partitions of table that hold a data file,
// in order (so in day order).
func partitions(ctx context.Context, b bucket.Bucket, table, network string) ([]partition, error) {
	objs, err := b.List(ctx, networkPrefix(table, network))
	if err != nil {
		return nil, err
	}
	var out []partition
	for _, o := range objs {
		if p, ok := partitionOfKey(table, network, o.Key); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// TableGlob is the glob, relative to the lake's root and slash-separated,
// that matches every data file of m's table, of every network, and
// nothing else: what a reader passes to read_parquet.
func TableGlob(m models.Model) string {
	if m.DayColumn() == "" {
		return m.Table() + "/" + networkLevel + "*/" + dataFile
	}
	return m.Table() + "/" + networkLevel + "*/" + dateLevel + "*/" + dataFile
}

// v1File is a partition's data file in layout 1 and where layout 2 keeps
// it (as the default network's).
type v1File struct{ from, to string }

// v1Files lists every layout-1 data file in b: <table>/data.parquet and
// <table>/date=YYYY-MM-DD/data.parquet, of whatever table (a stream this
// build no longer has too). Objects of layout 2 are not listed.
func v1Files(ctx context.Context, b bucket.Bucket) ([]v1File, error) {
	objs, err := b.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []v1File
	for _, o := range objs {
		table, rest, ok := strings.Cut(o.Key, "/")
		if !ok || table+"/" == syncdPrefix {
			continue
		}
		if rest == dataFile {
			out = append(out, v1File{from: o.Key, to: fileKey(table, wholePartition(models.DefaultNetwork))})
			continue
		}
		dir, ok := strings.CutSuffix(rest, "/"+dataFile)
		if !ok || !strings.HasPrefix(dir, dateLevel) || strings.Contains(dir, "/") {
			continue
		}
		d, err := time.Parse(time.DateOnly, strings.TrimPrefix(dir, dateLevel))
		if err != nil {
			continue
		}
		out = append(out, v1File{from: o.Key, to: fileKey(table, dayPartition(models.DefaultNetwork, d))})
	}
	return out, nil
}
