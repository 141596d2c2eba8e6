package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/models"
)

// env is an environment as os.Environ lists it.
func env(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func TestExampleLoadsAndValidates(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, env(map[string]string{"AFFISE_API_KEY": "k1234567"}))
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if c.Networks[0].API.Key != "k1234567" || c.Networks[0].API.PageSize != 500 || c.Networks[0].API.RequestsPerSecond != 3 || c.Networks[0].API.Timeout != time.Minute {
		t.Errorf("api = %+v", c.Networks[0].API)
	}
	if got := c.Networks[0].Stream("conversions"); got.Lookback != 6*time.Hour || !got.StartDate.IsZero() || got.Schedule != "@every 15m" {
		t.Errorf("conversions = %+v", got)
	}
	if got := c.Networks[0].Stream("stats_daily"); strings.Join(got.Slices, ",") != "day,offer,partner,country" || got.Lookback != 7*24*time.Hour {
		t.Errorf("stats_daily = %+v", got)
	}
	if len(c.Networks[0].Streams) != len(models.Names()) {
		t.Errorf("%d streams", len(c.Networks[0].Streams))
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
		"K":                                "fromvar-0123",
		"SYNCD_API_TIMEZONE":               "Europe/Berlin",
		"SYNCD_STREAMS_CLICKS_ENABLED":     "false",
		"SYNCD_STREAMS_STATS_DAILY_SLICES": "day, offer",
		"SYNCD_WAREHOUSE_PATH":             "/tmp/x.duckdb",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Networks[0].API.Key != "fromvar-0123" || c.Networks[0].API.Location.String() != "Europe/Berlin" || c.Warehouse.Path != "/tmp/x.duckdb" {
		t.Errorf("api = %+v, warehouse = %+v", c.Networks[0].API, c.Warehouse)
	}
	if c.Networks[0].Stream("clicks").Enabled || c.Networks[0].Stream("clicks").Lookback != 60*time.Hour {
		t.Errorf("clicks = %+v", c.Networks[0].Stream("clicks"))
	}
	if strings.Join(c.Networks[0].Stream("stats_daily").Slices, ",") != "day,offer" {
		t.Errorf("slices = %v", c.Networks[0].Stream("stats_daily").Slices)
	}
	c, err = Parse([]byte(yaml), env(map[string]string{"K": "a", "SYNCD_API_KEY": "override-0123"}))
	if err != nil || c.Networks[0].API.Key != "override-0123" {
		t.Fatalf("SYNCD_API_KEY did not win: %v %v", c, err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	base := "api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\n"
	future := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	cases := []struct{ yaml, want string }{
		{"api:\n  base_url: http://x:1\n", "api.key is missing"},
		{"api: {key: abcd1234}\n", "api.base_url is missing"},
		{base + "  page_size: 900\n", "api.page_size"},
		{base + "  page_sise: 100\n", "unknown key api.page_sise"},
		{base + "  timeout: soon\n", `api.timeout: "soon" is not a duration`},
		{base + "  timezone: Mars/Olympus\n", "api.timezone"},
		{base + "  role: boss\n", "api.role"},
		{base + "  requests_per_second: fast\n", "api.requests_per_second"},
		{base + "warehouse: {kind: oracle}\n", "warehouse.kind"},
		{base + "warehouse: {threads: 0}\n", "warehouse.threads: 0 is not a thread count"},
		{base + "warehouse: {path: s3://bucket/x}\n", "only kind: parquet can live"},
		{base + "warehouse: {kind: parquet, path: s3://B/x}\n", "does not name a bucket"},
		{base + "warehouse: {kind: parquet, path: s3://bucket/x, s3: {region: \"\"}}\n", "warehouse.s3.region is missing"},
		{base + "warehouse: {kind: parquet, path: s3://bucket/x, s3: {endpoint: \"127.0.0.1:7070\"}}\n", "warehouse.s3.endpoint"},
		{base + "warehouse: {kind: parquet, path: s3://bucket/x, s3: {endpoint: \"http://AKIA:hunter2@h:1\"}}\n", "must not hold credentials"},
		{base + "warehouse: {kind: parquet, path: ./lake, s3: {path_style: true}}\n", "applies to s3:// paths only"},
		{base + "warehouse: {kind: parquet, s3: {path_style: maybe}}\n", "warehouse.s3.path_style"},
		{base + "warehouse: {kind: parquet, s3: {bucket: x}}\n", "unknown key warehouse.s3.bucket"},
		{base + "streams:\n  convs: {enabled: true}\n", "streams.convs: no such stream"},
		{base + "streams:\n  clicks: {schedule: \"every hour\"}\n", "streams.clicks.schedule"},
		{base + "streams:\n  clicks: {enabled: maybe}\n", "streams.clicks.enabled"},
		{base + "streams:\n  conversions: {start_date: 2025-13-01}\n", "streams.conversions.start_date"},
		{base + "streams:\n  conversions: {start_date: " + future + "}\n", "is in the future"},
		{base + "streams:\n  conversions: {lookback: -1h}\n", "streams.conversions.lookback"},
		{base + "streams:\n  stats_daily: {slices: [day, planet]}\n", "streams.stats_daily.slices"},
		{base + "streams:\n  clicks: {slices: [day]}\n", "unknown key streams.clicks.slices"},
		{base + "streams:\n  clicks: {settle_window: 10d}\n", "unknown key streams.clicks.settle_window"},
		{base + "streams:\n  stats_daily: {settle_window: 10d}\n", "unknown key streams.stats_daily.settle_window"},
		{base + "streams:\n  conversions: {settle_window: 400d}\n", "streams.conversions.settle_window: 9600h0m0s is outside 0..366 days"},
		{base + "streams:\n  conversions: {slices: [day]}\n", "unknown key streams.conversions.slices"},
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

// A lake's path defaults to a directory, and an S3 lake's settings come
// through (path_style also from SYNCD_WAREHOUSE_S3_PATH_STYLE).
func TestLakeSettings(t *testing.T) {
	base := "api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\n"
	c, err := Parse([]byte(base+"warehouse: {kind: parquet}\n"), env(nil))
	if err != nil || c.Warehouse.Path != "./data/lake" || c.Warehouse.IsS3() {
		t.Fatalf("default lake path %q %v", c.Warehouse.Path, err)
	}
	c, err = Parse([]byte(base+"warehouse:\n  kind: parquet\n  path: s3://my-lake/affise\n  s3: {endpoint: \"http://127.0.0.1:7070\"}\n"),
		env(map[string]string{"SYNCD_WAREHOUSE_S3_PATH_STYLE": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	want := WarehouseS3{Endpoint: "http://127.0.0.1:7070", Region: "us-east-1", PathStyle: true}
	if !c.Warehouse.IsS3() || c.Warehouse.S3 != want {
		t.Errorf("s3 settings %+v, want %+v", c.Warehouse.S3, want)
	}
	// The secret in a rejected endpoint is not repeated.
	_, err = Parse([]byte(base+"warehouse: {kind: parquet, path: s3://bucket/x, s3: {endpoint: \"http://AKIA:hunter2@h:1\"}}\n"), env(nil))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("endpoint with credentials: %v", err)
	}
}

// currency_rates (admin only) is off by default for an affiliate key, so
// an affiliate config written before it existed still loads; named in the
// config it is checked like partners.
func TestAdminDefaultStream(t *testing.T) {
	base := "api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\n  role: affiliate\nstreams:\n  partners: {enabled: false}\n  advertisers: {enabled: false}\n"
	c, err := Parse([]byte(base), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Networks[0].Stream("currency_rates").Enabled {
		t.Error("currency_rates is on for an affiliate key")
	}
	if _, err := Parse([]byte(base+"  currency_rates: {enabled: true}\n"), env(nil)); err == nil || !strings.Contains(err.Error(), "streams.currency_rates") {
		t.Errorf("currency_rates enabled for an affiliate key: %v", err)
	}
	c, err = Parse([]byte("api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\n"), env(nil))
	if err != nil || !c.Networks[0].Stream("currency_rates").Enabled {
		t.Errorf("currency_rates for an admin key: %v", err)
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
	if c.Networks[0].API.Concurrency != 4 || c.Warehouse.Path != "/tmp/w.duckdb" {
		t.Errorf("local load lost settings: %+v %+v", c.Networks[0].API, c.Warehouse)
	}
	if _, err := parse([]byte(yaml), env(nil), false); err == nil {
		t.Error("a full load accepted unset ${KEY}")
	}
}

// TestEnvOverrideReplacesUnsetVariable: an override wins without the
// ${VAR} it replaces having to be set (it used to fail on the unset one).
func TestEnvOverrideReplacesUnsetVariable(t *testing.T) {
	yaml := "api:\n  base_url: http://127.0.0.1:8089\n  key: ${AFFISE_API_KEY}\nwarehouse:\n  path: ${DATA_DIR}/w.duckdb\n"
	c, err := Parse([]byte(yaml), env(map[string]string{"SYNCD_API_KEY": "from-syncd-api-key", "SYNCD_WAREHOUSE_PATH": "/tmp/w.duckdb"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Networks[0].API.Key != "from-syncd-api-key" || c.Warehouse.Path != "/tmp/w.duckdb" {
		t.Errorf("api.key %q, warehouse.path %q", c.Networks[0].API.Key, c.Warehouse.Path)
	}
	// Without the override the unset variable is still an error.
	_, err = Parse([]byte(yaml), env(map[string]string{"SYNCD_API_KEY": "from-syncd-api-key"}))
	if err == nil || !strings.Contains(err.Error(), "${DATA_DIR}") {
		t.Errorf("unset ${DATA_DIR} without an override: %v", err)
	}
}

// TestKeyRules: a key too short to be real, or with a line break or other
// control character, is a config error naming api.key and where it came
// from, never showing the key.
func TestKeyRules(t *testing.T) {
	base := "api:\n  base_url: http://127.0.0.1:1\n"
	cases := []struct {
		yaml    string
		environ map[string]string
		secret  string
		want    []string
	}{
		{base + "  key: zQ7\n", nil, "zQ7", []string{"api.key is 3 characters long", "under 8"}},
		{base + "  key: ${AFFISE_API_KEY}\n", map[string]string{"AFFISE_API_KEY": "Z"}, "", []string{"api.key (from ${AFFISE_API_KEY}) is 1 character long"}},
		{base + "  key: ${AFFISE_API_KEY}\n", map[string]string{"SYNCD_API_KEY": "zQ7"}, "zQ7", []string{"api.key (from SYNCD_API_KEY) is 3 characters long"}},
		{base + "  key: \"secretAA\\nsecretBB\"\n", nil, "secretAA", []string{"api.key contains a line break"}},
		{base + "  key: ${AFFISE_API_KEY}\n", map[string]string{"AFFISE_API_KEY": "secretAAsecretBB\n"}, "secretAA", []string{"api.key (from ${AFFISE_API_KEY}) contains a line break"}},
		{base + "  key: \"secretAA\\tsecretBB\"\n", nil, "secretAA", []string{"api.key contains a control character"}},
		{base + "  key: secretAA secretBB\n", nil, "secretAA", []string{"api.key contains a space"}},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), env(c.environ))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q %v: got %v, want a config error", c.yaml, c.environ, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q %v:\n got  %v\n want %q", c.yaml, c.environ, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") || (c.secret != "" && strings.Contains(err.Error(), c.secret)) {
			t.Errorf("%q: not one line, or shows the key: %q", c.yaml, err)
		}
	}
	// Commands that only read the warehouse do not care about the key.
	if _, err := parse([]byte(base+"  key: zQ7\n"), nil, true); err != nil {
		t.Errorf("local load: %v", err)
	}
}

// TestUnknownEnvOverride: a SYNCD_ variable of a config section that names
// no key is an error like an unknown YAML key, not silently ignored.
func TestUnknownEnvOverride(t *testing.T) {
	yaml := []byte("api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\n")
	for name, want := range map[string][]string{
		"SYNCD_STREAMS_FOO_ENABLED":   {"SYNCD_STREAMS_FOO_ENABLED", `no such stream "foo"`, "conversions, clicks, server_postbacks"},
		"SYNCD_STREAMS_CLICKS_SLICES": {"SYNCD_STREAMS_CLICKS_SLICES", "streams.clicks.slices"},
		"SYNCD_STREAMS_CLICKS_ENABLE": {"SYNCD_STREAMS_CLICKS_ENABLE", "streams.clicks.enable"},
		"SYNCD_API_PAGESIZE":          {"SYNCD_API_PAGESIZE", "api.pagesize"},
		"SYNCD_WAREHOUSE_MEMORY":      {"SYNCD_WAREHOUSE_MEMORY", "warehouse.memory"},
		"SYNCD_HTTP_PORT":             {"SYNCD_HTTP_PORT", "http.port"},
	} {
		for _, local := range []bool{false, true} {
			_, err := parse(yaml, env(map[string]string{name: "false"}), local)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("%s (local %v): got %v, want a config error", name, local, err)
				continue
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s:\n got  %v\n want %q", name, err, w)
				}
			}
		}
	}
	// Variables outside the config sections are not syncd settings.
	if _, err := Parse(yaml, env(map[string]string{"SYNCD_CONFIG": "x.yaml", "SYNCD_CHROMIUM": "/usr/bin/chromium", "SYNCD_STREAMS_CLICKS_ENABLED": "false"})); err != nil {
		t.Errorf("known or unrelated variables refused: %v", err)
	}
}

func TestCheckListen(t *testing.T) {
	for in, ok := range map[string]bool{
		"127.0.0.1:9464": true, "[::1]:9464": true, "localhost:0": true, ":9464": true,
		"nowhere": false, "127.0.0.1:http": false, "127.0.0.1:70000": false, "::1:9464": false,
	} {
		if err := checkListen(in); (err == nil) != ok {
			t.Errorf("checkListen(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

// warehouse.threads defaults to one DuckDB worker (README "Memory") and
// takes another count.
func TestWarehouseThreads(t *testing.T) {
	base := "api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\n"
	for yaml, want := range map[string]int{base: DefaultWarehouseThreads, base + "warehouse: {threads: 4}\n": 4} {
		c, err := Parse([]byte(yaml), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.Warehouse.Threads != want {
			t.Errorf("%q: threads %d, want %d", yaml, c.Warehouse.Threads, want)
		}
	}
	if DefaultWarehouseThreads != 1 {
		t.Errorf("DefaultWarehouseThreads = %d; README and config.example.yaml say 1", DefaultWarehouseThreads)
	}
}
