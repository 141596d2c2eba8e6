package lake

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// fileSchema is how a model's schema is stored: timestamps without a zone
// (Parquet isAdjustedToUTC=false, holding UTC), so engines read them as
// TIMESTAMP like the DuckDB warehouse's columns, not as TIMESTAMPTZ.
func fileSchema(sc *arrow.Schema) *arrow.Schema {
	fs := make([]arrow.Field, sc.NumFields())
	for i, f := range sc.Fields() {
		if ts, ok := f.Type.(*arrow.TimestampType); ok {
			f.Type = &arrow.TimestampType{Unit: ts.Unit}
		}
		fs[i] = f
	}
	return arrow.NewSchema(fs, nil)
}

// retype returns rec's columns named as sc's fields, under sc's types: the
// buffers are shared, so the types must store values alike (timestamps
// with and without a zone, strings read back as strings). The caller owns
// the result; rec keeps its own reference.
func retype(rec arrow.RecordBatch, sc *arrow.Schema) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, sc.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, f := range sc.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("column %s missing", f.Name)
		}
		d := rec.Column(idx[0]).Data()
		if !sameStorage(d.DataType(), f.Type) {
			return nil, fmt.Errorf("column %s is %s, want %s", f.Name, d.DataType(), f.Type)
		}
		nd := array.NewData(f.Type, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
		cols[i] = array.MakeFromData(nd)
		nd.Release()
	}
	return array.NewRecordBatch(sc, cols, rec.NumRows()), nil
}

// withMissing is rec with a NULL column for each nullable field of sc it
// lacks (added to the model after rec's file was written); rec itself,
// retained, when it lacks none. The caller releases the result.
func withMissing(rec arrow.RecordBatch, sc *arrow.Schema, mem memory.Allocator) (arrow.RecordBatch, error) {
	var missing []arrow.Field
	for _, f := range sc.Fields() {
		if len(rec.Schema().FieldIndices(f.Name)) == 0 {
			if !f.Nullable {
				return nil, fmt.Errorf("column %s missing", f.Name)
			}
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		rec.Retain()
		return rec, nil
	}
	fields := append(slices.Clone(rec.Schema().Fields()), missing...)
	cols := slices.Clone(rec.Columns())
	made := make([]arrow.Array, len(missing))
	for i, f := range missing {
		made[i] = array.MakeArrayOfNull(mem, f.Type, int(rec.NumRows()))
	}
	cols = append(cols, made...)
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	releaseAll(made) // out holds its own references
	return out, nil
}

func sameStorage(a, b arrow.DataType) bool {
	ta, oka := a.(*arrow.TimestampType)
	tb, okb := b.(*arrow.TimestampType)
	if oka && okb {
		return ta.Unit == tb.Unit
	}
	return arrow.TypeEqual(a, b)
}

// writeParquet writes a new file at path (zstd) holding the records of
// the model's schema sc that fill puts, in order, each as row groups of
// its own; the file is fsynced before it returns, and removed on error.
// put does not keep the record: the caller releases it after put returns.
func writeParquet(path string, sc *arrow.Schema, mem memory.Allocator, fill func(put func(arrow.RecordBatch) error) error) (err error) {
	fsc := fileSchema(sc)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithAllocator(mem),
		parquet.WithMaxRowGroupLength(rowGroupRows))
	// pqarrow closes a writer that is an io.Closer; f must stay open for
	// the fsync.
	w, err := pqarrow.NewFileWriter(fsc, struct{ io.Writer }{f}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)))
	if err != nil {
		return err
	}
	err = fill(func(rec arrow.RecordBatch) error {
		if rec.NumRows() == 0 {
			return nil
		}
		out, err := retype(rec, fsc)
		if err != nil {
			return err
		}
		defer out.Release()
		// Buffered: batches are appended to the open row group, so a
		// file has full row groups whatever the batches' lengths.
		return w.WriteBuffered(out)
	})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return f.Sync()
}

// rowGroupRows is a row group's length. The writer buffers a row group
// encoded and compressed, a few megabytes, until it is full.
const rowGroupRows = 64 * 1024

// scanBatchRows is the length of the batches a stored file is read in:
// what a merge holds of it at once.
const scanBatchRows = 8 * 1024

// scanObject hands each batch of the Parquet object at key, as records of
// sc, to fn, which must not keep it past its return; found is false when
// the object does not exist. It holds one batch in memory at a time, and
// reads the object as it was when opened, whatever replaces it meanwhile.
//
// A file written before a nullable column of sc existed (a lake holding
// older and newer files) reads as NULL there.
func scanObject(ctx context.Context, b bucket.Bucket, key string, sc *arrow.Schema, mem memory.Allocator, fn func(arrow.RecordBatch) error) (found bool, err error) {
	return eachBatch(ctx, b, key, "", mem, func(rec arrow.RecordBatch) error {
		full, err := withMissing(rec, sc, mem)
		if err != nil {
			return err
		}
		defer full.Release()
		out, err := retype(full, sc)
		if err != nil {
			return err
		}
		defer out.Release()
		return fn(out)
	})
}

// scanColumn hands the named column of the Parquet object at key to fn, a
// batch at a time, reading no other column; a missing object or column is
// nothing to scan.
func scanColumn(ctx context.Context, b bucket.Bucket, key, column string, mem memory.Allocator, fn func(arrow.Array) error) error {
	_, err := eachBatch(ctx, b, key, column, mem, func(rec arrow.RecordBatch) error { return fn(rec.Column(0)) })
	return err
}

// eachBatch reads the Parquet object at key in batches of scanBatchRows,
// all its columns or only column (when not ""), and hands each to fn,
// which must not keep it. found is false when the object (or column) does
// not exist.
func eachBatch(ctx context.Context, b bucket.Bucket, key, column string, mem memory.Allocator, fn func(arrow.RecordBatch) error) (found bool, err error) {
	fr, closeFn, err := openParquet(ctx, b, key, mem)
	if errors.Is(err, bucket.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return fr != nil, err
	}
	defer closeFn()
	var cols []int
	if column != "" {
		idx := fr.ParquetReader().MetaData().Schema.ColumnIndexByName(column)
		if idx < 0 {
			return false, nil
		}
		cols = []int{idx}
	}
	return true, eachRecord(ctx, fr, cols, fn)
}

// openParquet opens the Parquet object at key; closeFn closes it. A
// missing object is bucket.ErrNotExist (and a nil reader).
func openParquet(ctx context.Context, b bucket.Bucket, key string, mem memory.Allocator) (fr *pqarrow.FileReader, closeFn func(), err error) {
	f, err := b.Open(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	props := parquet.NewReaderProperties(mem)
	// Pages are read as they are decoded, not a whole column chunk of a
	// row group at once: raw JSON makes those tens of megabytes.
	props.BufferedStreamEnabled = true
	props.BufferSize = 1 << 20
	pf, err := file.NewParquetReader(io.NewSectionReader(f, 0, f.Size()), file.WithReadProps(props))
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	fr, err = pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: scanBatchRows}, mem)
	if err != nil {
		_ = pf.Close()
		_ = f.Close()
		return nil, nil, err
	}
	return fr, func() { _ = pf.Close(); _ = f.Close() }, nil
}

// eachRecord hands fr's batches of the columns cols (nil: all) to fn.
func eachRecord(ctx context.Context, fr *pqarrow.FileReader, cols []int, fn func(arrow.RecordBatch) error) error {
	rr, err := fr.GetRecordReader(ctx, cols, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	return rr.Err()
}

// rewriteWithNetwork writes the Parquet object at key to the new local
// file dst with models.NetworkColumn first, network in every row: a file
// of layout 1, which had no such column. Its other columns stay as the
// file holds them (a stats_daily file of other slices, a file from before
// a column was added). A file that has the column is copied as it is.
func rewriteWithNetwork(ctx context.Context, b bucket.Bucket, key, dst, network string) error {
	mem := memory.DefaultAllocator
	fr, closeFn, err := openParquet(ctx, b, key, mem)
	if err != nil {
		return err
	}
	defer closeFn()
	sc, err := fr.Schema()
	if err != nil {
		return err
	}
	has := len(sc.FieldIndices(models.NetworkColumn)) > 0
	out := sc
	if !has {
		out = arrow.NewSchema(append([]arrow.Field{models.Conversions().Schema().Field(0)}, sc.Fields()...), nil)
		if out.Field(0).Name != models.NetworkColumn {
			return fmt.Errorf("the models' first column is %s, not %s", out.Field(0).Name, models.NetworkColumn)
		}
	}
	return writeParquet(dst, out, mem, func(put func(arrow.RecordBatch) error) error {
		return eachRecord(ctx, fr, nil, func(rec arrow.RecordBatch) error {
			if has {
				return put(rec)
			}
			nb := array.NewStringBuilder(mem)
			defer nb.Release()
			nb.Reserve(int(rec.NumRows()))
			for range rec.NumRows() {
				nb.Append(network)
			}
			na := nb.NewArray()
			defer na.Release()
			full := array.NewRecordBatch(out, append([]arrow.Array{na}, rec.Columns()...), rec.NumRows())
			defer full.Release()
			return put(full)
		})
	})
}

// take returns rec's rows at idx, in that order.
func take(ctx context.Context, rec arrow.RecordBatch, idx []int64, mem memory.Allocator) (arrow.RecordBatch, error) {
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.AppendValues(idx, nil)
	ia := ib.NewArray()
	defer ia.Release()
	ctx = compute.WithAllocator(ctx, mem)
	cols := make([]arrow.Array, rec.NumCols())
	defer releaseAll(cols)
	for i := range cols {
		var err error
		if cols[i], err = compute.TakeArray(ctx, rec.Column(i), ia); err != nil {
			return nil, fmt.Errorf("column %s: %w", rec.Schema().Field(i).Name, err)
		}
	}
	return array.NewRecordBatch(rec.Schema(), cols, int64(len(idx))), nil
}

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}

// appendKey appends row i of the key columns so that two rows have equal
// bytes exactly when their keys are equal: each value tagged null or not,
// strings length-prefixed.
func appendKey(b []byte, cols []arrow.Array, i int) ([]byte, error) {
	for _, c := range cols {
		if c.IsNull(i) {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		switch a := c.(type) {
		case *array.String:
			b = binary.AppendUvarint(b, uint64(len(a.Value(i))))
			b = append(b, a.Value(i)...)
		case *array.LargeString:
			b = binary.AppendUvarint(b, uint64(len(a.Value(i))))
			b = append(b, a.Value(i)...)
		case *array.Int64:
			b = binary.BigEndian.AppendUint64(b, uint64(a.Value(i)))
		case *array.Int32:
			b = binary.BigEndian.AppendUint32(b, uint32(a.Value(i)))
		case *array.Date32:
			b = binary.BigEndian.AppendUint32(b, uint32(a.Value(i)))
		case *array.Timestamp:
			b = binary.BigEndian.AppendUint64(b, uint64(a.Value(i)))
		case *array.Boolean:
			if a.Value(i) {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		default:
			return nil, fmt.Errorf("key column of type %s", c.DataType())
		}
	}
	return b, nil
}

// versionAt is row i's version as an ordered number; ok is false for NULL.
func versionAt(c arrow.Array, i int) (v int64, ok bool, err error) {
	if c.IsNull(i) {
		return 0, false, nil
	}
	switch a := c.(type) {
	case *array.Timestamp:
		return int64(a.Value(i)), true, nil
	case *array.Int64:
		return a.Value(i), true, nil
	case *array.Int32:
		return int64(a.Value(i)), true, nil
	case *array.Date32:
		return int64(a.Value(i)), true, nil
	}
	return 0, false, fmt.Errorf("version column of type %s", c.DataType())
}

// dayAt is the UTC day of row i's day column; ok is false for NULL.
func dayAt(c arrow.Array, i int) (time.Time, bool, error) {
	if c.IsNull(i) {
		return time.Time{}, false, nil
	}
	switch a := c.(type) {
	case *array.Timestamp:
		t := a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC()
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true, nil
	case *array.Date32:
		return a.Value(i).ToTime().UTC(), true, nil
	}
	return time.Time{}, false, fmt.Errorf("day column of type %s", c.DataType())
}
