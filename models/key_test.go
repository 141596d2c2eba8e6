package models

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// AppendNew keys a row by its decoded key columns: the same row however
// Affise spells the key, distinct rows never alike, and a dropped row
// leaves nothing behind.
func TestAppendNewKeys(t *testing.T) {
	stats, err := StatsDaily([]string{"day", "offer", "country"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    Model
		objs []string
		rows int
	}{
		{"an id as number and as string", Offers(), []string{`{"id":12}`, `{"id":"12"}`, `{"id":12.0}`, `{"id":13}`}, 2},
		{"a postback's _id as object and as string", ServerPostbacks(), []string{`{"_id":{"$id":"a1"}}`, `{"_id":"a1"}`, `{"_id":{"$id":"a2"}}`}, 2},
		{"a string key that is a prefix of another", Conversions(), []string{`{"id":"ab"}`, `{"id":"a"}`, `{"id":"abc"}`, `{"id":"a"}`}, 3},
		{"stats rows by day and slices", stats, []string{
			`{"slice":{"year":2025,"month":3,"day":1,"offer":{"id":1},"country":"DE"}}`,
			`{"slice":{"year":"2025","month":"3","day":"1","offer":{"id":"1","title":"x"},"country":"DE"}}`,
			`{"slice":{"year":2025,"month":3,"day":1,"offer":{"id":1},"country":"FR"}}`,
			`{"slice":{"year":2025,"month":3,"day":2,"offer":{"id":1},"country":"DE"}}`,
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.m.NewBuilder(memory.DefaultAllocator, time.UTC, syncedAt)
			defer b.Release()
			seen := map[string]bool{}
			isSeen := func(k []byte) bool {
				ok := seen[string(k)]
				seen[string(k)] = true
				return ok
			}
			added := 0
			for _, o := range tc.objs {
				ok, err := b.AppendNew(json.RawMessage(o), isSeen)
				if err != nil {
					t.Fatalf("%s: %v", o, err)
				}
				if ok {
					added++
				}
			}
			eq(t, "appended", added, tc.rows)
			eq(t, "Len", b.Len(), tc.rows)
			rec := b.NewRecord()
			defer rec.Release()
			for i := 0; i < int(rec.NumCols()); i++ {
				eq(t, rec.ColumnName(i)+" len", rec.Column(i).Len(), tc.rows)
			}
		})
	}
	b := Conversions().NewBuilder(memory.DefaultAllocator, time.UTC, syncedAt)
	defer b.Release()
	called := false
	if _, err := b.AppendNew(json.RawMessage(`{"id":"a","revenue":"bad"}`), func([]byte) bool { called = true; return false }); err == nil || called {
		t.Fatalf("a malformed row: err %v, seen called %v", err, called)
	}
}
