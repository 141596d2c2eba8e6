package extract

import (
	"errors"
	"io"
	"testing"

	"github.com/syncd/syncd/internal/fixtures"
)

func TestDecodeFixtures(t *testing.T) {
	for file, want := range map[string]struct {
		list        string
		items       int
		total, next int64
		hasNext     bool
	}{
		"3.0.stats.conversions@get.json":        {"conversions", 100, 2622, 2, true},
		"3.0.stats.clicks@get.json":             {"clicks", 20, 853, 2, true},
		"3.0.offers@get.json":                   {"offers", 1, 176, 2, true},
		"3.0.admin.partners@get.json":           {"partners", 2, 19, 0, false},
		"3.0.admin.advertisers@get.json":        {"advertisers", 1, 183, 2, true},
		"3.0.stats.serverpostbacks@get.json":    {"postbacks", 1, 1, 0, false},
		"3.0.stats.affiliatepostbacks@get.json": {"postbacks", 1, 1, 0, false},
		"3.0.stats.custom@get.json":             {"stats", 1, 1, 0, false},
	} {
		body := fixtures.AffiseFile(t, file)
		r, err := decodePage(body, want.list)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		p := r.pagination
		if r.status != 1 || len(r.items) != want.items || p == nil || p.TotalCount.v != want.total || p.NextPage.set != want.hasNext || p.NextPage.v != want.next {
			t.Errorf("%s: status %d items %d pagination %+v", file, r.status, len(r.items), p)
		}
		for _, it := range r.items {
			key := idKey(it)
			switch want.list {
			case "postbacks":
				key = mongoIDKey(it)
			case "stats":
				key = sliceKey(it)
			}
			if len(key) == 0 {
				t.Errorf("%s: no key in %.80s", file, it)
			}
		}
	}
}

func TestDecodeShapes(t *testing.T) {
	for name, tc := range map[string]struct {
		body      string
		items     int
		status    int
		truncated bool
		bad       bool
	}{
		"list as object": {body: `{"status":1,"rows":{"0":{"id":1},"1":{"id":2}},"pagination":[]}`, items: 2, status: 1},
		"list null":      {body: `{"status":1,"rows":null}`, status: 1},
		"list missing":   {body: `{"status":"1","pagination":{"page":"1","next_page":false}}`, status: 1},
		"status 2":       {body: `{"status":2,"error":"nope"}`, status: 2},
		"truncated":      {body: `{"status":1,"rows":[{"id":1},`, truncated: true},
		"empty":          {body: ``, truncated: true},
		"html":           {body: `<html>502</html>`, bad: true},
		"list a string":  {body: `{"status":1,"rows":"x"}`, bad: true},
	} {
		r, err := decodePage([]byte(tc.body), "rows")
		switch {
		case tc.truncated:
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: err %v, want truncation", name, err)
			}
		case tc.bad:
			if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: err %v", name, err)
			}
		default:
			if err != nil || len(r.items) != tc.items || r.status != tc.status {
				t.Errorf("%s: %v %+v", name, err, r)
			}
		}
	}
	if got := errorText([]byte(`{"status":2,"error":{"field":"date_from"},"message":"Bad request"}`)); got != `{"field":"date_from"}; Bad request` {
		t.Errorf("errorText %q", got)
	}
}

// TestSkimValue: the skim that finds a list's elements must end each value
// exactly where the JSON grammar does, escaped quotes and nesting included,
// and refuse what no parse could accept there.
func TestSkimValue(t *testing.T) {
	for in, want := range map[string]int{
		`{"a":"x\"}"},`:         len(`{"a":"x\"}"}`),
		`"a\\"]`:                len(`"a\\"`),
		`"a\\\"b"`:              len(`"a\\\"b"`),
		`[{"a":[1,{}]},2] 3`:    len(`[{"a":[1,{}]},2]`),
		`-12.5e3,`:              len(`-12.5e3`),
		`true}`:                 len(`true`),
		`{"a":"]"}`:             len(`{"a":"]"}`),
		"[\n {\"a\" : null}\n]": len("[\n {\"a\" : null}\n]"),
	} {
		n, err := skimValue([]byte(in))
		if err != nil || n != want {
			t.Errorf("skimValue(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for in, truncated := range map[string]bool{
		`{"a":1`: true, `"abc`: true, `"a\"`: true, `[[]`: true, ``: true,
		`{"a":1]`: false, `]`: false, `,`: false, `<html>`: false, `{"a":@}`: false,
	} {
		_, err := skimValue([]byte(in))
		if err == nil || errors.Is(err, io.ErrUnexpectedEOF) != truncated {
			t.Errorf("skimValue(%q): err %v, want truncated %v", in, err, truncated)
		}
	}
}
