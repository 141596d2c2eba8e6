package lake

import (
	"context"
	"strings"
	"time"

	"github.com/syncd/syncd/load/lake/bucket"
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
	journalPrefix = "_syncd/journal/"
	tmpPrefix     = "_syncd/tmp/"
)

// partition names a partition of a table relative to the table's prefix:
// "" for a table without a day column, "date=YYYY-MM-DD" otherwise. It is
// the only code that knows the levels below a table, so a network=<name>/
// level (several networks per warehouse) is a change here and in
// partitionOfKey.
type partition string

func dayPartition(day time.Time) partition {
	return partition("date=" + day.UTC().Format(time.DateOnly))
}

// day is the UTC midnight a date= partition holds; ok is false for the
// whole-table partition.
func (p partition) day() (time.Time, bool) {
	s, ok := strings.CutPrefix(string(p), "date=")
	if !ok {
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, s)
	return d, err == nil
}

// fileKey is the object holding partition p of table.
func fileKey(table string, p partition) string {
	if p == "" {
		return table + "/" + dataFile
	}
	return table + "/" + string(p) + "/" + dataFile
}

// partitionOfKey is the partition a table's object key holds; ok is false
// for an object that is not a partition's data file.
func partitionOfKey(table, key string) (partition, bool) {
	rest, ok := strings.CutPrefix(key, table+"/")
	if !ok {
		return "", false
	}
	if rest == dataFile {
		return "", true
	}
	dir, ok := strings.CutSuffix(rest, "/"+dataFile)
	if !ok {
		return "", false
	}
	p := partition(dir)
	_, ok = p.day()
	return p, ok
}

// partitions lists table's partitions that hold a data file, in order.
func partitions(ctx context.Context, b bucket.Bucket, table string) ([]partition, error) {
	objs, err := b.List(ctx, table+"/")
	if err != nil {
		return nil, err
	}
	var out []partition
	for _, o := range objs {
		if p, ok := partitionOfKey(table, o.Key); ok {
			out = append(out, p)
		}
	}
	return out, nil
}
