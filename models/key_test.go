package models

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
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
			b := tc.m.NewBuilder(memory.DefaultAllocator, DefaultNetwork, time.UTC, syncedAt)
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
	b := Conversions().NewBuilder(memory.DefaultAllocator, DefaultNetwork, time.UTC, syncedAt)
	defer b.Release()
	called := false
	if _, err := b.AppendNew(json.RawMessage(`{"id":"a","revenue":"bad"}`), func([]byte) bool { called = true; return false }); err == nil || called {
		t.Fatalf("a malformed row: err %v, seen called %v", err, called)
	}
}

// TestNetworkIsStampedAndKeyed: the builder stamps its network on every
// row, whatever the object says, and two networks' rows of one id have
// different keys.
func TestNetworkIsStampedAndKeyed(t *testing.T) {
	syncedAt := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	obj := json.RawMessage(`{"id":"c1","network":"spoofed","status":"confirmed","created_at":"2025-01-01 10:00:00","updated_at":"2025-01-01 10:00:00"}`)
	keyOf := func(network string) string {
		b := Conversions().NewBuilder(memory.DefaultAllocator, network, time.UTC, syncedAt)
		defer b.Release()
		var key string
		if _, err := b.AppendNew(obj, func(k []byte) bool { key = string(k); return false }); err != nil {
			t.Fatal(err)
		}
		rec := b.NewRecord()
		defer rec.Release()
		if got := rec.Column(0).(*array.String).Value(0); got != network {
			t.Errorf("network column = %q, want %q", got, network)
		}
		return key
	}
	if keyOf("alpha") == keyOf("beta") {
		t.Error("rows of one id in two networks have equal keys")
	}
	for _, bad := range []string{"", "Alpha", "a b", "-a", "_a", "a/b", "a'b", strings.Repeat("a", 41)} {
		if ValidNetworkName(bad) {
			t.Errorf("ValidNetworkName(%q) = true", bad)
		}
	}
	for _, good := range []string{"default", "a", "net-1", "eu_west", "9"} {
		if !ValidNetworkName(good) {
			t.Errorf("ValidNetworkName(%q) = false", good)
		}
	}
}
