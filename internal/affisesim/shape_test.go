package affisesim

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/fixtures"
)

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64, json.Number:
		return "number" // JSON has one number type; int/float drift (4 vs 1352.52) is the same type
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

// shapeDrift lists, per fixture, the paths where the simulator's JSON type
// may differ from the fixture's, and why. Everything else must match.
var shapeDrift = map[string]map[string]string{
	"3.0.stats.conversions@get.json": {
		"hold_date_expire":   "null, or the hold's expiry date (string) for hold conversions of offers with a hold period",
		"offer.external_id":  "Affise quirk: false or a string",
		"partner.manager":    "null for a partner without a manager (partner 1), as /admin/partners shows",
		"partner.manager_id": "null for a partner without a manager",
	},
	"3.0.stats.clicks@get.json": {
		"offer.external_id":  "Affise quirk: false or a string",
		"partner.manager":    "null for a partner without a manager",
		"partner.manager_id": "null for a partner without a manager",
	},
	"3.0.admin.partners@get.json": {
		"country": "null in the fixture's partner 1; the sim gives every partner a country string (type seen on partner 2)",
	},
	"3.0.admin.advertisers@get.json": {
		"updated_at": "null in the fixture (old record); the sim has timestamps (string)",
		"created_at": "null in the fixture (old record); the sim has timestamps (string)",
	},
}

// compareShape walks fixture value f recursively and reports keys missing
// in sim value g and JSON type mismatches not in drift.
func compareShape(path string, f, g any, drift map[string]string, errs *[]string, extra *[]string) {
	ft, gt := jsonType(f), jsonType(g)
	if ft != gt {
		if _, ok := drift[path]; ok {
			return
		}
		*errs = append(*errs, path+": fixture "+ft+", sim "+gt)
		return
	}
	switch fv := f.(type) {
	case map[string]any:
		gv := g.(map[string]any)
		for k, x := range fv {
			p := strings.TrimPrefix(path+"."+k, ".")
			y, ok := gv[k]
			if !ok {
				if _, ok := drift[p]; ok {
					continue
				}
				*errs = append(*errs, p+": missing in sim")
				continue
			}
			compareShape(p, x, y, drift, errs, extra)
		}
		for k := range gv {
			if _, ok := fv[k]; !ok {
				*extra = append(*extra, strings.TrimPrefix(path+"."+k, "."))
			}
		}
	case []any:
		gv := g.([]any)
		if len(fv) > 0 && len(gv) > 0 {
			compareShape(path+"[]", fv[0], gv[0], drift, errs, extra)
		}
	}
}

func TestFixtureShapes(t *testing.T) {
	s, _ := newSim(t, nil)
	d := "date_from=2025-03-01&date_to=2025-03-15"
	cases := []struct {
		file, target, list string
		pick               func(rows []map[string]any) map[string]any
	}{
		{"3.0.stats.conversions@get.json", "/3.0/stats/conversions?" + d, "conversions", nil},
		{"3.0.stats.clicks@get.json", "/3.0/stats/clicks?date_from=2025-03-14&date_to=2025-03-15", "clicks", nil},
		{"3.0.stats.serverpostbacks@get.json", "/3.0/stats/serverpostbacks?" + d, "postbacks", nil},
		{"3.0.stats.affiliatepostbacks@get.json", "/3.0/stats/affiliatepostbacks?" + d, "postbacks", nil},
		{"3.0.stats.custom@get.json", "/3.0/stats/custom?slice[]=day&filter[date_from]=2025-03-01&filter[date_to]=2025-03-15", "stats", nil},
		{"3.0.offers@get.json", "/3.0/offers?", "offers", nil},
		{"3.0.admin.partners@get.json", "/3.0/admin/partners?", "partners", nil},
		{"3.0.admin.advertisers@get.json", "/3.0/admin/advertisers?", "advertisers", nil},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			raw := fixtures.AffiseFile(t, c.file)
			var fix map[string]any
			if err := json.Unmarshal(raw, &fix); err != nil {
				t.Fatal(err)
			}
			r := get(t, s, c.target)
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, trunc(r.raw))
			}
			// Envelope: every fixture top-level key, same types; statusCode always.
			var errs, extra []string
			for k, v := range fix {
				if k == c.list {
					continue
				}
				if k == "pagination" {
					// next_page is absent on a last page: compare only keys both have.
					fp, gp := v.(map[string]any), r.body[k].(map[string]any)
					for pk, pv := range fp {
						if pk == "next_page" {
							continue
						}
						compareShape("pagination."+pk, pv, gp[pk], nil, &errs, &extra)
					}
					continue
				}
				compareShape(k, v, r.body[k], nil, &errs, &extra)
			}
			if r.body["statusCode"] != float64(200) {
				t.Errorf("statusCode = %v", r.body["statusCode"])
			}
			flist := fix[c.list].([]any)
			glist, _ := r.body[c.list].([]any)
			if len(flist) == 0 || len(glist) == 0 {
				t.Fatalf("empty list: fixture %d sim %d", len(flist), len(glist))
			}
			// Compare the fixture's elements (all of them: they vary) with sim elements.
			drift := shapeDrift[c.file]
			for i, fe := range flist {
				ge := glist[i%len(glist)]
				if c.file == "3.0.admin.partners@get.json" {
					ge = glist[i] // partner 1 has no manager in both
				}
				compareShape("", fe, ge, drift, &errs, &extra)
			}
			for _, e := range uniq(errs) {
				t.Errorf("shape: %s", e)
			}
			if len(extra) > 0 {
				t.Logf("sim-only keys (allowed): %s", strings.Join(uniq(extra), ", "))
			}
		})
	}
}

func uniq(a []string) []string {
	m := map[string]bool{}
	var out []string
	for _, x := range a {
		if !m[x] {
			m[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// The documented type quirks hold in the sim's data.
func TestTypeQuirks(t *testing.T) {
	s, _ := newSim(t, nil)
	rows := walkAll(t, s, "/3.0/stats/conversions?date_from=2025-02-01&date_to=2025-03-15", "conversions", 500)
	ints, floats, extFalse, extStr := 0, 0, 0, 0
	for _, r := range rows {
		if _, ok := r["offer_id"].(float64); !ok {
			t.Fatal("offer_id not a number")
		}
		if _, ok := r["goal_value"].(string); !ok {
			t.Fatal("goal_value not a string")
		}
		if r["external_id"] != nil {
			t.Fatal("conversion has external_id")
		}
		switch x := r["offer"].(map[string]any)["external_id"]; x.(type) {
		case bool:
			if x != false {
				t.Fatal("offer.external_id true")
			}
			extFalse++
		case string:
			extStr++
		default:
			t.Fatalf("offer.external_id %v", x)
		}
		if r["district"] != nil {
			t.Fatal("district not null")
		}
		if _, ok := r["updated_at"].(string); !ok {
			t.Fatal("no updated_at")
		}
		rev := r["revenue"].(float64)
		if rev == float64(int64(rev)) {
			ints++
		} else {
			floats++
		}
		for _, k := range []string{"revenue", "payouts", "earnings", "sum"} {
			v := r[k].(float64) * 100
			if d := v - float64(int64(v+0.5)); d > 1e-6 || d < -1e-6 {
				t.Fatalf("%s = %v has more than 2 decimals", k, r[k])
			}
		}
	}
	if extFalse == 0 || extStr == 0 {
		t.Errorf("offer.external_id should be false or a string: %d false, %d strings", extFalse, extStr)
	}
	if ints == 0 || floats == 0 {
		t.Errorf("money should drift between int and float: %d ints, %d floats", ints, floats)
	}
	pb, _ := mustList(t, s, "/3.0/stats/serverpostbacks?date_from=2025-03-10&date_to=2025-03-10", "postbacks")
	id := pb[0]["_id"].(map[string]any)["$id"].(string)
	if len(id) != 24 {
		t.Errorf("postback id %q", id)
	}
	if _, ok := pb[0]["get"].(string); !ok {
		t.Error("server postback get is not a JSON string")
	}
	var g map[string]any
	if err := json.Unmarshal([]byte(pb[0]["get"].(string)), &g); err != nil {
		t.Errorf("server postback get is not JSON: %v", err)
	}
}
