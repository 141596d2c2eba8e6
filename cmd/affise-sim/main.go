// Command affise-sim serves a local, deterministic Affise API 3.0 for demos,
// end-to-end tests and benchmarks. See package affisesim.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/syncd/syncd/internal/affisesim"
)

const usageText = `affise-sim: a local Affise API 3.0 simulator.

Usage:
  affise-sim --key KEY [--addr 127.0.0.1:8089] [--seed N] [flags]

API (header API-Key: KEY; 401 without it):
  GET /3.0/stats/conversions        date_from,date_to (by creation; default a week ago..today),
                                    update_from_date/_hour, update_to_date/_hour, status[], offer[],
                                    partner[], country[], advertiser[], currency[] (codes), hour (one-day
                                    periods), timezone
  GET /3.0/stats/clicks             date_from,date_to required; hour (one-day only); last --retention only
  GET /3.0/stats/serverpostbacks    date_from,date_to required
  GET /3.0/stats/affiliatepostbacks date_from,date_to required; http_code
  GET /3.0/stats/custom             slice[] and filter[date_from], filter[date_to] required;
                                    filter[offer|partner|country|advertiser|currency]; without
                                    filter[currency] money of all currencies is summed, as Affise does;
                                    with it only those currencies' conversions count (traffic stays the
                                    network's: clicks have no currency)
  GET /3.0/offers                   status[] (default active only)
  GET /3.0/admin/partners           admin key only
  GET /3.0/admin/advertisers        admin key only
  GET /3.0/admin/currency           {"status":1,"quotes":{"USD":1,"EUR":0.92,...}} per USD on the clock's UTC day
                                    (rates move daily); get_only_active=1: --currencies and USD only; admin key only
  Every list takes page (1-based) and limit (default 100, max 500).

Control API (no key; keep the address on loopback):
  POST /_sim/churn?n=N              apply N changes now -> {"changed":x,"created":y}
  POST /_sim/churn?n=N&min_age=30d&max_age=90d
                                    with either age bound (Nd or a Go duration): settle up to N pending or
                                    hold conversions created that long before the clock (75%% confirmed, the
                                    rest declined; updated_at = now) and create none -> {"changed":x,"created":0}
  GET  /_sim/truth/{stream}         full data set as {"rows":[...]} (UTC); streams:
%s
  GET  /_sim/truth/currency_rates   /3.0/admin/currency's quotes per UTC day, from the history's first
                                    day to the clock's today or ?day=YYYY-MM-DD only:
                                    {"rows":[{"date":"YYYY-MM-DD","quotes":{"USD":1,...}}]}
  POST /_sim/hide-once?stream=conversions&ids=ID,ID  or  ?day=YYYY-MM-DD[&timezone=Z]
                                    arm a one-time lie -> {"hidden":n}: the first window of
                                    /3.0/stats/conversions (its query minus page and limit) that holds any of
                                    these conversions (day: those created that day in the platform zone or
                                    timezone, as of the call) answers without them, rows and total_count
                                    alike, until every page of that window
                                    has reached the client at one page size, in any order (a page cut by an
                                    injected fault does not count); other windows, custom stats and the truth
                                    never lie. A new hide-once replaces one still armed.
  GET  /_sim/hide-once              {"state":"none|armed|lying|done","hidden":n,"window":"...","pages_served":n}
  GET  /_sim/requests               {"total":n,"by_endpoint":{...},"by_code":{...}}
  POST /_sim/requests/reset         zero the counters
  GET  /_sim/faults                 current fault settings
  POST /_sim/faults                 {"rate":0.3,"kinds":["429","500","502","status2","truncated","reset","stall"]}
  GET  /_sim/info                   sizes, seed, variant, anchor

Several networks (--networks a,b): one listener, each network under its name as a path prefix:
  http://ADDR/a/3.0/...  http://ADDR/a/_sim/...
                                    network a's API and control API, each path as above (so a syncd
                                    network's api.base_url is http://ADDR/a); / itself serves no API
  GET  /_sim/networks               {"networks":[{"name":"a","prefix":"/a","seed":1,"variant":0,
                                    "timezone":"UTC","currencies":[...]},...]}
  GET  /_sim/requests               every network's counters summed, and "by_network":{"a":n,...}
  POST /_sim/requests/reset         zero every network's counters
  Network number i (from 0, in --networks order) has the ids of --seed with data of its own
  (--NAME.variant, default i): offer 1, partner 1 and the same conversion, click and postback ids
  exist in every network, with other contents. Its platform zone and currencies differ too, unless
  --timezone or --currencies is given (then every network has it):
%s
  Every network shares --key unless --NAME.key gives it its own (a client with the shared key then
  gets 401 from it). Any flag marked [per network] below set as --NAME.FLAG applies to that network
  only, e.g. --b.key other --b.fault-rate 1 --b.fault-kinds 500 --b.timezone Asia/Kolkata
  --b.currencies INR; the same flag without a name sets every network's.

Flags:
`

// usage is the help text. The truth streams are the simulator's own
// endpoint table's, so the list cannot miss one it serves.
func usage() string {
	var rot []string
	for i := range 4 {
		rot = append(rot, fmt.Sprintf("network %d: %s, %s", i, affisesim.NetworkTimezone(i), formatCurrencies(affisesim.NetworkCurrencies(i))))
	}
	return fmt.Sprintf(usageText, wrap(strings.Join(affisesim.Streams(), ", "), 36, 100), "    "+strings.Join(rot, "\n    ")+"\n    (and so on, round again)")
}

// wrap breaks s at spaces into lines of at most width columns, each
// indented by indent spaces.
func wrap(s string, indent, width int) string {
	pad := strings.Repeat(" ", indent)
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && indent+len(line)+1+len(w) > width {
			lines = append(lines, pad+line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, pad+line)
	}
	return strings.Join(lines, "\n")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// options are the parsed command line: where to listen and the one
// simulator at / (nets nil) or the networks under their prefixes.
type options struct {
	addr    string
	verbose bool
	single  affisesim.Config
	nets    []affisesim.NetworkConfig
}

// currenciesFlag sets a Config's currencies from CODE[:WEIGHT],...
type currenciesFlag struct{ to *[]affisesim.Currency }

func (f currenciesFlag) String() string {
	if f.to == nil {
		return ""
	}
	return formatCurrencies(*f.to)
}

func (f currenciesFlag) Set(v string) error {
	c, err := affisesim.ParseCurrencies(v)
	if err != nil {
		return err
	}
	*f.to = c
	return nil
}

func formatCurrencies(cs []affisesim.Currency) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Code+":"+strconv.FormatFloat(c.Weight, 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

// listFlag sets a comma list; "" is the empty list (not nil: no fault kinds).
type listFlag struct{ to *[]string }

func (f listFlag) String() string {
	if f.to == nil {
		return ""
	}
	return strings.Join(*f.to, ",")
}

func (f listFlag) Set(v string) error {
	if v == "" {
		*f.to = []string{}
		return nil
	}
	*f.to = strings.Split(v, ",")
	return nil
}

// perNetwork marks the flags that --NAME.FLAG sets for one network.
const perNetwork = " [per network]"

// bindNetworkFlags defines on fs the flags that shape one network, each
// writing straight into cfg, with cfg's values as defaults: the global
// flag set and each network's use the same definitions.
func bindNetworkFlags(fs *flag.FlagSet, cfg *affisesim.Config) {
	fs.StringVar(&cfg.Key, "key", cfg.Key, "admin API key clients must send as the API-Key header (required; or env AFFISE_SIM_KEY)"+perNetwork)
	fs.StringVar(&cfg.AffiliateKey, "affiliate-key", cfg.AffiliateKey, "optional affiliate API key: sees only its partner's rows; admin-only filters and /3.0/admin/* answer 403"+perNetwork)
	fs.IntVar(&cfg.AffiliatePartner, "affiliate-partner", cfg.AffiliatePartner, "partner id the affiliate key acts as"+perNetwork)
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "data set seed (same seed, sizes and anchor: same data); with --networks the seed of every network's ids"+perNetwork)
	fs.IntVar(&cfg.Variant, "variant", cfg.Variant, "draw other data with the seed's ids (0: the seed's own data); with --networks network i's default is i"+perNetwork)
	fs.IntVar(&cfg.Conversions, "conversions", cfg.Conversions, "number of conversions in the history"+perNetwork)
	fs.IntVar(&cfg.Days, "days", cfg.Days, "history length in days, ending now (100 holds conversions old enough for 30-90 day hold periods)"+perNetwork)
	fs.Float64Var(&cfg.ClicksPerConversion, "clicks-per-conversion", cfg.ClicksPerConversion, "clicks per conversion (incl. the converting click)"+perNetwork)
	fs.Var(currenciesFlag{&cfg.Currencies}, "currencies", "currencies conversions are paid in, CODE[:WEIGHT],... (no weights: the first 70%, the rest share 30%, each half the one before); amounts convert at the currency's rate (RUB ~90x USD); USD alone is a one-currency network"+perNetwork)
	fs.IntVar(&cfg.Offers, "offers", cfg.Offers, "number of offers (some stopped/suspended)"+perNetwork)
	fs.IntVar(&cfg.Partners, "partners", cfg.Partners, "number of partners"+perNetwork)
	fs.IntVar(&cfg.Advertisers, "advertisers", cfg.Advertisers, "number of advertisers"+perNetwork)
	fs.StringVar(&cfg.Timezone, "timezone", cfg.Timezone, "platform default time zone (used when a request has no timezone=)"+perNetwork)
	fs.DurationVar(&cfg.Retention, "retention", cfg.Retention, "click retention: older clicks are gone"+perNetwork)
	fs.Float64Var(&cfg.ChurnPerMinute, "churn", cfg.ChurnPerMinute, "background changes per minute (half status changes, half new conversions)"+perNetwork)
	fs.Float64Var(&cfg.FaultRate, "fault-rate", cfg.FaultRate, "fraction (0..1) of API requests answered with a fault"+perNetwork)
	fs.Var(listFlag{&cfg.FaultKinds}, "fault-kinds", "comma list of fault kinds: "+strings.Join(affisesim.AllFaultKinds, ",")+perNetwork)
	fs.DurationVar(&cfg.Stall, "stall", cfg.Stall, "how long a stall fault waits before answering"+perNetwork)
	fs.IntVar(&cfg.RPS, "rps", cfg.RPS, "server-side limit: requests beyond N in a second get 429 + Retry-After (0: none)"+perNetwork)
	fs.DurationVar(&cfg.Latency, "latency", cfg.Latency, "delay added to every API request"+perNetwork)
}

// defaultConfig is a lone simulator's configuration before flags.
func defaultConfig() affisesim.Config {
	return affisesim.Config{
		Seed: 1, Conversions: 10000, Days: 30, ClicksPerConversion: 5, Offers: 40, Partners: 25, Advertisers: 8,
		Currencies: affisesim.DefaultCurrencies(), Timezone: "UTC", Retention: 7 * 24 * time.Hour,
		FaultKinds: append([]string(nil), affisesim.DefaultFaultKinds...), Stall: 90 * time.Second, AffiliatePartner: 1,
	}
}

// splitNetworkArgs takes the --NAME.FLAG[=VALUE] arguments out of args
// (flag names have no dot, so a dotted one is a network's) and returns
// the rest and, per network name, its arguments as --FLAG=VALUE.
func splitNetworkArgs(args []string) (rest []string, byNet map[string][]string, order []string, err error) {
	byNet = map[string][]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i:]...), byNet, order, nil
		}
		name := strings.TrimLeft(a, "-")
		key, value, hasValue := strings.Cut(name, "=")
		net, fl, dotted := strings.Cut(key, ".")
		if !strings.HasPrefix(a, "-") || !dotted {
			rest = append(rest, a)
			continue
		}
		if net == "" || fl == "" {
			return nil, nil, nil, fmt.Errorf("%s: want --NAME.FLAG VALUE, e.g. --b.timezone Asia/Tokyo", a)
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, nil, nil, fmt.Errorf("%s needs a value", a)
			}
			i++
			value = args[i]
		}
		if _, seen := byNet[net]; !seen {
			order = append(order, net)
		}
		byNet[net] = append(byNet[net], "--"+fl+"="+value)
	}
	return rest, byNet, order, nil
}

// printedError is a flag error the flag package has printed already,
// with the usage.
type printedError struct{ error }

func (e printedError) Unwrap() error { return e.error }

// parse reads the command line; getenv supplies AFFISE_SIM_KEY. Its
// errors are one line naming the flag.
func parse(args []string, out io.Writer, getenv func(string) string) (*options, error) {
	rest, byNet, netOrder, err := splitNetworkArgs(args)
	if err != nil {
		return nil, err
	}
	o := &options{single: defaultConfig()}
	fs := flag.NewFlagSet("affise-sim", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage())
		fs.PrintDefaults()
	}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8089", "listen address")
	networks := fs.String("networks", "", "serve several networks, a comma list of names (a-z 0-9 _ -), each under /NAME/ (see above)")
	anchor := fs.String("anchor", "", "fixed end of the history (RFC3339) instead of now, for reproducible timestamps (every network's)")
	clock := fs.String("clock", "", "start the simulator's clock at this instant (RFC3339) and let it run from there: retention, default date ranges, churn and the end of the history (unless --anchor) follow it (every network's)")
	fs.BoolVar(&o.verbose, "verbose", false, "log one line per API request to stderr (with --networks, prefixed by the network's name)")
	bindNetworkFlags(fs, &o.single)
	if err := fs.Parse(rest); err != nil {
		return nil, printedError{err}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if o.single.Key == "" {
		o.single.Key = getenv("AFFISE_SIM_KEY")
	}
	if o.single.Key == "" {
		return nil, errors.New("--key (or AFFISE_SIM_KEY) is required")
	}
	if *anchor != "" {
		t, err := time.Parse(time.RFC3339, *anchor)
		if err != nil {
			return nil, fmt.Errorf("--anchor: %v", err)
		}
		o.single.Now = t
	}
	if *clock != "" {
		t0, err := time.Parse(time.RFC3339, *clock)
		if err != nil {
			return nil, fmt.Errorf("--clock: %v", err)
		}
		started := time.Now()
		o.single.Clock = func() time.Time { return t0.Add(time.Since(started)) }
	}
	if *networks == "" {
		if len(netOrder) > 0 {
			return nil, fmt.Errorf("--%s.FLAG sets a flag of network %s: name the networks with --networks", netOrder[0], netOrder[0])
		}
		return o, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	names := strings.Split(*networks, ",")
	for i, name := range names {
		cfg := o.single
		cfg.Currencies = append([]affisesim.Currency(nil), cfg.Currencies...)
		cfg.FaultKinds = append([]string{}, cfg.FaultKinds...)
		if !set["variant"] {
			cfg.Variant = i
		}
		if !set["timezone"] {
			cfg.Timezone = affisesim.NetworkTimezone(i)
		}
		if !set["currencies"] {
			cfg.Currencies = affisesim.NetworkCurrencies(i)
		}
		nfs := flag.NewFlagSet("affise-sim --"+name+".", flag.ContinueOnError)
		nfs.SetOutput(io.Discard)
		bindNetworkFlags(nfs, &cfg)
		if err := nfs.Parse(byNet[name]); err != nil {
			return nil, fmt.Errorf("network %s: %v", name, err)
		}
		if cfg.Key == "" {
			return nil, fmt.Errorf("--%s.key is empty: every network needs a key", name)
		}
		o.nets = append(o.nets, affisesim.NetworkConfig{Name: name, Config: cfg})
	}
	for _, n := range netOrder {
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("--%s.FLAG: %q is not one of --networks %s", n, n, *networks)
		}
	}
	return o, nil
}

func run(args []string) int {
	o, err := parse(args, os.Stderr, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if !errors.As(err, new(printedError)) {
			fmt.Fprintf(os.Stderr, "affise-sim: %v\n", err)
		}
		return 2
	}
	if o.verbose {
		o.single.Log = os.Stderr
		for i := range o.nets {
			o.nets[i].Log = os.Stderr
		}
	}
	start := time.Now()
	var handler http.Handler
	var what string
	if o.nets == nil {
		sim, err := affisesim.New(o.single)
		if err != nil {
			fmt.Fprintf(os.Stderr, "affise-sim: %v\n", err)
			return 2
		}
		defer sim.Close()
		handler = sim
		what = fmt.Sprintf("%d conversions over %d days (seed %d)", o.single.Conversions, o.single.Days, o.single.Seed)
	} else {
		nets, err := affisesim.NewNetworks(o.nets)
		if err != nil {
			fmt.Fprintf(os.Stderr, "affise-sim: %v\n", err)
			return 2
		}
		defer nets.Close()
		handler = nets
		var parts []string
		for _, n := range o.nets {
			parts = append(parts, fmt.Sprintf("/%s/ (%d conversions over %d days, seed %d variant %d, %s, %s)",
				n.Name, n.Conversions, n.Days, n.Seed, n.Variant, n.Timezone, formatCurrencies(n.Currencies)))
		}
		what = fmt.Sprintf("%d networks: %s", len(o.nets), strings.Join(parts, "; "))
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "affise-sim: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "affise-sim: %s generated in %s; listening on http://%s\n",
		what, time.Since(start).Round(time.Millisecond), ln.Addr())
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "affise-sim: %v\n", err)
		return 1
	}
	return 0
}
