package affisesim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// twoNetworks is a and b from one seed, as affise-sim --networks a,b
// makes them: b is variant 1 with its own zone and currencies.
func twoNetworks(t *testing.T, mod func(name string, c *Config)) *Networks {
	t.Helper()
	var nets []NetworkConfig
	for i, name := range []string{"a", "b"} {
		c := Config{Key: testKey, Seed: 7, Variant: i, Conversions: 3000, Days: 10, Now: testAnchor,
			Timezone: NetworkTimezone(i), Currencies: NetworkCurrencies(i)}
		if mod != nil {
			mod(name, &c)
		}
		nets = append(nets, NetworkConfig{Name: name, Config: c})
	}
	n, err := NewNetworks(nets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// Each network answers under its prefix what a lone simulator of its
// Config answers at /: network a (variant 0) byte for byte what
// `affise-sim --seed 7` serves.
func TestNetworksServeEachUnderItsPrefix(t *testing.T) {
	n := twoNetworks(t, nil)
	for i, name := range []string{"a", "b"} {
		alone, _ := newSim(t, func(c *Config) {
			c.Variant, c.Conversions, c.Days, c.Timezone, c.Currencies = i, 3000, 10, NetworkTimezone(i), NetworkCurrencies(i)
		})
		for _, path := range []string{"/3.0/offers?status[]=active&status[]=stopped", "/3.0/stats/conversions?date_from=2025-03-10&date_to=2025-03-15&limit=100",
			"/3.0/admin/partners", "/3.0/stats/custom?slice[]=day&filter[date_from]=2025-03-10&filter[date_to]=2025-03-15"} {
			got, want := get(t, n, "/"+name+path), get(t, alone, path)
			if got.code != 200 || !bytes.Equal(got.raw, want.raw) {
				t.Errorf("%s%s: HTTP %d, differs from a lone simulator's:\n%s\nvs\n%s", name, path, got.code, trunc(got.raw), trunc(want.raw))
			}
		}
		got, want := get(t, n, "/"+name+"/_sim/truth/conversions"), get(t, alone, "/_sim/truth/conversions")
		if got.code != 200 || !bytes.Equal(got.raw, want.raw) {
			t.Errorf("/%s/_sim/truth/conversions differs from a lone simulator's", name)
		}
	}
	if n.Sim("a").cfg.Timezone == n.Sim("b").cfg.Timezone || n.Sim("a").cfg.Currencies[0] == n.Sim("b").cfg.Currencies[0] {
		t.Errorf("a and b share zone or currencies: %+v %+v", n.Sim("a").cfg, n.Sim("b").cfg)
	}
}

// The networks' ids collide, as on real Affise networks, and the rows
// behind them differ: a warehouse keying rows by id alone would mix them.
func TestNetworksShareIDsNotContents(t *testing.T) {
	n := twoNetworks(t, nil)
	for _, stream := range []string{"conversions", "offers", "partners", "server_postbacks"} {
		a, b := truth(t, n.Sim("a"), stream), truth(t, n.Sim("b"), stream)
		id := "id"
		if stream == "server_postbacks" {
			id = "_id"
		}
		byID := map[string]string{}
		for _, r := range a {
			byID[idOf(r[id])] = string(mustJSON(r))
		}
		shared, differ := 0, 0
		for _, r := range b {
			if other, ok := byID[idOf(r[id])]; ok {
				shared++
				if other != string(mustJSON(r)) {
					differ++
				}
			}
		}
		if shared < len(a)/2 || differ < shared*9/10 {
			t.Errorf("%s: %d rows in a, %d in b, %d ids in both, %d of them with other contents; want most ids shared, their rows different",
				stream, len(a), len(b), shared, differ)
		}
	}
	// The currencies are each network's own.
	cur := func(name string) map[string]bool {
		out := map[string]bool{}
		for _, r := range truth(t, n.Sim(name), "conversions") {
			out[r["currency"].(string)] = true
		}
		return out
	}
	if a, b := cur("a"), cur("b"); !a["RUB"] || b["RUB"] || !b["GBP"] || a["GBP"] {
		t.Errorf("currencies: a sells in %v, b in %v", a, b)
	}
}

// idOf renders an id as text: a number, a string or Mongo's {"$id": ...}.
func idOf(v any) string {
	if m, ok := v.(map[string]any); ok {
		return idOf(m["$id"])
	}
	return strings.Trim(string(mustJSON(v)), `"`)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// A network's key, faults and counters are its own: b answering 401 or
// 500 to everything leaves a serving.
func TestNetworksKeysFaultsAndCountersApart(t *testing.T) {
	n := twoNetworks(t, func(name string, c *Config) {
		if name == "b" {
			c.Key = "another-key-456"
		}
	})
	if r := get(t, n, "/a/3.0/offers"); r.code != 200 {
		t.Errorf("a with the shared key: HTTP %d", r.code)
	}
	if r := get(t, n, "/b/3.0/offers"); r.code != 401 {
		t.Errorf("b with a's key: HTTP %d, want 401", r.code)
	}
	if r := call(t, n, "GET", "/b/3.0/offers", "another-key-456"); r.code != 200 {
		t.Errorf("b with its own key: HTTP %d", r.code)
	}

	if err := n.Sim("b").SetFaults(1, []string{"500"}); err != nil {
		t.Fatal(err)
	}
	if r := call(t, n, "GET", "/b/3.0/offers", "another-key-456"); r.code != 500 {
		t.Errorf("b failing every request: HTTP %d, want 500", r.code)
	}
	if r := get(t, n, "/a/3.0/offers"); r.code != 200 {
		t.Errorf("a while b fails: HTTP %d", r.code)
	}
	// Faults through b's control API reach b alone.
	if r := call(t, n, "GET", "/b/_sim/faults", ""); r.code != 200 || r.body["rate"] != float64(1) {
		t.Errorf("/b/_sim/faults: %d %s", r.code, r.raw)
	}
	if r := call(t, n, "GET", "/a/_sim/faults", ""); r.code != 200 || r.body["rate"] != float64(0) {
		t.Errorf("/a/_sim/faults: %d %s", r.code, r.raw)
	}

	if a, b := n.Sim("a").Requests().Total, n.Sim("b").Requests().Total; a != 2 || b != 3 {
		t.Errorf("requests: a %d, b %d; want 2 and 3", a, b)
	}
	r := call(t, n, "GET", "/_sim/requests", "")
	if r.code != 200 || r.body["total"] != float64(5) || r.body["by_network"].(map[string]any)["b"] != float64(3) {
		t.Errorf("/_sim/requests: %d %s", r.code, r.raw)
	}
	if r := call(t, n, "GET", "/a/_sim/requests", ""); r.body["total"] != float64(2) {
		t.Errorf("/a/_sim/requests: %s", r.raw)
	}
	call(t, n, "POST", "/_sim/requests/reset", "")
	if a, b := n.Sim("a").Requests().Total, n.Sim("b").Requests().Total; a != 0 || b != 0 {
		t.Errorf("after the reset: a %d, b %d", a, b)
	}
}

// The root serves no API, and says where the networks are.
func TestNetworksRoot(t *testing.T) {
	n := twoNetworks(t, nil)
	r := get(t, n, "/3.0/offers")
	if r.code != 404 || !strings.Contains(string(r.raw), "/a/, /b/") {
		t.Errorf("/3.0/offers at the root: %d %s", r.code, r.raw)
	}
	if r := get(t, n, "/c/3.0/offers"); r.code != 404 {
		t.Errorf("an unknown network: HTTP %d", r.code)
	}
	r = call(t, n, "GET", "/_sim/networks", "")
	nets, _ := r.body["networks"].([]any)
	if r.code != 200 || len(nets) != 2 {
		t.Fatalf("/_sim/networks: %d %s", r.code, r.raw)
	}
	b := nets[1].(map[string]any)
	if b["name"] != "b" || b["prefix"] != "/b" || b["variant"] != float64(1) || b["timezone"] != "Asia/Tokyo" || b["seed"] != float64(7) {
		t.Errorf("/_sim/networks: %s", r.raw)
	}
}

func TestNetworksRefuseBadNames(t *testing.T) {
	for _, names := range [][]string{{"a", "a"}, {"A"}, {"_sim"}, {""}, {"3.0"}, {"a/b"}, {strings.Repeat("x", 41)}} {
		var nets []NetworkConfig
		for _, name := range names {
			nets = append(nets, NetworkConfig{Name: name, Config: Config{Key: testKey, Conversions: 10, Days: 1}})
		}
		if _, err := NewNetworks(nets); err == nil {
			t.Errorf("networks %q: no error", names)
		}
	}
	if _, err := NewNetworks(nil); err == nil {
		t.Error("no network: no error")
	}
	if _, err := NewNetworks([]NetworkConfig{{Name: "a", Config: Config{Key: testKey, Timezone: "Mars/Base"}}}); err == nil || !strings.Contains(err.Error(), "network a") {
		t.Errorf("a bad zone: %v, want an error naming network a", err)
	}
}

// Log lines say which network served them.
func TestNetworksLogNamesTheNetwork(t *testing.T) {
	var log bytes.Buffer
	n := twoNetworks(t, func(name string, c *Config) { c.Log = &log })
	get(t, n, "/b/3.0/offers")
	if !strings.HasPrefix(log.String(), "b: ") || !strings.Contains(log.String(), "/3.0/offers 200") {
		t.Errorf("log %q", log.String())
	}
}
