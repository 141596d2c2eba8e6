package lake

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dataFile is the one file each partition holds: a partition is rewritten
// whole and renamed over it, so readers never see two versions side by side.
const dataFile = "data.parquet"

// layout places every file of the lake. It is the only code that knows
// paths, so a network=<name>/ level (several networks per warehouse) is a
// change here: partitionOf gains the network and puts it before date=.
type layout struct{ root string }

// partition names a partition of a table relative to the table's directory:
// "" for a table without a day column, "date=YYYY-MM-DD" otherwise.
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

func (l layout) tableDir(table string) string { return filepath.Join(l.root, table) }

func (l layout) file(table string, p partition) string {
	return filepath.Join(l.root, table, string(p), dataFile)
}

// syncdDir holds syncd's own files; no reader's glob of a table reaches it.
func (l layout) syncdDir() string   { return filepath.Join(l.root, "_syncd") }
func (l layout) stateFile() string  { return filepath.Join(l.syncdDir(), "state.json") }
func (l layout) runsFile() string   { return filepath.Join(l.syncdDir(), "runs.jsonl") }
func (l layout) journalDir() string { return filepath.Join(l.syncdDir(), "journal") }

// tmpDir holds files being written: staged records of open Txs and
// partitions not yet renamed into place. Names end in .partial, so not
// even a glob over the whole lake matches them.
func (l layout) tmpDir() string { return filepath.Join(l.syncdDir(), "tmp") }

// partitions lists table's partitions that hold a data file.
func (l layout) partitions(table string) ([]partition, error) {
	if _, err := os.Stat(l.file(table, "")); err == nil {
		return []partition{""}, nil
	}
	ents, err := os.ReadDir(l.tableDir(table))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []partition
	for _, e := range ents {
		p := partition(e.Name())
		if _, ok := p.day(); !ok || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(l.file(table, p)); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}
