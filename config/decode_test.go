package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const minimal = "api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\n"

// TestEnvValuesKeepTheirBytes: values from SYNCD_* and ${VAR} pass through
// the re-encoding for yaml's known-field check exactly as given, even ones
// YAML would read as something else.
func TestEnvValuesKeepTheirBytes(t *testing.T) {
	for _, v := range []string{"null", "~", "true", "0123", "a: b # c", "- x", "x\ny\n", " padded ", `"q"`, "'s'", "tab\there", "ü/ß.duckdb"} {
		for what, environ := range map[string]map[string]string{
			"SYNCD_WAREHOUSE_PATH": {"SYNCD_WAREHOUSE_PATH": v},
			"${P}":                 {"P": v},
		} {
			c, err := Parse([]byte(minimal+"warehouse: {path: \"${P}\"}\n"), env(environ))
			if err != nil {
				t.Errorf("%s=%q: %v", what, v, err)
			} else if c.Warehouse.Path != v {
				t.Errorf("%s=%q: path %q", what, v, c.Warehouse.Path)
			}
		}
	}
}

// TestValuesReadAsText: a quoted number, a ${VAR} and an override parse as
// the same text would written plainly.
func TestValuesReadAsText(t *testing.T) {
	c, err := Parse([]byte(minimal+"  page_size: \"100\"\n  concurrency: ${C}\nstreams:\n  clicks: {enabled: \"false\"}\n  stats_daily: {slices: \"day, offer\"}\n"),
		env(map[string]string{"C": "7", "SYNCD_API_REQUESTS_PER_SECOND": "2.5", "SYNCD_STREAMS_OFFERS_ENABLED": "0", "SYNCD_STREAMS_CONVERSIONS_LOOKBACK": "1d2h"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Networks[0].API.PageSize != 100 || c.Networks[0].API.Concurrency != 7 || c.Networks[0].API.RequestsPerSecond != 2.5 {
		t.Errorf("api = %+v", c.Networks[0].API)
	}
	if c.Networks[0].Stream("clicks").Enabled || c.Networks[0].Stream("offers").Enabled || c.Networks[0].Stream("conversions").Lookback != 26*time.Hour {
		t.Errorf("clicks %+v, offers %+v, conversions %+v", c.Networks[0].Stream("clicks"), c.Networks[0].Stream("offers"), c.Networks[0].Stream("conversions"))
	}
	if strings.Join(c.Networks[0].Stream("stats_daily").Slices, ",") != "day,offer" {
		t.Errorf("slices = %v", c.Networks[0].Stream("stats_daily").Slices)
	}
}

// TestRepeatsAndAnchors: a key written twice reads last-wins and a section
// written twice merges, as they always have; an anchor's copies are
// separate keys, so an override changes only the one it names.
func TestRepeatsAndAnchors(t *testing.T) {
	yaml := minimal + "  page_size: 10\n  page_size: 20\napi:\n  concurrency: 5\n" +
		"streams:\n  offers: &hourly {schedule: \"@every 1h\"}\n  partners: *hourly\n  advertisers:\n    <<: *hourly\n    enabled: false\n"
	c, err := Parse([]byte(yaml), env(map[string]string{"SYNCD_STREAMS_PARTNERS_SCHEDULE": "@every 2h"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Networks[0].API.PageSize != 20 || c.Networks[0].API.Concurrency != 5 || c.Networks[0].API.Key != "abcd1234" {
		t.Errorf("api = %+v", c.Networks[0].API)
	}
	if o, p, a := c.Networks[0].Stream("offers"), c.Networks[0].Stream("partners"), c.Networks[0].Stream("advertisers"); o.Schedule != "@every 1h" || p.Schedule != "@every 2h" || a.Schedule != "@every 1h" || a.Enabled {
		t.Errorf("offers %+v, partners %+v, advertisers %+v", o, p, a)
	}
}

// TestShapeErrorsNameTheKey: a value of the wrong shape is one line naming
// its key, wherever it sits.
func TestShapeErrorsNameTheKey(t *testing.T) {
	for yaml, want := range map[string]string{
		"api: [1, 2]\n":                                                          "api: expected a mapping",
		minimal + "  key: {a: b}\n":                                              "api.key: expected a single value, got a mapping",
		minimal + "  role:\n    - admin\n":                                       "api.role: expected a single value, got a list",
		minimal + "streams: [clicks]\n":                                          "streams: expected a mapping",
		minimal + "streams:\n  clicks: false\n":                                  "streams.clicks: expected a mapping",
		minimal + "streams:\n  stats_daily: {slices: [day, [offer]]}\n":          "streams.stats_daily.slices: expected a list of plain values",
		minimal + "streams:\n  offers: {schedule: \"@every 1h\", lookbak: 1h}\n": "unknown key streams.offers.lookbak",
		minimal + "  page_size: many\n  bogus: 1\n":                              "unknown key api.bogus",
		minimal + "warehouse:\n  kind: duckdb\n  memory_limit: [1GB]\n":          "warehouse.memory_limit: expected a single value, got a list",
		"- api\n": "expected a mapping at the top level",
	} {
		_, err := Parse([]byte(yaml), env(nil))
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q:\n got  %v\n want one config error line containing %q", yaml, err, want)
		}
	}
}

// TestEveryKeyDecodes: Keys and the decoding agree: each key listed is
// accepted where syncd.yaml writes it.
func TestEveryKeyDecodes(t *testing.T) {
	for _, k := range Keys() {
		parts := strings.Split(k, ".")
		var b strings.Builder
		for i, p := range parts {
			b.WriteString(strings.Repeat("  ", i) + p + ":")
			if i < len(parts)-1 {
				b.WriteString("\n")
			}
		}
		b.WriteString(" x\n")
		_, err := Parse([]byte(b.String()), env(nil))
		if err != nil && strings.Contains(err.Error(), "unknown key") {
			t.Errorf("%s: %v", k, err)
		}
	}
}
