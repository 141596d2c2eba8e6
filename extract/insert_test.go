package extract

import (
	"encoding/json"
	"testing"
)

// The members syncd adds to an item (the day of a snapshot, the currency a
// stats window was asked for) leave it valid JSON, first in their object.
func TestInsertMembers(t *testing.T) {
	for _, c := range []struct {
		in, want string
		add      func([]byte) ([]byte, error)
	}{
		{`{}`, `{"date":"2026-12-01"}`, func(b []byte) ([]byte, error) { return withMember(b, "date", "2026-12-01") }},
		{`{"key":"RUB","value":1}`, `{"date":"2026-12-01","key":"RUB","value":1}`, func(b []byte) ([]byte, error) { return withMember(b, "date", "2026-12-01") }},
		{`{"slice":{"day":1},"traffic":{}}`, `{"slice":{"currency":"EUR","day":1},"traffic":{}}`, func(b []byte) ([]byte, error) { return withSliceCurrency(b, "EUR") }},
		{`{"slice" : { }}`, `{"slice" : {"currency":"EUR" }}`, func(b []byte) ([]byte, error) { return withSliceCurrency(b, "EUR") }},
	} {
		got, err := c.add([]byte(c.in))
		if err != nil || string(got) != c.want || !json.Valid(got) {
			t.Errorf("%s: %s (%v), want %s", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`{"traffic":{}}`, `{"slice":3}`} {
		if _, err := withSliceCurrency([]byte(bad), "EUR"); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if _, err := withMember([]byte(`[1]`), "date", "x"); err == nil {
		t.Error("withMember added to an array")
	}
}
