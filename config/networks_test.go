package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/models"
)

// twoNetworks is the README's two-network config: shared api defaults and
// streams, each network's own api and stream overrides on top.
const twoNetworks = `api:
  page_size: 200
  concurrency: 5
networks:
  - name: alpha
    api: {base_url: "https://api-alpha.affise.com", key: "${ALPHA_KEY}", timezone: Europe/Berlin}
    streams: {clicks: {enabled: false}}
  - name: beta
    api: {base_url: "https://api-beta.affise.com", key: "${BETA_KEY}", role: affiliate, requests_per_second: 2, page_size: 100}
    streams:
      partners: {enabled: false}
      advertisers: {enabled: false}
      conversions: {lookback: 2h}
streams:
  conversions: {schedule: "@every 10m"}
`

var twoKeys = map[string]string{"ALPHA_KEY": "alpha-key-0123", "BETA_KEY": "beta-key-4567"}

func TestSingleAPIIsTheDefaultNetwork(t *testing.T) {
	c, err := Parse([]byte(minimal), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Networks) != 1 || c.Networks[0].Name != models.DefaultNetwork || c.Several() {
		t.Fatalf("networks %v, several %v", c.NetworkNames(), c.Several())
	}
	if n := c.Network("default"); n == nil || n.API.Key != "abcd1234" || n.Stream("conversions") == nil || c.Network("alpha") != nil {
		t.Errorf("Network(default) = %+v", n)
	}
	// Defaults and environment only, no file: one default network too.
	c, err = Parse(nil, env(map[string]string{"SYNCD_API_BASE_URL": "http://127.0.0.1:1", "SYNCD_API_KEY": "abcd1234"}))
	if err != nil || len(c.Networks) != 1 || c.Networks[0].Name != "default" {
		t.Fatalf("environment only: %v %v", c, err)
	}
}

func TestNetworksOverrideTheSharedSettings(t *testing.T) {
	c, err := Parse([]byte(twoNetworks), env(twoKeys))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.NetworkNames(), ","); got != "alpha,beta" || !c.Several() {
		t.Fatalf("networks %s", got)
	}
	a, b := c.Network("alpha"), c.Network("beta")
	if a.API.BaseURL != "https://api-alpha.affise.com" || a.API.Key != "alpha-key-0123" || a.API.Location.String() != "Europe/Berlin" ||
		a.API.PageSize != 200 || a.API.Concurrency != 5 || a.API.RequestsPerSecond != 3 || a.API.Role != "admin" {
		t.Errorf("alpha api = %+v", a.API)
	}
	if b.API.Key != "beta-key-4567" || b.API.Timezone != "UTC" || b.API.PageSize != 100 || b.API.Concurrency != 5 ||
		b.API.RequestsPerSecond != 2 || b.API.Role != "affiliate" || b.API.Timeout != time.Minute {
		t.Errorf("beta api = %+v", b.API)
	}
	// Shared streams for both, each network's own on top.
	if s := a.Stream("clicks"); s.Enabled {
		t.Errorf("alpha clicks enabled")
	}
	if s := b.Stream("clicks"); !s.Enabled {
		t.Errorf("beta clicks disabled")
	}
	if s := a.Stream("conversions"); s.Schedule != "@every 10m" || s.Lookback != 6*time.Hour {
		t.Errorf("alpha conversions = %+v", s)
	}
	if s := b.Stream("conversions"); s.Schedule != "@every 10m" || s.Lookback != 2*time.Hour {
		t.Errorf("beta conversions = %+v", s)
	}
	// currency_rates is admin-only: on by default for alpha, off for beta.
	if !a.Stream("currency_rates").Enabled || b.Stream("currency_rates").Enabled {
		t.Errorf("currency_rates: alpha %v, beta %v", a.Stream("currency_rates").Enabled, b.Stream("currency_rates").Enabled)
	}
	// A stream's settings are the network's own: changing one leaves the other.
	a.Stream("stats_daily").Slices[0] = "x"
	if b.Stream("stats_daily").Slices[0] != "day" {
		t.Error("networks share a stream's slices")
	}
}

func TestNetworkEnvironmentOverrides(t *testing.T) {
	yaml := `networks:
  - name: eu-west
    api: {base_url: "http://127.0.0.1:1", key: "${EU_KEY}"}
  - name: us
    api: {base_url: "http://127.0.0.1:2", key: file-key-0123}
`
	c, err := Parse([]byte(yaml), env(map[string]string{
		"SYNCD_NETWORKS_EU_WEST_API_KEY":       "env-key-0123",
		"SYNCD_NETWORKS_US_API_PAGE_SIZE":      "50",
		"SYNCD_API_REQUESTS_PER_SECOND":        "7",
		"SYNCD_NETWORKS_EU_WEST_API_TIMEZONE":  "Asia/Tokyo",
		"SYNCD_STREAMS_CONVERSIONS_LOOKBACK":   "1h",
		"SYNCD_NETWORKS_US_API_MAX_RETRIES":    "2",
		"SYNCD_NETWORKS_EU_WEST_API_BASE_URL":  "http://127.0.0.1:3",
		"SYNCD_NETWORKS_US_API_ROLE":           "admin",
		"SYNCD_NETWORKS_US_API_CONCURRENCY":    "9",
		"SYNCD_NETWORKS_EU_WEST_API_PAGE_SIZE": "10",
	}))
	if err != nil {
		t.Fatal(err)
	}
	eu, us := c.Network("eu-west"), c.Network("us")
	// The override wins, and the ${EU_KEY} it replaces need not be set.
	if eu.API.Key != "env-key-0123" || eu.API.Timezone != "Asia/Tokyo" || eu.API.BaseURL != "http://127.0.0.1:3" || eu.API.PageSize != 10 || eu.API.RequestsPerSecond != 7 {
		t.Errorf("eu-west api = %+v", eu.API)
	}
	if us.API.Key != "file-key-0123" || us.API.PageSize != 50 || us.API.MaxRetries != 2 || us.API.Concurrency != 9 || us.API.RequestsPerSecond != 7 {
		t.Errorf("us api = %+v", us.API)
	}
	if eu.Stream("conversions").Lookback != time.Hour || us.Stream("conversions").Lookback != time.Hour {
		t.Error("SYNCD_STREAMS_* did not reach every network")
	}
}

func TestNetworkErrorsNameTheKey(t *testing.T) {
	net := func(name, extra string) string {
		return "  - name: " + name + "\n    api: {base_url: \"http://127.0.0.1:1\", key: abcd1234" + extra + "}\n"
	}
	two := "networks:\n" + net("alpha", "") + net("beta", "")
	cases := []struct {
		yaml    string
		environ map[string]string
		want    string
	}{
		{"networks:\n" + net("alpha", "") + net("Beta", ""), nil, `networks[1].name "Beta": use lowercase a-z, 0-9, '_' and '-'`},
		{"networks:\n" + net("alpha", "") + net("alpha", ""), nil, `networks: "alpha" given twice`},
		{"networks:\n" + net("a-b", "") + net("a_b", ""), nil, `networks: "a-b" and "a_b" share the environment prefix SYNCD_NETWORKS_A_B_`},
		{"networks:\n" + net("_x", ""), nil, `networks[0].name "_x"`},
		{"networks:\n" + net(strings.Repeat("n", 41), ""), nil, `networks[0].name`},
		{"networks:\n  - api: {base_url: \"http://127.0.0.1:1\", key: abcd1234}\n", nil, "networks[0].name is missing"},
		{"networks: []\n", nil, "networks: the list is empty"},
		{"networks:\n", nil, "networks: the list is empty"},
		{"networks:\n  - name: alpha\n    colour: red\n", nil, "unknown key networks[0].colour"},
		{"networks: {alpha: {}}\n", nil, "networks: expected"},
		{two[:len(two)-2] + ", page_sise: 9}\n", nil, "unknown key networks[1].api.page_sise"},
		{two[:len(two)-2] + ", page_size: 900}\n", nil, "networks[1].api.page_size: 900 is outside 1..500"},
		{"api: {page_size: 900}\n" + two, nil, "api.page_size: 900 is outside 1..500"},
		{two[:len(two)-2] + ", timezone: Mars/Olympus}\n", nil, "networks[1].api.timezone"},
		{two[:len(two)-2] + ", page_size: lots}\n", nil, `networks[1].api.page_size: "lots" is not a whole number`},
		{"networks:\n" + net("alpha", "") + "  - name: beta\n    api: {key: abcd1234}\n", nil, "networks[1].api.base_url is missing"},
		{"networks:\n" + net("alpha", "") + "  - name: beta\n    api: {base_url: \"http://x:1\"}\n", nil, "networks[1].api.key is missing (set SYNCD_NETWORKS_BETA_API_KEY, or networks[1].api.key)"},
		{"networks:\n" + net("alpha", "") + "  - name: beta\n    api: {base_url: \"http://u:p@x:1\", key: abcd1234}\n", nil, "networks[1].api.base_url must not carry credentials"},
		{two + "    streams: {convs: {enabled: true}}\n", nil, "unknown key networks[1].streams.convs: no such stream"},
		{two + "    streams: {clicks: {schedule: hourly}}\n", nil, `networks[1].streams.clicks.schedule: "hourly" is not a cron spec`},
		{two + "    streams: {clicks: {slices: [day]}}\n", nil, "unknown key networks[1].streams.clicks.slices"},
		{two + "    streams: {stats_daily: {slices: [day, offer]}}\n", nil, "networks[1].streams.stats_daily.slices: [day offer] differ from network alpha's [day offer partner country]"},
		{two + "streams: {clicks: {schedule: hourly}}\n", nil, `streams.clicks.schedule: "hourly" is not a cron spec`},
		{two[:len(two)-2] + ", role: affiliate}\n", nil, "set networks[1].streams.partners.enabled: false for networks[1].api.role affiliate"},
		{"networks:\n" + net("alpha", "") + "  - name: beta\n    api: {base_url: \"http://x:1\", key: \"${BETA_KEY}\"}\n", nil,
			"networks[1].api.key refers to ${BETA_KEY}, which is not set in the environment (set it, or override networks[1].api.key with SYNCD_NETWORKS_BETA_API_KEY)"},
		{two, map[string]string{"SYNCD_NETWORKS_GAMMA_API_KEY": "x"}, "SYNCD_NETWORKS_GAMMA_API_KEY names no network (SYNCD_NETWORKS_<NAME>_API_<KEY>; networks are alpha, beta)"},
		{two, map[string]string{"SYNCD_NETWORKS_ALPHA_API_PAGESIZE": "x"}, "SYNCD_NETWORKS_ALPHA_API_PAGESIZE overrides no config key (there is no api.pagesize)"},
		{minimal, map[string]string{"SYNCD_NETWORKS_ALPHA_API_KEY": "x"}, "SYNCD_NETWORKS_ALPHA_API_KEY names a network, but the config has no networks: list"},
		{two, map[string]string{"SYNCD_NETWORKS_BETA_API_PAGE_SIZE": "0"}, "networks[1].api.page_size: 0 is outside 1..500"},
		{"networks:\n" + net("alpha", "") + "  - name: beta\n    api: {base_url: \"http://x:1\", key: abcd1234}\n    streams:\n" +
			strings.Repeat(" ", 0) + streamsOff(), nil, "network beta: every stream is disabled"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), env(c.environ))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q %v: got %v, want a config error", c.yaml, c.environ, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q %v:\n got  %v\n want one line containing %q", c.yaml, c.environ, err, c.want)
		}
	}
}

func streamsOff() string {
	var b strings.Builder
	for _, n := range models.Names() {
		b.WriteString("      " + n + ": {enabled: false}\n")
	}
	return b.String()
}

// A network's key is as secret as the single one: its errors say where
// it came from, never what it is.
func TestNetworkKeyStaysSecret(t *testing.T) {
	yaml := "networks:\n  - name: alpha\n    api: {base_url: \"http://x:1\", key: abcd1234}\n  - name: beta\n    api: {base_url: \"http://x:2\", key: \"${BETA_KEY}\"}\n"
	for environ, want := range map[string]map[string]string{
		"networks[1].api.key (from SYNCD_NETWORKS_BETA_API_KEY) is 3 characters long": {"SYNCD_NETWORKS_BETA_API_KEY": "zQ7"},
		"networks[1].api.key (from ${BETA_KEY}) contains a line break":                {"BETA_KEY": "secretAAsecretBB\n"},
	} {
		_, err := Parse([]byte(yaml), env(want))
		if err == nil || !strings.Contains(err.Error(), environ) || strings.Contains(err.Error(), "zQ7") || strings.Contains(err.Error(), "secretAA") {
			t.Errorf("%v: %v, want %q without the key", want, err, environ)
		}
	}
	// A shared key (api.key) is named as such when a network inherits it.
	_, err := Parse([]byte("api: {key: zQ7}\nnetworks:\n  - name: alpha\n    api: {base_url: \"http://x:1\"}\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "api.key is 3 characters long") || strings.Contains(err.Error(), "networks[0].api.key") || strings.Contains(err.Error(), "zQ7") {
		t.Errorf("shared key: %v", err)
	}
}

// Commands that only read the warehouse load a networks config without
// any network's address or key.
func TestLocalLoadOfNetworks(t *testing.T) {
	c, err := parse([]byte(twoNetworks), env(nil), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.NetworkNames(), ","); got != "alpha,beta" || c.Network("beta").API.PageSize != 100 {
		t.Errorf("local load: %s %+v", got, c.Network("beta").API)
	}
	if _, err := parse([]byte(twoNetworks), env(nil), false); err == nil || !strings.Contains(err.Error(), "networks[0].api.key refers to ${ALPHA_KEY}") {
		t.Errorf("a full load without the keys: %v", err)
	}
}

// The networks: example in config.example.yaml, uncommented, loads over
// the file's own api: and streams:.
func TestExampleNetworksLoad(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case line == "# networks:":
			in = true
		case in && !strings.HasPrefix(line, "#   "):
			in = false
		}
		if in {
			block = append(block, strings.TrimPrefix(line, "# "))
		}
	}
	if len(block) < 3 {
		t.Fatalf("no networks: example in config.example.yaml")
	}
	c, err := Parse([]byte(string(data)+strings.Join(block, "\n")+"\n"), env(map[string]string{"AFFISE_API_KEY": "unused-0123", "ALPHA_KEY": "alpha-key-0123", "BETA_KEY": "beta-key-0123"}))
	if err != nil {
		t.Fatalf("the example's networks: %v", err)
	}
	if got := strings.Join(c.NetworkNames(), ","); got != "alpha,beta" || c.Network("beta").API.Role != "affiliate" || c.Network("alpha").Stream("clicks").Enabled {
		t.Errorf("networks %s, beta %+v", got, c.Network("beta").API)
	}
}

// An admin-only stream named in the shared streams: for its schedule stays
// off for an affiliate network; the shared enabled: true is that
// network's choice too, and refused.
func TestAdminDefaultStreamPerNetwork(t *testing.T) {
	base := "networks:\n  - name: aff\n    api: {base_url: \"http://x:1\", key: abcd1234, role: affiliate}\n    streams: {partners: {enabled: false}, advertisers: {enabled: false}}\n  - name: adm\n    api: {base_url: \"http://x:2\", key: abcd1234}\n"
	c, err := Parse([]byte(base+"streams: {currency_rates: {schedule: \"@every 1h\"}}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Network("aff").Stream("currency_rates").Enabled || !c.Network("adm").Stream("currency_rates").Enabled {
		t.Errorf("currency_rates: aff %v, adm %v", c.Network("aff").Stream("currency_rates").Enabled, c.Network("adm").Stream("currency_rates").Enabled)
	}
	_, err = Parse([]byte(base+"streams: {currency_rates: {enabled: true}}\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "set networks[0].streams.currency_rates.enabled: false for networks[0].api.role affiliate") {
		t.Errorf("currency_rates enabled for every network: %v", err)
	}
}

// A network may come from the environment alone: name in the file, its
// whole api from SYNCD_NETWORKS_<NAME>_API_*.
func TestNetworkAPIFromTheEnvironmentAlone(t *testing.T) {
	c, err := Parse([]byte("networks:\n  - name: alpha\n  - name: beta\n    api: {base_url: \"http://x:2\", key: abcd1234}\n"), env(map[string]string{
		"SYNCD_NETWORKS_ALPHA_API_BASE_URL": "http://x:1",
		"SYNCD_NETWORKS_ALPHA_API_KEY":      "env-key-0123",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Network("alpha").API; a.BaseURL != "http://x:1" || a.Key != "env-key-0123" {
		t.Errorf("alpha api = %+v", a)
	}
}

// TestAPISettingNamesWhereASettingCameFrom: the name an error's hint gives
// for a network's api setting is the key that set it: the network's own
// (networks[i].api.key) or the shared api:'s, and api.key with api: alone.
func TestAPISettingNamesWhereASettingCameFrom(t *testing.T) {
	c, err := Parse([]byte(twoNetworks), env(twoKeys))
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Network("alpha"), c.Network("beta")
	for _, x := range []struct{ got, want string }{
		{a.APISetting("key"), "networks[0].api.key"},
		{b.APISetting("base_url"), "networks[1].api.base_url"},
		{a.APISetting("page_size"), "api.page_size"},
		{b.APISetting("page_size"), "networks[1].api.page_size"},
	} {
		if x.got != x.want {
			t.Errorf("APISetting = %q, want %q", x.got, x.want)
		}
	}
	c, err = Parse([]byte(minimal), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Networks[0].APISetting("key"); got != "api.key" {
		t.Errorf("api: alone: APISetting(key) = %q, want api.key", got)
	}
}
