// Command affise-sim serves a local, deterministic Affise API 3.0 for demos,
// end-to-end tests and benchmarks. See package affisesim.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
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
  GET  /_sim/info                   sizes, seed, anchor

Flags:
`

// usage is the help text. The truth streams are the simulator's own
// endpoint table's, so the list cannot miss one it serves.
func usage() string {
	return fmt.Sprintf(usageText, wrap(strings.Join(affisesim.Streams(), ", "), 36, 100))
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

func run(args []string) int {
	fs := flag.NewFlagSet("affise-sim", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage())
		fs.PrintDefaults()
	}
	var (
		addr       = fs.String("addr", "127.0.0.1:8089", "listen address")
		key        = fs.String("key", "", "admin API key clients must send as the API-Key header (required; or env AFFISE_SIM_KEY)")
		affKey     = fs.String("affiliate-key", "", "optional affiliate API key: sees only its partner's rows; admin-only filters and /3.0/admin/* answer 403")
		affPartner = fs.Int("affiliate-partner", 1, "partner id the affiliate key acts as")
		seed       = fs.Int64("seed", 1, "data set seed (same seed, sizes and anchor: same data)")
		convs      = fs.Int("conversions", 10000, "number of conversions in the history")
		days       = fs.Int("days", 30, "history length in days, ending now (100 holds conversions old enough for 30-90 day hold periods)")
		cpc        = fs.Float64("clicks-per-conversion", 5, "clicks per conversion (incl. the converting click)")
		currencies = fs.String("currencies", "USD:70,EUR:20,RUB:10", "currencies conversions are paid in, CODE[:WEIGHT],... (no weights: the first 70%, the rest share 30%, each half the one before); amounts convert at the currency's rate (RUB ~90x USD); USD alone is a one-currency network")
		offers     = fs.Int("offers", 40, "number of offers (some stopped/suspended)")
		partners   = fs.Int("partners", 25, "number of partners")
		advs       = fs.Int("advertisers", 8, "number of advertisers")
		tz         = fs.String("timezone", "UTC", "platform default time zone (used when a request has no timezone=)")
		retention  = fs.Duration("retention", 7*24*time.Hour, "click retention: older clicks are gone")
		anchor     = fs.String("anchor", "", "fixed end of the history (RFC3339) instead of now, for reproducible timestamps")
		clock      = fs.String("clock", "", "start the simulator's clock at this instant (RFC3339) and let it run from there: retention, default date ranges, churn and the end of the history (unless --anchor) follow it")
		churn      = fs.Float64("churn", 0, "background changes per minute (half status changes, half new conversions)")
		faultRate  = fs.Float64("fault-rate", 0, "fraction (0..1) of API requests answered with a fault")
		faultKinds = fs.String("fault-kinds", strings.Join(affisesim.DefaultFaultKinds, ","), "comma list of fault kinds: "+strings.Join(affisesim.AllFaultKinds, ","))
		stall      = fs.Duration("stall", 90*time.Second, "how long a stall fault waits before answering")
		rps        = fs.Int("rps", 0, "server-side limit: requests beyond N in a second get 429 + Retry-After (0: none)")
		latency    = fs.Duration("latency", 0, "delay added to every API request")
		verbose    = fs.Bool("verbose", false, "log one line per API request to stderr")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *key == "" {
		*key = os.Getenv("AFFISE_SIM_KEY")
	}
	if *key == "" {
		fmt.Fprintln(os.Stderr, "affise-sim: --key (or AFFISE_SIM_KEY) is required")
		return 2
	}
	cfg := affisesim.Config{
		Key: *key, AffiliateKey: *affKey, AffiliatePartner: *affPartner, Seed: *seed,
		Conversions: *convs, Days: *days, ClicksPerConversion: *cpc, Offers: *offers, Partners: *partners,
		Advertisers: *advs, Timezone: *tz, Retention: *retention, ChurnPerMinute: *churn,
		FaultRate: *faultRate, Stall: *stall, RPS: *rps, Latency: *latency,
	}
	cur, err := affisesim.ParseCurrencies(*currencies)
	if err != nil {
		fmt.Fprintf(os.Stderr, "affise-sim: --currencies: %v\n", err)
		return 2
	}
	cfg.Currencies = cur
	if *faultKinds != "" {
		cfg.FaultKinds = strings.Split(*faultKinds, ",")
	} else {
		cfg.FaultKinds = []string{}
	}
	if *anchor != "" {
		t, err := time.Parse(time.RFC3339, *anchor)
		if err != nil {
			fmt.Fprintf(os.Stderr, "affise-sim: --anchor: %v\n", err)
			return 2
		}
		cfg.Now = t
	}
	if *clock != "" {
		t0, err := time.Parse(time.RFC3339, *clock)
		if err != nil {
			fmt.Fprintf(os.Stderr, "affise-sim: --clock: %v\n", err)
			return 2
		}
		started := time.Now()
		cfg.Clock = func() time.Time { return t0.Add(time.Since(started)) }
	}
	if *verbose {
		cfg.Log = os.Stderr
	}
	start := time.Now()
	sim, err := affisesim.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "affise-sim: %v\n", err)
		return 2
	}
	defer sim.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "affise-sim: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "affise-sim: %d conversions over %d days (seed %d) generated in %s; listening on http://%s\n",
		*convs, *days, *seed, time.Since(start).Round(time.Millisecond), ln.Addr())
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
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
