package sinktest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Rows are compared as canonical strings, so that sinks storing the same
// value in different Arrow shapes compare equal: DuckDB hands a UTC
// TIMESTAMP back without a zone and a DECIMAL(18,4) with its four digits; a
// Parquet reader may return dictionary-encoded or large strings, and
// timestamps in another unit.

// row is one row: column name -> canonical value.
type row map[string]string

// null stands for SQL NULL; no value the suite writes spells it.
const null = "∅"

// canonicalRows turns records into rows.
func canonicalRows(recs []arrow.RecordBatch) ([]row, error) {
	var out []row
	for _, rec := range recs {
		for i := range int(rec.NumRows()) {
			r := make(row, rec.NumCols())
			for c, f := range rec.Schema().Fields() {
				v, err := canonical(rec.Column(c), i)
				if err != nil {
					return nil, fmt.Errorf("column %s: %w", f.Name, err)
				}
				r[f.Name] = v
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// canonical renders one value: timestamps as RFC 3339 in UTC (a timestamp
// without a zone holds a UTC wall clock, as syncd's tables do), dates as
// YYYY-MM-DD, decimals without trailing zeros.
func canonical(a arrow.Array, i int) (string, error) {
	if a.IsNull(i) {
		return null, nil
	}
	switch a := a.(type) {
	case *array.Dictionary:
		return canonical(a.Dictionary(), a.GetValueIndex(i))
	// Value's string aliases the array's buffer, which a sink may free
	// (DuckDB's are C memory) once the records are released.
	case *array.String:
		return strings.Clone(a.Value(i)), nil
	case *array.LargeString:
		return strings.Clone(a.Value(i)), nil
	case *array.StringView:
		return strings.Clone(a.Value(i)), nil
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10), nil
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10), nil
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10), nil
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i)), nil
	case *array.Decimal128:
		s := a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s, nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano), nil
	case *array.Date32:
		return a.Value(i).ToTime().UTC().Format(time.DateOnly), nil
	case *array.Date64:
		return a.Value(i).ToTime().UTC().Format(time.DateOnly), nil
	}
	return "", fmt.Errorf("sinktest: no canonical form for Arrow type %s (add it to canonical)", a.DataType())
}
