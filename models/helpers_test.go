package models

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var (
	berlin   = mustLoc("Europe/Berlin")
	syncedAt = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// build appends objs and returns the record, failing on any error.
func build(t testing.TB, m Model, loc *time.Location, objs ...json.RawMessage) arrow.RecordBatch {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	b := m.NewBuilder(mem, DefaultNetwork, loc, syncedAt)
	defer b.Release()
	for i, o := range objs {
		if err := b.Append(o); err != nil {
			t.Fatalf("%s: element %d: %v", m.Table(), i, err)
		}
	}
	if b.Len() != len(objs) {
		t.Fatalf("Len = %d, want %d", b.Len(), len(objs))
	}
	rec := b.NewRecord()
	if b.Len() != 0 {
		t.Fatalf("Len after NewRecord = %d", b.Len())
	}
	if !rec.Schema().Equal(m.Schema()) {
		t.Fatalf("record schema differs from model schema")
	}
	t.Cleanup(rec.Release)
	return rec
}

func buildOne(t testing.TB, m Model, obj string) arrow.RecordBatch {
	t.Helper()
	return build(t, m, time.UTC, json.RawMessage(obj))
}

// appendErr appends obj and returns the error (nil allowed).
func appendErr(m Model, obj string) error {
	b := m.NewBuilder(memory.DefaultAllocator, DefaultNetwork, time.UTC, syncedAt)
	defer b.Release()
	return b.Append(json.RawMessage(obj))
}

func col(t testing.TB, rec arrow.RecordBatch, name string) arrow.Array {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q", name)
	}
	return rec.Column(idx[0])
}

func str(t testing.TB, rec arrow.RecordBatch, name string, row int) (string, bool) {
	t.Helper()
	a := col(t, rec, name).(*array.String)
	if a.IsNull(row) {
		return "", false
	}
	return a.Value(row), true
}

func i64(t testing.TB, rec arrow.RecordBatch, name string, row int) (int64, bool) {
	t.Helper()
	switch a := col(t, rec, name).(type) {
	case *array.Int64:
		return a.Value(row), !a.IsNull(row)
	case *array.Int32:
		return int64(a.Value(row)), !a.IsNull(row)
	}
	t.Fatalf("column %q is not an integer", name)
	return 0, false
}

// dec renders a decimal cell as "123.4500"; "NULL" when null.
func dec(t testing.TB, rec arrow.RecordBatch, name string, row int) string {
	t.Helper()
	a := col(t, rec, name).(*array.Decimal128)
	if a.IsNull(row) {
		return "NULL"
	}
	v := a.Value(row)
	if v.HighBits() != 0 && v.HighBits() != -1 {
		t.Fatalf("decimal out of int64 range")
	}
	return formatDec4(int64(v.LowBits()))
}

// ts renders a timestamp cell in UTC as "2006-01-02 15:04:05.999999"; "NULL" when null.
func ts(t testing.TB, rec arrow.RecordBatch, name string, row int) string {
	t.Helper()
	a := col(t, rec, name).(*array.Timestamp)
	if a.IsNull(row) {
		return "NULL"
	}
	return time.UnixMicro(int64(a.Value(row))).UTC().Format("2006-01-02 15:04:05.999999")
}

func rawOf(t testing.TB, rec arrow.RecordBatch, row int) map[string]any {
	t.Helper()
	s, _ := str(t, rec, "raw", row)
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("raw is not JSON: %v\n%s", err, s)
	}
	return m
}

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func wantErr(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}
