package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestExampleLoadsAndValidates(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, env(map[string]string{"AFFISE_API_KEY": "k123456"}))
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if c.API.Key != "k123456" || c.API.PageSize != 500 || c.API.RequestsPerSecond != 3 || c.API.Timeout != time.Minute {
		t.Errorf("api = %+v", c.API)
	}
	if got := c.Stream("conversions"); got.Lookback != 6*time.Hour || got.StartDate != time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) || got.Schedule != "@every 15m" {
		t.Errorf("conversions = %+v", got)
	}
	if got := c.Stream("stats_daily"); strings.Join(got.Slices, ",") != "day,offer,partner,country" || got.Lookback != 7*24*time.Hour {
		t.Errorf("stats_daily = %+v", got)
	}
	if len(c.Streams) != 8 {
		t.Errorf("%d streams", len(c.Streams))
	}
	// Every key the loader accepts is documented in the example.
	for _, k := range Keys() {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(string(data), leaf) {
			t.Errorf("config.example.yaml does not document %s", k)
		}
	}
}

func TestEnvironmentOverridesAndExpansion(t *testing.T) {
	yaml := "api:\n  base_url: http://127.0.0.1:8089\n  key: ${K}\nstreams:\n  clicks: {enabled: true, lookback: 2d12h}\n"
	c, err := Parse([]byte(yaml), env(map[string]string{
		"K":                                "fromvar",
		"SYNCD_API_TIMEZONE":               "Europe/Berlin",
		"SYNCD_STREAMS_CLICKS_ENABLED":     "false",
		"SYNCD_STREAMS_STATS_DAILY_SLICES": "day, offer",
		"SYNCD_WAREHOUSE_PATH":             "/tmp/x.duckdb",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.API.Key != "fromvar" || c.API.Location.String() != "Europe/Berlin" || c.Warehouse.Path != "/tmp/x.duckdb" {
		t.Errorf("api = %+v, warehouse = %+v", c.API, c.Warehouse)
	}
	if c.Stream("clicks").Enabled || c.Stream("clicks").Lookback != 60*time.Hour {
		t.Errorf("clicks = %+v", c.Stream("clicks"))
	}
	if strings.Join(c.Stream("stats_daily").Slices, ",") != "day,offer" {
		t.Errorf("slices = %v", c.Stream("stats_daily").Slices)
	}
	c, err = Parse([]byte(yaml), env(map[string]string{"K": "a", "SYNCD_API_KEY": "override"}))
	if err != nil || c.API.Key != "override" {
		t.Fatalf("SYNCD_API_KEY did not win: %v %v", c, err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	base := "api:\n  base_url: http://127.0.0.1:1\n  key: abcd\n"
	future := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	cases := []struct{ yaml, want string }{
		{"api:\n  base_url: http://x:1\n", "api.key is missing"},
		{"api: {key: abcd}\n", "api.base_url is missing"},
		{base + "  page_size: 900\n", "api.page_size"},
		{base + "  page_sise: 100\n", "unknown key api.page_sise"},
		{base + "  timeout: soon\n", `api.timeout: "soon" is not a duration`},
		{base + "  timezone: Mars/Olympus\n", "api.timezone"},
		{base + "  role: boss\n", "api.role"},
		{base + "  requests_per_second: fast\n", "api.requests_per_second"},
		{base + "warehouse: {kind: oracle}\n", "warehouse.kind"},
		{base + "streams:\n  convs: {enabled: true}\n", "streams.convs: no such stream"},
		{base + "streams:\n  clicks: {schedule: \"every hour\"}\n", "streams.clicks.schedule"},
		{base + "streams:\n  clicks: {enabled: maybe}\n", "streams.clicks.enabled"},
		{base + "streams:\n  conversions: {start_date: 2025-13-01}\n", "streams.conversions.start_date"},
		{base + "streams:\n  conversions: {start_date: " + future + "}\n", "is in the future"},
		{base + "streams:\n  conversions: {lookback: -1h}\n", "streams.conversions.lookback"},
		{base + "streams:\n  stats_daily: {slices: [day, planet]}\n", "streams.stats_daily.slices"},
		{base + "streams:\n  clicks: {slices: [day]}\n", "unknown key streams.clicks.slices"},
		{base + "  role: affiliate\n", "streams.partners"},
		{base + "http: {listen: nowhere}\n", "http.listen"},
		{"api:\n  base_url: http://x:1\n  key: ${NOPE}\n", "${NOPE}"},
		{"api: [1, 2\n", "not valid YAML"},
		{base + "  key: [a, b]\n", "api.key: expected a single value"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), env(nil))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q: got %v, want a config error", c.yaml, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q:\n got  %v\n want one line containing %q", c.yaml, err, c.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "6h": 6 * time.Hour, "7d": 168 * time.Hour, "1d6h": 30 * time.Hour, "0": 0} {
		got, err := ParseDuration("k", in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"d", "xd", "7days", "-2h", "1.5d"} {
		if _, err := ParseDuration("k", bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestLocalLoadNeedsNoAPISecrets(t *testing.T) {
	yaml := "api:\n  base_url: ${URL}\n  key: ${KEY}\n  concurrency: 4\nwarehouse: {path: /tmp/w.duckdb}\n"
	c, err := parse([]byte(yaml), env(nil), true)
	if err != nil {
		t.Fatal(err)
	}
	if c.API.Concurrency != 4 || c.Warehouse.Path != "/tmp/w.duckdb" {
		t.Errorf("local load lost settings: %+v %+v", c.API, c.Warehouse)
	}
	if _, err := parse([]byte(yaml), env(nil), false); err == nil {
		t.Error("a full load accepted unset ${KEY}")
	}
}
