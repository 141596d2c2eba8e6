// Package verify checks the warehouse against Affise's own numbers: per day
// (of the network's calendar) and currency, the count and money of
// conversions per status, as /3.0/stats/custom reports them with slice[]=day
// and filter[currency]. It reads the warehouse with SQL (DuckDB's dialect,
// which both kinds of warehouse speak) and Affise through the extract
// client, so it sends a few requests: one per currency and window of at most
// 31 days.
package verify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncd/syncd/load"
)

// Statuses are the statuses compared one by one; Total counts all of them.
var Statuses = []string{"confirmed", "pending", "declined", "hold"}

// Numbers are one day and currency's conversions per status: counts and
// money (Revenue is the advertiser's, Payouts the affiliates').
type Numbers struct {
	Clicks  int64 // a ClicksCurrency row's only number
	Count   map[string]int64
	Revenue map[string]float64
	Payouts map[string]float64
}

func newNumbers() Numbers {
	return Numbers{Count: map[string]int64{}, Revenue: map[string]float64{}, Payouts: map[string]float64{}}
}

// Key names a compared day and currency.
type Key struct {
	Day      string // YYYY-MM-DD, of the network's calendar
	Currency string
}

// Row is one compared day and currency.
type Row struct {
	Key
	Warehouse, Affise Numbers
	// Diffs says what differs, e.g. "confirmed count 12 != 13"; none when
	// the day agrees.
	Diffs []string
}

// Report is a verification's result.
type Report struct {
	From, To   time.Time // days [From, To) of the network's calendar, as UTC midnights
	Rows       []Row     // ordered by day, then currency
	Requests   int64
	Currencies []string
}

// Mismatched lists the rows that differ.
func (r Report) Mismatched() []Row {
	var out []Row
	for _, row := range r.Rows {
		if len(row.Diffs) > 0 {
			out = append(out, row)
		}
	}
	return out
}

// MismatchedDays lists the days with a difference in any currency, in
// order.
func (r Report) MismatchedDays() []time.Time {
	seen := map[string]bool{}
	var out []time.Time
	for _, row := range r.Mismatched() {
		if seen[row.Day] {
			continue
		}
		seen[row.Day] = true
		d, _ := time.Parse(time.DateOnly, row.Day)
		out = append(out, d)
	}
	return out
}

// Affise is what verify asks Affise: one list endpoint read whole (the
// extract client's List). Safe for concurrent use.
type Affise interface {
	List(ctx context.Context, path, listKey string, q url.Values) ([][]byte, int64, error)
}

// Config is a verification.
type Config struct {
	// Loc is the network's zone (api.timezone): its calendar's days are
	// compared, as Affise counts them.
	Loc *time.Location
	// From, To are the days [From, To) to compare, as UTC midnights
	// standing for days of Loc's calendar.
	From, To time.Time
	// Currencies are compared one by one; the warehouse's are added.
	Currencies []string
	// ClicksFrom, ClicksTo bound the days [ClicksFrom, ClicksTo) whose
	// clicks are compared too: days Affise still keeps clicks of and the
	// warehouse's clicks cursor has passed. Empty: no clicks compared.
	ClicksFrom, ClicksTo time.Time
}

// ClicksCurrency is the Key.Currency of a day's clicks row: clicks carry
// no currency.
const ClicksCurrency = "clicks"

// maxWindowDays bounds one custom-stats request, as stats_daily's windows.
const maxWindowDays = 31

// Run compares the warehouse with Affise over cfg's days.
func Run(ctx context.Context, wh load.Querier, api Affise, cfg Config) (Report, error) {
	rep := Report{From: cfg.From, To: cfg.To}
	if !cfg.From.Before(cfg.To) {
		return rep, fmt.Errorf("verify: empty range %s..%s", cfg.From.Format(time.DateOnly), cfg.To.Format(time.DateOnly))
	}
	ours, err := warehouseNumbers(ctx, wh, cfg)
	if err != nil {
		return rep, err
	}
	currencies := slices.Clone(cfg.Currencies)
	for k := range ours {
		currencies = append(currencies, k.Currency)
	}
	slices.Sort(currencies)
	currencies = slices.Compact(slices.DeleteFunc(currencies, func(c string) bool { return c == "" }))
	rep.Currencies = currencies

	theirs := map[Key]Numbers{}
	for _, cur := range currencies {
		for from := cfg.From; from.Before(cfg.To); from = from.AddDate(0, 0, maxWindowDays) {
			to := minTime(from.AddDate(0, 0, maxWindowDays), cfg.To)
			n, reqs, err := affiseNumbers(ctx, api, cur, from, to, cfg.Loc)
			rep.Requests += reqs
			if err != nil {
				return rep, err
			}
			for day, num := range n {
				theirs[Key{Day: day, Currency: cur}] = num
			}
		}
	}
	if cfg.ClicksFrom.Before(cfg.ClicksTo) {
		ourClicks, err := warehouseClicks(ctx, wh, cfg)
		if err != nil {
			return rep, err
		}
		theirClicks, reqs, err := affiseClicks(ctx, api, cfg)
		rep.Requests += reqs
		if err != nil {
			return rep, err
		}
		for d := cfg.ClicksFrom; d.Before(cfg.ClicksTo); d = d.AddDate(0, 0, 1) {
			day := d.Format(time.DateOnly)
			w, a := ourClicks[day], theirClicks[day]
			row := Row{Key: Key{Day: day, Currency: ClicksCurrency}, Warehouse: newNumbers(), Affise: newNumbers()}
			row.Warehouse.Clicks, row.Affise.Clicks = w, a
			if w != a {
				row.Diffs = []string{fmt.Sprintf("clicks %d != %d", w, a)}
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	keys := map[Key]bool{}
	for k := range ours {
		keys[k] = true
	}
	for k := range theirs {
		keys[k] = true
	}
	for k := range keys {
		w, a := orEmpty(ours[k]), orEmpty(theirs[k])
		rep.Rows = append(rep.Rows, Row{Key: k, Warehouse: w, Affise: a, Diffs: compare(w, a)})
	}
	slices.SortFunc(rep.Rows, func(a, b Row) int {
		if c := strings.Compare(a.Day, b.Day); c != 0 {
			return c
		}
		return strings.Compare(a.Currency, b.Currency)
	})
	return rep, nil
}

func orEmpty(n Numbers) Numbers {
	if n.Count == nil {
		return newNumbers()
	}
	return n
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// compare lists what differs between the warehouse's numbers and
// Affise's: counts exactly, money to the cent (Affise sends floats).
func compare(w, a Numbers) []string {
	var out []string
	for _, st := range append(slices.Clone(Statuses), "total") {
		if w.Count[st] != a.Count[st] {
			out = append(out, fmt.Sprintf("%s count %d != %d", st, w.Count[st], a.Count[st]))
		}
		if math.Abs(w.Revenue[st]-a.Revenue[st]) >= 0.005 {
			out = append(out, fmt.Sprintf("%s revenue %.2f != %.2f", st, w.Revenue[st], a.Revenue[st]))
		}
		if math.Abs(w.Payouts[st]-a.Payouts[st]) >= 0.005 {
			out = append(out, fmt.Sprintf("%s payouts %.2f != %.2f", st, w.Payouts[st], a.Payouts[st]))
		}
	}
	return out
}

// warehouseNumbers sums the conversions held per day of cfg.Loc's
// calendar, currency and status. Affise's total counts every conversion,
// not_found included, which has no action of its own in custom stats.
func warehouseNumbers(ctx context.Context, wh load.Querier, cfg Config) (map[Key]Numbers, error) {
	zone := strings.ReplaceAll(cfg.Loc.String(), "'", "")
	lo := cfg.From.Add(-14 * time.Hour).Format("2006-01-02 15:04:05") // zones reach UTC-12..+14
	hi := cfg.To.Add(14 * time.Hour).Format("2006-01-02 15:04:05")
	q := fmt.Sprintf(`SELECT CAST(timezone('%s', timezone('UTC', created_at)) AS DATE)::VARCHAR AS day, coalesce(currency, '') AS currency,
		status, count(*), coalesce(sum(revenue), 0)::DOUBLE, coalesce(sum(payouts), 0)::DOUBLE
		FROM conversions
		WHERE created_at >= TIMESTAMP '%s' AND created_at < TIMESTAMP '%s'
		GROUP BY 1, 2, 3`, zone, lo, hi)
	out := map[Key]Numbers{}
	from, to := cfg.From.Format(time.DateOnly), cfg.To.Format(time.DateOnly)
	err := wh.Query(ctx, q, func(rows *sql.Rows) error {
		for rows.Next() {
			var k Key
			var st string
			var n int64
			var rev, pay float64
			if err := rows.Scan(&k.Day, &k.Currency, &st, &n, &rev, &pay); err != nil {
				return err
			}
			if k.Day < from || k.Day >= to {
				continue
			}
			num, ok := out[k]
			if !ok {
				num = newNumbers()
				out[k] = num
			}
			compared := []string{"total"}
			if slices.Contains(Statuses, st) {
				compared = append(compared, st)
			}
			for _, s := range compared {
				num.Count[s] += n
				num.Revenue[s] += rev
				num.Payouts[s] += pay
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("verify: reading the warehouse's conversions: %w", err)
	}
	return out, nil
}

// statsItem is the part of a /3.0/stats/custom item verify reads.
type statsItem struct {
	Slice struct {
		Year  json.Number `json:"year"`
		Month json.Number `json:"month"`
		Day   json.Number `json:"day"`
	} `json:"slice"`
	Actions map[string]struct {
		Count   json.Number `json:"count"`
		Revenue json.Number `json:"revenue"` // affiliate payouts
		Charge  json.Number `json:"charge"`  // advertiser revenue
	} `json:"actions"`
}

// day is the item's day (slice[]=day), as YYYY-MM-DD.
func (it statsItem) day() (string, error) {
	y, _ := strconv.Atoi(it.Slice.Year.String())
	m, _ := strconv.Atoi(it.Slice.Month.String())
	d, _ := strconv.Atoi(it.Slice.Day.String())
	if y == 0 || m == 0 || d == 0 {
		return "", errors.New("item has no day")
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), nil
}

// affiseNumbers asks Affise for one currency's numbers per day of [from, to).
func affiseNumbers(ctx context.Context, api Affise, cur string, from, to time.Time, loc *time.Location) (map[string]Numbers, int64, error) {
	q := url.Values{}
	q.Add("slice[]", "day")
	q.Set("filter[date_from]", from.Format(time.DateOnly))
	q.Set("filter[date_to]", to.AddDate(0, 0, -1).Format(time.DateOnly))
	q.Set("filter[currency][]", cur)
	q.Set("timezone", loc.String())
	items, reqs, err := api.List(ctx, "/3.0/stats/custom", "stats", q)
	if err != nil {
		return nil, reqs, fmt.Errorf("verify: GET /3.0/stats/custom %s %s..%s: %w", cur, from.Format(time.DateOnly), to.Format(time.DateOnly), err)
	}
	out := map[string]Numbers{}
	for i, raw := range items {
		var it statsItem
		if err := json.Unmarshal(raw, &it); err != nil {
			return nil, reqs, fmt.Errorf("verify: /3.0/stats/custom %s item %d: %w", cur, i+1, err)
		}
		day, err := it.day()
		if err != nil {
			return nil, reqs, fmt.Errorf("verify: /3.0/stats/custom %s item %d: %w", cur, i+1, err)
		}
		num, ok := out[day]
		if !ok {
			num = newNumbers()
			out[day] = num
		}
		for _, st := range append(slices.Clone(Statuses), "total") {
			a := it.Actions[st]
			n, _ := strconv.ParseFloat(orZero(a.Count.String()), 64)
			rev, _ := strconv.ParseFloat(orZero(a.Charge.String()), 64)
			pay, _ := strconv.ParseFloat(orZero(a.Revenue.String()), 64)
			num.Count[st] += int64(math.Round(n))
			num.Revenue[st] += rev
			num.Payouts[st] += pay
		}
	}
	return out, reqs, nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// warehouseClicks counts the clicks held per day of cfg.Loc's calendar.
func warehouseClicks(ctx context.Context, wh load.Querier, cfg Config) (map[string]int64, error) {
	zone := strings.ReplaceAll(cfg.Loc.String(), "'", "")
	lo := cfg.ClicksFrom.Add(-14 * time.Hour).Format("2006-01-02 15:04:05")
	hi := cfg.ClicksTo.Add(14 * time.Hour).Format("2006-01-02 15:04:05")
	q := fmt.Sprintf(`SELECT CAST(timezone('%s', timezone('UTC', created_at)) AS DATE)::VARCHAR, count(*)
		FROM clicks WHERE created_at >= TIMESTAMP '%s' AND created_at < TIMESTAMP '%s' GROUP BY 1`, zone, lo, hi)
	out := map[string]int64{}
	err := wh.Query(ctx, q, func(rows *sql.Rows) error {
		for rows.Next() {
			var day string
			var n int64
			if err := rows.Scan(&day, &n); err != nil {
				return err
			}
			out[day] = n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("verify: reading the warehouse's clicks: %w", err)
	}
	return out, nil
}

// affiseClicks asks Affise for the raw clicks per day, all currencies.
func affiseClicks(ctx context.Context, api Affise, cfg Config) (map[string]int64, int64, error) {
	q := url.Values{}
	q.Add("slice[]", "day")
	q.Set("filter[date_from]", cfg.ClicksFrom.Format(time.DateOnly))
	q.Set("filter[date_to]", cfg.ClicksTo.AddDate(0, 0, -1).Format(time.DateOnly))
	q.Set("timezone", cfg.Loc.String())
	items, reqs, err := api.List(ctx, "/3.0/stats/custom", "stats", q)
	if err != nil {
		return nil, reqs, fmt.Errorf("verify: GET /3.0/stats/custom (clicks): %w", err)
	}
	out := map[string]int64{}
	for i, raw := range items {
		var it struct {
			statsItem
			Traffic struct {
				Raw json.Number `json:"raw"`
			} `json:"traffic"`
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return nil, reqs, fmt.Errorf("verify: /3.0/stats/custom (clicks) item %d: %w", i+1, err)
		}
		day, err := it.day()
		if err != nil {
			return nil, reqs, fmt.Errorf("verify: /3.0/stats/custom (clicks) item %d: %w", i+1, err)
		}
		n, _ := strconv.ParseInt(orZero(it.Traffic.Raw.String()), 10, 64)
		out[day] += n
	}
	return out, reqs, nil
}
