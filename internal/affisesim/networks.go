package affisesim

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// NetworkConfig is one network of Networks: its path prefix and its
// simulator's Config.
type NetworkConfig struct {
	Name string // the path prefix: 1-40 of a-z 0-9 _ -, starting with a letter or digit
	Config
}

// Networks serves several simulated Affise networks on one listener, each
// under its name as a path prefix: /NAME/3.0/... is that network's API and
// /NAME/_sim/... its control API (truth, churn, faults, requests, ...),
// exactly as a lone simulator serves them at /. Each network is a Sim of
// its own: its data, key, zone, currencies, faults and request counters.
// At the root, GET /_sim/networks lists them, GET /_sim/requests sums their
// counters and POST /_sim/requests/reset zeroes them all.
type Networks struct {
	names []string
	sims  map[string]*Sim
	mux   *http.ServeMux
}

// NetworkTimezone is the platform zone network number i (0-based) gets
// when none is set: network 0 has a lone simulator's UTC, the others
// differ, so a zone mix-up between networks shows.
func NetworkTimezone(i int) string {
	zones := []string{"UTC", "Asia/Tokyo", "America/New_York", "Europe/Berlin", "Australia/Sydney", "America/Sao_Paulo"}
	return zones[i%len(zones)]
}

// NetworkCurrencies are the currencies network number i (0-based) sells in
// when none are set: network 0 has a lone simulator's DefaultCurrencies;
// the others differ, some sharing USD, so that money of two networks in
// one currency must still be told apart by network.
func NetworkCurrencies(i int) []Currency {
	sets := [][]Currency{
		DefaultCurrencies(),
		{{"EUR", 60}, {"GBP", 30}, {"USD", 10}},
		{{"USD", 50}, {"BRL", 50}},
		{{"JPY", 80}, {"USD", 20}},
	}
	return append([]Currency(nil), sets[i%len(sets)]...)
}

// validName reports whether name can be a network's path prefix (the rule
// syncd has for network names, so every prefix can be a network's name).
func validName(name string) bool {
	if len(name) == 0 || len(name) > 40 || name[0] == '-' || name[0] == '_' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// NewNetworks generates every network's data set. On an error no
// simulator is left running.
func NewNetworks(nets []NetworkConfig) (*Networks, error) {
	if len(nets) == 0 {
		return nil, errors.New("affisesim: no network")
	}
	n := &Networks{sims: map[string]*Sim{}}
	for _, nc := range nets {
		if !validName(nc.Name) {
			n.Close()
			return nil, fmt.Errorf("affisesim: network name %q: want 1-40 of a-z, 0-9, _ and -, starting with a letter or digit", nc.Name)
		}
		if _, dup := n.sims[nc.Name]; dup {
			n.Close()
			return nil, fmt.Errorf("affisesim: network %q is named twice", nc.Name)
		}
		cfg := nc.Config
		if cfg.Log != nil {
			cfg.Log = &prefixWriter{w: cfg.Log, prefix: nc.Name + ": "}
		}
		s, err := New(cfg)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("network %s: %w", nc.Name, err)
		}
		n.names = append(n.names, nc.Name)
		n.sims[nc.Name] = s
	}
	n.routes()
	return n, nil
}

// Names lists the networks in the order given.
func (n *Networks) Names() []string { return append([]string(nil), n.names...) }

// Sim is the named network's simulator, or nil.
func (n *Networks) Sim(name string) *Sim { return n.sims[name] }

// Close stops every network's background churn.
func (n *Networks) Close() {
	for _, s := range n.sims {
		s.Close()
	}
}

// ServeHTTP serves each network under its prefix and the root's /_sim.
func (n *Networks) ServeHTTP(w http.ResponseWriter, r *http.Request) { n.mux.ServeHTTP(w, r) }

func (n *Networks) routes() {
	m := http.NewServeMux()
	for _, name := range n.names {
		m.Handle("/"+name+"/", http.StripPrefix("/"+name, n.sims[name]))
	}
	m.HandleFunc("GET /_sim/networks", func(w http.ResponseWriter, r *http.Request) {
		type info struct {
			Name       string     `json:"name"`
			Prefix     string     `json:"prefix"`
			Seed       int64      `json:"seed"`
			Variant    int        `json:"variant"`
			Timezone   string     `json:"timezone"`
			Currencies []Currency `json:"currencies"`
		}
		var out []info
		for _, name := range n.names {
			c := n.sims[name].cfg
			out = append(out, info{name, "/" + name, c.Seed, c.Variant, c.Timezone, c.Currencies})
		}
		writeJSON(w, 200, map[string]any{"networks": out})
	})
	m.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, r *http.Request) {
		sum := RequestStats{ByEndpoint: map[string]int64{}, ByCode: map[string]int64{}}
		by := map[string]int64{}
		for _, name := range n.names {
			st := n.sims[name].Requests()
			sum.Total += st.Total
			by[name] = st.Total
			for k, v := range st.ByEndpoint {
				sum.ByEndpoint[k] += v
			}
			for k, v := range st.ByCode {
				sum.ByCode[k] += v
			}
		}
		writeJSON(w, 200, map[string]any{"total": sum.Total, "by_endpoint": sum.ByEndpoint, "by_code": sum.ByCode, "by_network": by})
	})
	m.HandleFunc("POST /_sim/requests/reset", func(w http.ResponseWriter, r *http.Request) {
		for _, s := range n.sims {
			s.ResetRequests()
		}
		writeJSON(w, 200, map[string]any{"ok": true})
	})
	prefixes := "/" + strings.Join(n.names, "/, /") + "/"
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// An API client pointed at the root, not at a network, gets a
		// reply that says where the networks are.
		writeJSON(w, 404, map[string]any{"status": 2, "error": "Not found: this simulator serves several networks, under " + prefixes})
	})
	n.mux = m
}

// prefixWriter starts every write (one log line each) with prefix.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}
