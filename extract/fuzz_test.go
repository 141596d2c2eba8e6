package extract

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/internal/fixtures"
	"github.com/syncd/syncd/models"
)

// pageShapes are the list endpoints a stream reads: the fixture holding a
// real reply, the list member and the model its elements feed.
var pageShapes = []struct {
	fixture, list string
	model         func() models.Model
}{
	{"3.0.stats.conversions@get.json", "conversions", models.Conversions},
	{"3.0.stats.clicks@get.json", "clicks", models.Clicks},
	{"3.0.stats.serverpostbacks@get.json", "postbacks", models.ServerPostbacks},
	{"3.0.stats.affiliatepostbacks@get.json", "postbacks", models.AffiliatePostbacks},
	{"3.0.stats.custom@get.json", "stats", func() models.Model {
		m, err := models.StatsDaily([]string{"day", "offer", "partner", "advertiser", "manager", "country", "os", "goal", "sub1"})
		if err != nil {
			panic(err)
		}
		return m
	}},
	{"3.0.offers@get.json", "offers", models.Offers},
	{"3.0.admin.partners@get.json", "partners", models.Partners},
	{"3.0.admin.advertisers@get.json", "advertisers", models.Advertisers},
}

// pageSeeds are hand-written hostile envelopes and rows (the list member is
// "LIST", replaced by each shape's list key when seeding).
var pageSeeds = []string{
	``, ` `, `null`, `[]`, `"x"`, `{`, `}`, `{}`, `{"status":1}`, `{"status":1}{"status":1}`, `{"status":1} trailing`,
	`<html><body>502 Bad Gateway</body></html>`,
	`{"status":2,"error":"Internal error"}`,
	`{"status":"1","LIST":[],"pagination":[]}`,
	`{"status":1,"LIST":{},"pagination":"x"}`,
	`{"status":1,"LIST":"x"}`, `{"status":1,"LIST":7}`, `{"status":1,"LIST":null}`,
	`{"status":1,"LIST":{"0":{"id":"a"},"1":{"id":"b"}}}`,
	`{"status":1,"LIST":[{"id":"a"},{"id":`,
	`{"status":1,"LIST":[1,"x",null,true,[],{}]}`,
	`{"status":1,"LIST":[{"id":"a","_id":{"$id":"a"},"slice":{"year":2025,"month":2,"day":29}}]}`,
	`{"status":1,"LIST":[{"id":1e400,"offer_id":99999999999999999999,"revenue":-1e30,"created_at":"9999-99-99 99:99:99"}]}`,
	`{"status":1,"LIST":[{"id":"a","date":{"sec":-9223372036854775808,"usec":1e20}}]}`,
	`{"status":1,"pagination":{"per_page":"x","total_count":1e30,"page":-1,"next_page":99999999999999999999}}`,
	`{"status":1,"pagination":{"total_count":{}}}`,
	`{"status":1,"LIST":[{"id":"\ud800","city":"\xff\xfe"}]}`,
	`{"status":1,"LIST":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
}

func readFixture(tb testing.TB, file string) ([]byte, bool) {
	data, err := os.ReadFile(filepath.Join(fixtures.AffiseResponses(), file))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			tb.Fatal(err)
		}
		return nil, false
	}
	return data, true
}

// TestFixturesReachable fails loudly when the fixtures move, so the fuzz
// seeds and the decode tests never silently shrink to nothing in CI.
func TestFixturesReachable(t *testing.T) {
	for _, s := range pageShapes {
		if _, ok := readFixture(t, s.fixture); !ok {
			if os.Getenv("CI") != "" {
				t.Fatalf("fixture %s not found under %s", s.fixture, fixtures.AffiseResponses())
			}
			t.Skipf("fixtures not found under %s", fixtures.AffiseResponses())
		}
	}
}

// FuzzDecodePage feeds arbitrary bodies to the page decoder of every list
// endpoint and every element it returns to the stream's real record
// builder: neither may panic; a body the decoder accepts whose elements the
// builder all accepts is valid JSON (the decoder only skims the list, the
// builder parses each element strictly), and so is every accepted element;
// a rejected element is a clear error and leaves the builder consistent
// (the record has exactly the accepted rows).
func FuzzDecodePage(f *testing.F) {
	for i, s := range pageShapes {
		if data, ok := readFixture(f, s.fixture); ok {
			f.Add(trimList(f, data, s.list, 3), uint8(i))
		}
		for _, seed := range pageSeeds {
			f.Add([]byte(strings.ReplaceAll(seed, "LIST", s.list)), uint8(i))
		}
	}
	built := make([]models.Model, len(pageShapes))
	for i, s := range pageShapes {
		built[i] = s.model()
	}
	loc := time.FixedZone("UTC+3", 3*3600)
	synced := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		i := int(which) % len(pageShapes)
		s := pageShapes[i]
		r, err := decodePage(body, s.list)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
		b := built[i].NewBuilder(mem, models.DefaultNetwork, loc, synced)
		ok := 0
		for _, it := range r.items {
			if err := b.Append(it); err != nil {
				if err.Error() == "" {
					t.Fatal("empty error text")
				}
				continue
			}
			if !json.Valid(it) {
				t.Fatalf("builder accepted an element that is not valid JSON: %q", it)
			}
			ok++
		}
		if ok == len(r.items) && !json.Valid(body) {
			t.Fatalf("decoder and builder accepted invalid JSON %q", body)
		}
		if b.Len() != ok {
			t.Fatalf("builder has %d rows, %d appended", b.Len(), ok)
		}
		rec := b.NewRecord()
		if int(rec.NumRows()) != ok || !rec.Schema().Equal(built[i].Schema()) {
			t.Fatalf("record has %d rows, want %d", rec.NumRows(), ok)
		}
		for c := 0; c < int(rec.NumCols()); c++ {
			if rec.Column(c).Len() != ok {
				t.Fatalf("column %s has %d rows, want %d", rec.ColumnName(c), rec.Column(c).Len(), ok)
			}
		}
		rec.Release()
		b.Release()
		mem.AssertSize(t, 0)
	})
}

// trimList keeps the first n elements of a fixture's list: the real shapes,
// small enough for the fuzzer to mutate and minimize quickly (the whole
// conversions fixture is 270 KB).
func trimList(tb testing.TB, data []byte, list string, n int) []byte {
	var page map[string]json.RawMessage
	if err := json.Unmarshal(data, &page); err != nil {
		tb.Fatal(err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(page[list], &items); err != nil {
		tb.Fatal(err)
	}
	if len(items) > n {
		items = items[:n]
	}
	b, err := json.Marshal(items)
	if err != nil {
		tb.Fatal(err)
	}
	page[list] = b
	out, err := json.Marshal(page)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
