package models

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/syncd/syncd/internal/fixtures"
)

// foldFixtures are the recorded replies of every stream with a fixture:
// the file, its list member and the stream's table.
var foldFixtures = []struct {
	file, list string
	model      func() Model
}{
	{"3.0.stats.conversions@get.json", "conversions", Conversions},
	{"3.0.stats.clicks@get.json", "clicks", Clicks},
	{"3.0.stats.serverpostbacks@get.json", "postbacks", ServerPostbacks},
	{"3.0.stats.affiliatepostbacks@get.json", "postbacks", AffiliatePostbacks},
	{"3.0.offers@get.json", "offers", Offers},
	{"3.0.admin.partners@get.json", "partners", Partners},
	{"3.0.admin.advertisers@get.json", "advertisers", Advertisers},
}

// TestFoldedRawIsLossless: for every object of every fixture, in UTC (where
// times fold too) and in Berlin, raw plus the folded columns give back the
// object as sent less its credentials, member for member, and raw is
// smaller than the object.
func TestFoldedRawIsLossless(t *testing.T) {
	for _, f := range foldFixtures {
		objs := fixtures.AffiseList(t, f.file, f.list)
		for _, loc := range []*time.Location{time.UTC, berlin} {
			m := f.model()
			rec := build(t, m, loc, objs...)
			var before, after int
			for i, o := range objs {
				sc := scanner{data: o, emit: true}
				if err := sc.scanTop(nil); err != nil {
					t.Fatal(err)
				}
				if got, want := whole(t, m, rec, i), canon(t, string(sc.out)); got != want {
					t.Errorf("%s %s row %d: rebuilt object differs:\n got %s\nwant %s", f.file, loc, i, got, want)
				}
				raw, _ := str(t, rec, "raw", i)
				before, after = before+len(sc.out), after+len(raw)
			}
			if len(Folds(m)) > 0 && after >= before {
				t.Errorf("%s %s: raw is %d bytes, the objects %d", f.file, loc, after, before)
			}
			t.Logf("%s %s: raw %d of %d bytes", f.file, loc, after, before)
		}
	}
}

// TestFoldRules: a member leaves raw only when its column gives it back
// exactly; whatever else stays as sent.
func TestFoldRules(t *testing.T) {
	m := Conversions()
	for _, c := range []struct {
		loc      *time.Location
		obj, raw string
	}{
		{time.UTC, `{"id":"a","revenue":12.5,"payouts":12.50,"earnings":"3","offer_id":7,"status":null}`,
			`{"payouts":12.50,"earnings":"3","offer_id":7,"status":null}`},
		{time.UTC, `{"id":123,"goal":"1","currency":false,"revenue":0,"payouts":-0.0001,"earnings":1e2}`,
			`{"id":123,"currency":false,"earnings":1e2}`},
		{time.UTC, `{"id":"a","created_at":"2020-01-02 03:04:05","click_time":"2020-01-02T03:04:05","updated_at":"2020-01-02 03:04:05.5"}`,
			`{"click_time":"2020-01-02T03:04:05","updated_at":"2020-01-02 03:04:05.5"}`},
		{berlin, `{"id":"a","created_at":"2020-01-02 03:04:05"}`, `{"created_at":"2020-01-02 03:04:05"}`},
		{time.UTC, `{"id":"a","city":"x","city":"y","api_key":"k"}`, `{"city":"x","city":"y"}`},
		{time.UTC, `{"id":"a","city":"\ud800"}`, `{"id":"a","city":"\ud800"}`},
	} {
		rec := build(t, m, c.loc, []byte(c.obj))
		raw, _ := str(t, rec, "raw", 0)
		eq(t, c.obj, raw, c.raw)
	}
	eq(t, "shortest decimals", string(appendDecShort(nil, -1234500)), "-123.45")
	eq(t, "shortest decimals", string(appendDecShort(nil, 5)), "0.0005")
	eq(t, "shortest decimals", string(appendDecShort(nil, 70000)), "7")
}

// TestEveryMemberComesBackFromRawOrItsColumn: each top-level member of
// each conversions and clicks fixture object (read in UTC, where all of
// their values fold) is in raw or in the folded column of its name, never
// both and never neither (a null: in raw); and dropping any one
// folded column's values makes the rebuilt object differ (so the lossless
// test above fails when a column's member is lost).
func TestEveryMemberComesBackFromRawOrItsColumn(t *testing.T) {
	for _, f := range foldFixtures[:2] {
		objs := fixtures.AffiseList(t, f.file, f.list)
		m := f.model()
		rec := build(t, m, time.UTC, objs...)
		folded := map[string]bool{}
		for _, fd := range Folds(m) {
			folded[fd.Column] = true
		}
		for i, o := range objs {
			var obj, raw map[string]json.RawMessage
			if err := json.Unmarshal(o, &obj); err != nil {
				t.Fatal(err)
			}
			s, _ := str(t, rec, "raw", i)
			if err := json.Unmarshal([]byte(s), &raw); err != nil {
				t.Fatal(err)
			}
			for name, v := range obj {
				_, inRaw := raw[name]
				inCol := folded[name] && !col(t, rec, name).IsNull(i)
				if string(v) == "null" && !inRaw || string(v) != "null" && inRaw == inCol {
					t.Errorf("%s row %d: member %s = %s in raw %v, in its column %v", f.file, i, name, v, inRaw, inCol)
				}
			}
		}
		for _, fd := range Folds(m) {
			lost := dropColumn(t, rec, fd.Column)
			differs := false
			for i, o := range objs {
				sc := scanner{data: o, emit: true}
				if err := sc.scanTop(nil); err != nil {
					t.Fatal(err)
				}
				if whole(t, m, lost, i) != canon(t, string(sc.out)) {
					differs = true
					break
				}
			}
			lost.Release()
			if !differs && !col(t, rec, fd.Column).IsNull(0) {
				t.Errorf("%s: losing column %s goes unnoticed", f.file, fd.Column)
			}
		}
	}
}

// dropColumn is rec with every value of column name NULL.
func dropColumn(t testing.TB, rec arrow.RecordBatch, name string) arrow.RecordBatch {
	t.Helper()
	cols := slices.Clone(rec.Columns())
	i := rec.Schema().FieldIndices(name)[0]
	cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, cols[i].DataType(), int(rec.NumRows()))
	defer cols[i].Release()
	return array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
}
