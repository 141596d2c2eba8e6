package models

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// whole rebuilds row's object from raw and the folded columns as the
// sinks' <table>_raw views do (see fold.go), in canonical form (canon).
func whole(t testing.TB, m Model, rec arrow.RecordBatch, row int) string {
	t.Helper()
	s, _ := str(t, rec, "raw", row)
	obj := map[string]any{}
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	if err := d.Decode(&obj); err != nil {
		t.Fatalf("raw is not a JSON object: %v\n%s", err, s)
	}
	for _, f := range Folds(m) {
		if _, ok := obj[f.Column]; ok {
			continue
		}
		a := col(t, rec, f.Column)
		if a.IsNull(row) {
			continue
		}
		var v any
		switch a := a.(type) {
		case *array.String:
			v = a.Value(row)
		case *array.Int64:
			v = json.Number(strconv.FormatInt(a.Value(row), 10))
		case *array.Int32:
			v = json.Number(strconv.FormatInt(int64(a.Value(row)), 10))
		case *array.Decimal128:
			v = json.Number(appendDecShort(nil, int64(a.Value(row).LowBits())))
		case *array.Timestamp:
			v = time.UnixMicro(int64(a.Value(row))).UTC().Format(time.DateTime)
		default:
			t.Fatalf("folded column %s is %T", f.Column, a)
		}
		if f.Kind == FoldJSON {
			d := json.NewDecoder(bytes.NewReader([]byte(v.(string))))
			d.UseNumber()
			var j any
			if err := d.Decode(&j); err != nil || j == nil {
				t.Fatalf("json column %s holds %q: %v", f.Column, v, err)
			}
			v = j
		}
		if f.Kind == FoldString {
			if _, ok := v.(string); !ok {
				t.Fatalf("folded string column %s holds %T", f.Column, v)
			}
		}
		obj[f.Column] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// canon is a JSON object with its members sorted and its numbers as sent.
func canon(t testing.TB, s string) string {
	t.Helper()
	var obj map[string]any
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	if err := d.Decode(&obj); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, s)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
