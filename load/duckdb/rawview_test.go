package duckdb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/internal/fixtures"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// rawFixtures are the recorded replies of the streams whose raw folds.
var rawFixtures = []struct {
	file, list string
	model      func() models.Model
}{
	{"3.0.stats.conversions@get.json", "conversions", models.Conversions},
	{"3.0.stats.clicks@get.json", "clicks", models.Clicks},
	{"3.0.stats.serverpostbacks@get.json", "postbacks", models.ServerPostbacks},
	{"3.0.stats.affiliatepostbacks@get.json", "postbacks", models.AffiliatePostbacks},
	{"3.0.offers@get.json", "offers", models.Offers},
	{"3.0.admin.partners@get.json", "partners", models.Partners},
	{"3.0.admin.advertisers@get.json", "advertisers", models.Advertisers},
}

// TestRawViewRebuildsEveryFixtureObject: every object of every fixture,
// loaded into a warehouse, comes back whole from <table>_raw: member for
// member equal to the object as sent less its credentials. Numbers compare
// by value (DuckDB writes a folded DECIMAL as its shortest decimal); the
// order of members is not kept.
func TestRawViewRebuildsEveryFixtureObject(t *testing.T) {
	s, _ := openTest(t)
	for _, f := range rawFixtures {
		m := f.model()
		objs := fixtures.AffiseList(t, f.file, f.list)
		b := m.NewBuilder(memory.NewGoAllocator(), models.DefaultNetwork, time.UTC, time.Now())
		want := map[string][]byte{}
		for _, o := range objs {
			appended, err := b.AppendNew(o, func(k []byte) bool { _, dup := want[string(k)]; return dup })
			if err != nil {
				t.Fatal(err)
			}
			if appended {
				clean, err := models.Sanitize(o)
				if err != nil {
					t.Fatal(err)
				}
				want[fmt.Sprint(len(want))] = clean
			}
		}
		rec := b.NewRecord()
		tx, err := s.Begin(bg, load.Target{Model: m, Mode: models.Upsert})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Write(bg, rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
		if _, err := tx.Commit(bg, nil); err != nil {
			t.Fatal(err)
		}
		name, _, ok := RawView(m)
		if !ok {
			t.Logf("%s folds nothing", m.Table())
			continue
		}
		got := rawStrings(t, s, fmt.Sprintf("SELECT raw FROM %s", quoteIdent(name)))
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", name, len(got), len(want))
		}
		// Match rows to objects by equality: keys may repeat in a
		// fixture's text but not in the table.
		left := map[string]bool{}
		for k := range want {
			left[k] = true
		}
	rows:
		for _, g := range got {
			for k := range left {
				if jsonEqual(t, []byte(g), want[k]) {
					delete(left, k)
					continue rows
				}
			}
			t.Errorf("%s: no fixture object equals the rebuilt %s", name, g)
		}
		var whole, raw int
		if err := s.db.QueryRow(fmt.Sprintf("SELECT (SELECT sum(length(raw)) FROM %s), (SELECT sum(length(raw)) FROM %s)",
			quoteIdent(name), quoteIdent(m.Table()))).Scan(&whole, &raw); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: raw %d characters, whole objects %d", m.Table(), raw, whole)
	}
}

// jsonEqual compares two JSON values member for member, numbers by value.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	return reflect.DeepEqual(numbersByValue(t, a), numbersByValue(t, b))
}

func numbersByValue(t testing.TB, data []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, data)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				v[k] = walk(e)
			}
		case []any:
			for i, e := range v {
				v[i] = walk(e)
			}
		case json.Number:
			r, ok := new(big.Rat).SetString(string(v))
			if !ok {
				t.Fatalf("number %s", v)
			}
			return r.RatString()
		}
		return v
	}
	return walk(v)
}

// rawStrings is the one VARCHAR column of q's rows, as stored.
func rawStrings(t testing.TB, s *Sink, q string) []string {
	t.Helper()
	rows, err := s.db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
