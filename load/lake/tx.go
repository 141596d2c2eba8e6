package lake

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// Tx is one load of one table (load.Tx). Each Write goes, split by
// partition, to Arrow IPC files under _syncd/tmp/, so staged rows cost
// disk, not heap, and a kill leaves nothing a reader sees; Commit merges
// them into the partitions they touch one partition at a time: it holds
// one partition's staged rows and one row group of its stored rows, not
// the Tx. A Tx is for one goroutine; it ends with Commit, a failed
// Commit or Rollback, after which it holds no record and no file.
type Tx struct {
	s       *Sink
	network string // every row's, and the partitions' it touches
	target  load.Target
	id      string
	dir     string // staged records: one IPC file per Write and partition
	release func()

	writes int
	staged map[partition][]string // in the order written
	err    error                  // a failed Write: the Tx can only be rolled back
	done   bool
}

func (tx *Tx) table() string { return tx.target.Model.Table() }

// Write implements load.Tx. It does not keep rec: the rows are copied to
// the staging file before it returns.
func (tx *Tx) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if tx.done {
		return fmt.Errorf("lake: write %s: transaction already ended", tx.table())
	}
	if tx.err != nil {
		return fmt.Errorf("lake: write %s: an earlier write failed: %w", tx.table(), tx.err)
	}
	if err := tx.write(ctx, rec); err != nil {
		tx.err = err
		tx.dropStaged()
		return fmt.Errorf("lake: write %s: %w", tx.table(), err)
	}
	return nil
}

func (tx *Tx) write(ctx context.Context, rec arrow.RecordBatch) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sameColumns(rec.Schema(), tx.target.Model.Schema()); err != nil {
		return err
	}
	parts, err := tx.split(rec)
	if err != nil {
		return err
	}
	tx.writes++
	for i, p := range slices.Sorted(maps.Keys(parts)) {
		path := filepath.Join(tx.dir, fmt.Sprintf("%d-%d.arrow", tx.writes, i))
		if tx.staged == nil {
			tx.staged = map[partition][]string{}
		}
		tx.staged[p] = append(tx.staged[p], path)
		err := stage(path, rec, parts[p], tx.s.mem)
		if err != nil {
			return fmt.Errorf("partition %s: %w", p, err)
		}
	}
	return nil
}

// split groups rec's rows by partition: nil row lists when all are in one
// (the usual case, staged without a copy). A row of another network than
// the Tx's, outside a ReplaceDays window, or without a day, fails the
// Write.
func (tx *Tx) split(rec arrow.RecordBatch) (map[partition][]int64, error) {
	m := tx.target.Model
	if err := tx.sameNetwork(rec); err != nil {
		return nil, err
	}
	if m.DayColumn() == "" {
		return map[partition][]int64{wholePartition(tx.network): nil}, nil
	}
	day := rec.Column(m.Schema().FieldIndices(m.DayColumn())[0])
	out := map[partition][]int64{}
	for i := range int(rec.NumRows()) {
		d, ok, err := dayAt(day, i)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("row %d has no %s, so no partition", i, m.DayColumn())
		}
		if tx.target.Mode == models.ReplaceDays && (d.Before(tx.target.From) || !d.Before(tx.target.To)) {
			return nil, fmt.Errorf("a row of %s is outside the replaced days [%s, %s)", d.Format(time.DateOnly),
				tx.target.From.Format(time.DateOnly), tx.target.To.Format(time.DateOnly))
		}
		p := dayPartition(tx.network, d)
		out[p] = append(out[p], int64(i))
	}
	if len(out) == 1 {
		for p := range out {
			out[p] = nil
		}
	}
	return out, nil
}

// sameNetwork holds every row of rec to the Tx's network: a view loads
// its own network's rows only (load.Sink).
func (tx *Tx) sameNetwork(rec arrow.RecordBatch) error {
	idx := rec.Schema().FieldIndices(models.NetworkColumn)
	if len(idx) != 1 {
		return fmt.Errorf("record has no %s column", models.NetworkColumn)
	}
	return load.CheckNetwork(rec.Column(idx[0]), tx.network)
}

// stage writes rec's rows at idx (all of them for nil) to a new IPC file.
func stage(path string, rec arrow.RecordBatch, idx []int64, mem memory.Allocator) (err error) {
	if idx != nil {
		if rec, err = take(context.Background(), rec, idx, mem); err != nil {
			return err
		}
		defer rec.Release()
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w := ipc.NewWriter(f, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
	err = w.Write(rec)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sameColumns holds a record to its model: the same columns by name,
// order and type.
func sameColumns(got, want *arrow.Schema) error {
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("record has %d columns, the table %d", got.NumFields(), want.NumFields())
	}
	for i, f := range want.Fields() {
		g := got.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return fmt.Errorf("column %d is %s %s, want %s %s", i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	return nil
}

// Backlog implements load.Backlogger: none. Write stages each record's
// rows to a file and Commit streams them back a partition at a time, so
// rows written wait on disk, not in memory; and each Commit rewrites every
// partition it touches whole, so the fewer commits a backfill makes, the
// fewer times it writes each day. Counted as backlog, a 1M backfill
// committed every 10,000 rows and rewrote each day's file some four times
// (155 CPU s, peak RSS 237 MB); in units of 250,000 rows it took 62 CPU s
// and peaked at 201 MB.
func (tx *Tx) Backlog() int64 { return 0 }

// Rollback implements load.Tx.
func (tx *Tx) Rollback() error {
	if tx.done {
		return nil
	}
	tx.end()
	return nil
}

// end finishes the Tx: its staging goes and the table is free again.
func (tx *Tx) end() {
	tx.done = true
	_ = os.RemoveAll(tx.dir)
	tx.release()
}

func (tx *Tx) dropStaged() {
	for _, files := range tx.staged {
		for _, f := range files {
			_ = os.Remove(f)
		}
	}
	tx.staged = nil
}

// Commit implements load.Tx. Whatever it returns, the Tx has ended. An
// error before the commit's journal is written leaves the lake as it was;
// an I/O error after it (rare: a rename or the state file failing) leaves
// the journal, which the next Open applies whole; until then the sink
// refuses every Begin, so no later commit lands under that replay.
func (tx *Tx) Commit(ctx context.Context, cur *checkpoints.Cursor) (load.Committed, error) {
	if tx.done {
		return load.Committed{}, fmt.Errorf("lake: commit %s: transaction already ended", tx.table())
	}
	defer tx.end()
	if tx.err != nil {
		return load.Committed{}, fmt.Errorf("lake: commit %s: an earlier write failed: %w", tx.table(), tx.err)
	}
	n, err := tx.commit(ctx, cur)
	if err != nil {
		return load.Committed{}, fmt.Errorf("lake: commit %s: %w", tx.table(), err)
	}
	return n, nil
}

func (tx *Tx) commit(ctx context.Context, cur *checkpoints.Cursor) (load.Committed, error) {
	var none load.Committed
	if err := ctx.Err(); err != nil {
		return none, err
	}
	j := journal{Table: tx.table(), Network: tx.network}
	if cur != nil {
		ch, err := changeOf(*cur, tx.s.now())
		if err != nil {
			return none, err
		}
		j.Cursor = &ch
	}
	// Until the journal is durable the temp files are the Tx's to remove;
	// after it they are the journal's, which a replay renames.
	journaled := false
	defer func() {
		if !journaled {
			for _, r := range j.Renames {
				_ = tx.s.b.Delete(context.WithoutCancel(ctx), r.Temp)
			}
		}
	}()
	m := mergeOf(tx)
	rows, err := m.run(ctx, &j)
	if err != nil {
		return none, err
	}
	if t := tx.target; t.Changes != "" && len(m.hours) > 0 {
		j.Changed = &changedHours{Set: t.Changes, Add: slices.SortedFunc(maps.Keys(m.hours), time.Time.Compare)}
	}
	if t := tx.target; t.Consumes != "" {
		j.Consumed = &consumedHours{Set: t.Consumes, From: t.ConsumeFrom.UTC(), To: t.ConsumeTo.UTC()}
	}
	// The last moment a cancel may still stop the commit: after the
	// journal it lands whole, here or at the next Open.
	if err := ctx.Err(); err != nil {
		return none, err
	}
	s := tx.s
	s.publish.Lock()
	defer s.publish.Unlock()
	jkey := fmt.Sprintf("%s%020d-%s.json", journalPrefix, s.now().UnixNano(), tx.id)
	if err := putJSON(ctx, s.b, jkey, j); err != nil {
		return none, fmt.Errorf("journal: %w", err)
	}
	journaled = true
	// From here the commit lands whole: a cancel would only leave the
	// journal to the next Open.
	actx := context.WithoutCancel(ctx)
	if s.killAfterJournal != nil {
		if n, kill := s.killAfterJournal(j); kill {
			_ = apply(actx, s.b, s.layout, journal{Table: j.Table, Network: j.Network, Renames: j.Renames[:n]})
			return none, errors.New("killed (test)")
		}
	}
	if aerr := apply(actx, s.b, s.layout, j); aerr != nil {
		s.mu.Lock()
		s.broken = fmt.Errorf("a commit of %s is half applied (%w); reopen the lake to complete it", tx.table(), aerr)
		s.mu.Unlock()
		return none, s.broken
	}
	if rerr := s.b.Delete(actx, jkey); rerr != nil {
		return none, fmt.Errorf("journal: %w", rerr)
	}
	s.committed(tx.table())
	return rows, nil
}

// merge is a commit's plan: the staged rows, de-duplicated, and the
// partitions they rewrite.
type merge struct {
	// hours collects the UTC hours (of the day column) of the rows the
	// Tx writes, for Target.Changes: every staged row's, since the lake
	// does not tell a changed row from an equal one.
	hours map[time.Time]bool
	tx    *Tx
	model models.Model
	mode  models.Mode
	from  time.Time
	to    time.Time
	// seed hashes rows (rowHash), so a staged winner and the stored row
	// of its key compare without holding either.
	seed maphash.Seed
}

func mergeOf(tx *Tx) *merge {
	return &merge{tx: tx, model: tx.target.Model, mode: tx.target.Mode, from: tx.target.From, to: tx.target.To, seed: maphash.MakeSeed()}
}

// eachStaged hands the records staged for p to fn in the order written,
// one at a time, each with its ordinal: fn must not keep the record past
// its return. Only one staged record is in memory.
func (m *merge) eachStaged(p partition, fn func(n int, rec arrow.RecordBatch) error) error {
	sc := m.model.Schema()
	mem := m.tx.s.mem
	n := 0
	for _, path := range m.tx.staged[p] {
		if err := func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			r, err := ipc.NewReader(f, ipc.WithAllocator(mem), ipc.WithSchema(sc))
			if err != nil {
				return err
			}
			defer r.Release()
			for r.Next() {
				if err := fn(n, r.RecordBatch()); err != nil {
					return err
				}
				n++
			}
			return r.Err()
		}(); err != nil {
			return fmt.Errorf("staged %s: %w", path, err)
		}
	}
	return nil
}

// run writes every partition the Tx rewrites to a temp file and records
// the renames and removals in j; it returns what the Tx stores, counted
// as load.Committed says.
func (m *merge) run(ctx context.Context, j *journal) (load.Committed, error) {
	var total load.Committed
	parts, err := m.touched(ctx)
	if err != nil {
		return total, err
	}
	b, table := m.tx.s.b, m.model.Table()
	for i, p := range parts {
		if err := ctx.Err(); err != nil {
			return load.Committed{}, err
		}
		n, err := func() (load.Committed, error) {
			// A partition left without rows becomes an empty file, not a
			// deleted one, so a reader that listed it can still open it.
			w, err := m.winners(p)
			if err != nil {
				return load.Committed{}, err
			}
			name := fmt.Sprintf("%s-%d.parquet.partial", m.tx.id, i)
			local := filepath.Join(b.Scratch(), name)
			held, err := m.rewrite(ctx, p, w, local)
			if err != nil {
				return load.Committed{}, err
			}
			tmp := tmpPrefix + name
			if err := b.Put(ctx, tmp, local); err != nil {
				return load.Committed{}, err
			}
			j.Renames = append(j.Renames, rename{Temp: tmp, Final: fileKey(table, p)})
			return load.Committed{Inserted: int64(len(w.keys)) - held.keys, Updated: held.keys - held.equal, Unchanged: held.equal}, nil
		}()
		if err != nil {
			return load.Committed{}, fmt.Errorf("partition %s/%s: %w", table, p, err)
		}
		total = total.Add(n)
	}
	return total, nil
}

// heldCount is, of a partition's staged winners, how many keys the
// partition held before the commit, and how many of them with an equal row.
type heldCount struct {
	keys, equal int64
	// stored is the rowHash of each held key's stored row, which the
	// staged winner of the key is compared with as it is written: only
	// rows whose key the partition held are hashed (rowHash formats
	// every value; hashing every staged row took 14% of a backfill's CPU
	// into days not loaded, where nothing is held).
	stored map[string]uint64
}

// count adds the stored rows of old whose key w writes to c.
func (m *merge) count(c *heldCount, w *stagedWinners, old arrow.RecordBatch, keyCols []int) error {
	keys := keyColumns(old, keyCols)
	var buf []byte
	var err error
	for i := range int(old.NumRows()) {
		if buf, err = appendKey(buf[:0], keys, i); err != nil {
			return err
		}
		if _, held := w.keys[string(buf)]; !held {
			continue
		}
		c.keys++
		if h, ok := m.rowHash(old, i); ok {
			if c.stored == nil {
				c.stored = map[string]uint64{}
			}
			c.stored[string(buf)] = h
		}
	}
	return nil
}

// keyColumns is rec's key columns, at keyCols.
func keyColumns(rec arrow.RecordBatch, keyCols []int) []arrow.Array {
	keys := make([]arrow.Array, len(keyCols))
	for i, c := range keyCols {
		keys[i] = rec.Column(c)
	}
	return keys
}

// countEqual adds to c the rows at idx of a staged record whose key the
// partition held with an equal row.
func (m *merge) countEqual(c *heldCount, rec arrow.RecordBatch, idx []int64, keyCols []int) error {
	if len(c.stored) == 0 {
		return nil
	}
	keys := keyColumns(rec, keyCols)
	var buf []byte
	var err error
	for _, i := range idx {
		if buf, err = appendKey(buf[:0], keys, int(i)); err != nil {
			return err
		}
		if h, held := c.stored[string(buf)]; held {
			if r, ok := m.rowHash(rec, int(i)); ok && r == h {
				c.equal++
			}
		}
	}
	return nil
}

// rowHash hashes row i of rec over every column but _synced_at: the row
// as load.Committed compares it (raw alone cannot tell, as it holds only
// what no typed column holds: models.Folds). ok is false for a model
// without an Original column, whose rows equal nothing.
func (m *merge) rowHash(rec arrow.RecordBatch, i int) (uint64, bool) {
	if m.model.Original() == "" {
		return 0, false
	}
	var h maphash.Hash
	h.SetSeed(m.seed)
	var n [binary.MaxVarintLen64]byte
	for c, f := range rec.Schema().Fields() {
		if f.Name == models.SyncedAtColumn {
			continue
		}
		col := rec.Column(c)
		if col.IsNull(i) {
			_ = h.WriteByte(0)
			continue
		}
		v := col.ValueStr(i)
		_, _ = h.Write(n[:binary.PutUvarint(n[:], uint64(len(v))+1)])
		_, _ = h.WriteString(v)
	}
	return h.Sum64(), true
}

// stagedWinners is which staged row of each key a commit keeps (load.Tx's
// rule: the latest version, a version over none, else the last written).
type stagedWinners struct {
	keys map[string]stagedRow
	// rows lists each staged record's kept rows (by the record's
	// ordinal in eachStaged), ascending.
	rows map[int][]int64
}

type stagedRow struct {
	file int
	row  int64
	v    int64
	hasV bool
}

// winners reads the keys and versions of p's staged rows, a record at a
// time, and picks the row each key keeps.
func (m *merge) winners(p partition) (*stagedWinners, error) {
	sc := m.model.Schema()
	keyCols := make([]int, len(m.model.Key()))
	for i, k := range m.model.Key() {
		keyCols[i] = sc.FieldIndices(k)[0]
	}
	verCol := -1
	if v := m.model.Version(); v != "" {
		verCol = sc.FieldIndices(v)[0]
	}
	w := &stagedWinners{keys: map[string]stagedRow{}, rows: map[int][]int64{}}
	var buf []byte
	dayCol := -1
	if d := m.model.DayColumn(); d != "" && m.tx.target.Changes != "" {
		dayCol = sc.FieldIndices(d)[0]
	}
	err := m.eachStaged(p, func(file int, rec arrow.RecordBatch) error {
		if dayCol >= 0 {
			if err := m.addHours(rec.Column(dayCol)); err != nil {
				return err
			}
		}
		keys := keyColumns(rec, keyCols)
		for i := range int(rec.NumRows()) {
			var err error
			if buf, err = appendKey(buf[:0], keys, i); err != nil {
				return err
			}
			r := stagedRow{file: file, row: int64(i)}
			if verCol >= 0 {
				if r.v, r.hasV, err = versionAt(rec.Column(verCol), i); err != nil {
					return err
				}
			}
			cur, seen := w.keys[string(buf)]
			if !seen || !cur.hasV || (r.hasV && r.v >= cur.v) {
				w.keys[string(buf)] = r
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range w.keys {
		w.rows[r.file] = append(w.rows[r.file], r.row)
	}
	for _, rows := range w.rows {
		slices.Sort(rows)
	}
	return w, nil
}

// addHours adds the UTC hours of a day column's timestamps to m.hours.
func (m *merge) addHours(c arrow.Array) error {
	ts, ok := c.(*array.Timestamp)
	if !ok {
		return nil // a DATE day column has no hours to tell apart
	}
	unit := ts.DataType().(*arrow.TimestampType).Unit
	if m.hours == nil {
		m.hours = map[time.Time]bool{}
	}
	for i := range ts.Len() {
		if ts.IsValid(i) {
			m.hours[ts.Value(i).ToTime(unit).UTC().Truncate(time.Hour)] = true
		}
	}
	return nil
}

// touched lists the partitions the Tx rewrites or removes, sorted.
func (m *merge) touched(ctx context.Context) ([]partition, error) {
	set := map[partition]bool{}
	for p := range m.tx.staged {
		set[p] = true
	}
	if m.mode != models.Upsert {
		existing, err := partitions(ctx, m.tx.s.b, m.model.Table(), m.tx.network)
		if err != nil {
			return nil, err
		}
		for _, p := range existing {
			d, isDay := p.day()
			if m.mode == models.ReplaceTable || (isDay && !d.Before(m.from) && d.Before(m.to)) {
				set[p] = true
			}
		}
		if m.mode == models.ReplaceTable && m.model.DayColumn() == "" {
			set[wholePartition(m.tx.network)] = true // an empty snapshot is an empty file
		}
	}
	out := make([]partition, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// rewrite writes partition p as it is after the Tx to tmp: for an Upsert
// the stored rows whose keys the Tx does not write, streamed a batch at a
// time, then the Tx's kept rows, a staged record at a time. It returns
// which of w's keys p held before (a replace reads the stored rows for
// that alone: they are few, snapshots and days of stats).
func (m *merge) rewrite(ctx context.Context, p partition, w *stagedWinners, tmp string) (heldCount, error) {
	sc, mem, b := m.model.Schema(), m.tx.s.mem, m.tx.s.b
	keyCols := make([]int, len(m.model.Key()))
	for i, k := range m.model.Key() {
		keyCols[i] = sc.FieldIndices(k)[0]
	}
	var held heldCount
	if m.mode != models.Upsert && len(w.keys) > 0 && len(keyCols) > 0 {
		if _, err := scanObject(ctx, b, fileKey(m.model.Table(), p), sc, mem, func(old arrow.RecordBatch) error {
			return m.count(&held, w, old, keyCols)
		}); err != nil {
			return held, err
		}
	}
	err := writeParquet(tmp, sc, mem, func(put func(arrow.RecordBatch) error) error {
		if m.mode == models.Upsert {
			_, err := scanObject(ctx, b, fileKey(m.model.Table(), p), sc, mem, func(old arrow.RecordBatch) error {
				if err := m.count(&held, w, old, keyCols); err != nil {
					return err
				}
				keys := keyColumns(old, keyCols)
				var keep []int64
				var buf []byte
				var err error
				for i := range int(old.NumRows()) {
					if buf, err = appendKey(buf[:0], keys, i); err != nil {
						return err
					}
					if _, replaced := w.keys[string(buf)]; !replaced {
						keep = append(keep, int64(i))
					}
				}
				return putRows(ctx, put, old, keep, mem)
			})
			if err != nil {
				return err
			}
		}
		return m.eachStaged(p, func(file int, rec arrow.RecordBatch) error {
			if err := m.countEqual(&held, rec, w.rows[file], keyCols); err != nil {
				return err
			}
			return putRows(ctx, put, rec, w.rows[file], mem)
		})
	})
	return held, err
}

// putRows puts rec's rows at idx, without a copy when they are all of
// them in order.
func putRows(ctx context.Context, put func(arrow.RecordBatch) error, rec arrow.RecordBatch, idx []int64, mem memory.Allocator) error {
	if len(idx) == int(rec.NumRows()) {
		return put(rec) // idx is ascending and distinct: every row in order
	}
	if len(idx) == 0 {
		return nil
	}
	sel, err := take(ctx, rec, idx, mem)
	if err != nil {
		return err
	}
	defer sel.Release()
	return put(sel)
}
