package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/models"
)

// testModel is a small Model: id VARCHAR, updated_at TIMESTAMP,
// amount DECIMAL(18,4), day DATE, raw VARCHAR.
type testModel struct {
	table  string
	schema *arrow.Schema
	key    []string
	day    string
}

var (
	tsType  = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	decType = &arrow.Decimal128Type{Precision: 18, Scale: 4}
)

func newTestModel(table string) *testModel {
	return &testModel{
		table: table,
		schema: arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true}, // so a test can send a NULL key
			{Name: "updated_at", Type: tsType, Nullable: true},
			{Name: "amount", Type: decType, Nullable: true},
			{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
			{Name: "raw", Type: arrow.BinaryTypes.String, Nullable: true},
		}, nil),
		key: []string{"id"},
		day: "day",
	}
}

func (m *testModel) Table() string         { return m.table }
func (m *testModel) Schema() *arrow.Schema { return m.schema }
func (m *testModel) Key() []string         { return m.key }
func (m *testModel) DayColumn() string     { return m.day }
func (m *testModel) NewBuilder(memory.Allocator, string, *time.Location, time.Time) models.Builder {
	panic("not used")
}

// Version is updated_at where the test's schema has it, as in the models.
func (m *testModel) Version() string { return m.has("updated_at") }

// Original is raw where the test's schema has it, as in the models.
func (m *testModel) Original() string { return m.has("raw") }

// has is name when the schema has that column, else "".
func (m *testModel) has(name string) string {
	if len(m.schema.FieldIndices(name)) > 0 {
		return name
	}
	return ""
}

// row is one row by column name; missing columns are NULL.
type row map[string]any

// mkRecord builds a record of schema from rows. Values: string, int, int64,
// bool, time.Time (timestamps and dates), and decimals as strings ("12.5").
func mkRecord(t testing.TB, schema *arrow.Schema, rows []row) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		for i, f := range schema.Fields() {
			v, ok := r[f.Name]
			if !ok && f.Name == models.NetworkColumn {
				v, ok = models.DefaultNetwork, true // as the builder stamps it
			}
			fb := b.Field(i)
			if !ok || v == nil {
				if f.Nullable {
					fb.AppendNull()
				} else {
					fb.AppendEmptyValue()
				}
				continue
			}
			switch fb := fb.(type) {
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.Int64Builder:
				switch n := v.(type) {
				case int:
					fb.Append(int64(n))
				case int64:
					fb.Append(n)
				}
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			case *array.Decimal128Builder:
				d, err := decimal128.FromString(v.(string), 18, 4)
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(d)
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
			case *array.Date32Builder:
				fb.Append(arrow.Date32FromTime(v.(time.Time)))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			default:
				t.Fatalf("mkRecord: unsupported builder %T for %s", fb, f.Name)
			}
		}
	}
	return b.NewRecordBatch()
}

func day(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

func ts(s string) time.Time {
	d, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return d
}

func openTest(t testing.TB, opts ...Option) (*Sink, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wh", "test.duckdb")
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// queryStrings returns every row of q as its columns joined by "|".
func queryStrings(t testing.TB, s *Sink, q string, args ...any) []string {
	t.Helper()
	return queryDB(t, s.DB(), q, args...)
}

// queryDB is queryStrings over any database handle.
func queryDB(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	return scanStrings(t, rows)
}

// scanStrings is rows as queryStrings renders them.
func scanStrings(t testing.TB, rows *sql.Rows) []string {
	t.Helper()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				parts[i] = "NULL"
			case time.Time:
				parts[i] = v.UTC().Format("2006-01-02T15:04:05")
			case []byte:
				parts[i] = string(v)
			default:
				if s, ok := v.(fmt.Stringer); ok {
					parts[i] = s.String()
				} else {
					j, _ := json.Marshal(v)
					parts[i] = strings.Trim(string(j), `"`)
				}
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func eq(t testing.TB, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
