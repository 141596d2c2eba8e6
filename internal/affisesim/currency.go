package affisesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Currency is one currency conversions are paid in, with its share of them.
type Currency struct {
	Code   string  `json:"code"`   // ISO 4217, upper case
	Weight float64 `json:"weight"` // relative share of conversions (> 0)
}

// DefaultCurrencies is the mix a network in several markets sees: mostly
// USD, some EUR, a little RUB, so per-currency sums differ by orders of
// magnitude and adding them is visibly wrong.
func DefaultCurrencies() []Currency {
	return []Currency{{"USD", 70}, {"EUR", 20}, {"RUB", 10}}
}

// ParseCurrencies reads "USD,EUR,RUB" or "USD:70,EUR:20,RUB:10". Without
// weights the first currency takes 70% and the others share the rest, each
// half the one before (USD,EUR,RUB: 70/20/10; USD,EUR: 70/30), so a bare
// list still has one dominant currency, as networks do.
func ParseCurrencies(spec string) ([]Currency, error) {
	var out []Currency
	weighted := 0
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		code, w, hasW := strings.Cut(part, ":")
		c := Currency{Code: strings.ToUpper(strings.TrimSpace(code))}
		if hasW {
			f, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
			if err != nil || !(f > 0) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("currency %s: weight %q is not a positive number", c.Code, w)
			}
			c.Weight = f
			weighted++
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no currency in %q", spec)
	}
	if weighted != 0 && weighted != len(out) {
		return nil, fmt.Errorf("give a weight to every currency in %q or to none", spec)
	}
	if weighted == 0 {
		out[0].Weight = 100
		if rest := len(out) - 1; rest > 0 {
			// x(1 + 1/2 + ... + 1/2^(rest-1)) = 30
			out[0].Weight = 70
			x := 30 / (2 - math.Pow(0.5, float64(rest-1)))
			for i := 1; i < len(out); i++ {
				out[i].Weight = x
				x /= 2
			}
		}
	}
	return out, validateCurrencies(out)
}

func validateCurrencies(cs []Currency) error {
	if len(cs) == 0 {
		return errors.New("no currency: conversions need at least one")
	}
	seen := map[string]bool{}
	for _, c := range cs {
		if _, ok := baseQuote(c.Code); !ok {
			return fmt.Errorf("unknown currency %q (known: %s)", c.Code, strings.Join(knownCurrencies(), ","))
		}
		if seen[c.Code] {
			return fmt.Errorf("currency %s given twice", c.Code)
		}
		if !(c.Weight > 0) {
			return fmt.Errorf("currency %s: weight %v is not positive", c.Code, c.Weight)
		}
		seen[c.Code] = true
	}
	if len(cs) > 255 {
		return fmt.Errorf("%d currencies: at most 255", len(cs))
	}
	return nil
}

// currencyQuote is a currency's quote per USD around which its daily rate
// moves: roughly the market of the mid 2020s, so amounts look plausible.
type currencyQuote struct {
	code  string
	quote float64
}

// currencyTable is every currency /3.0/admin/currency lists (those of the
// real response in the fixtures among them). A function,
// not a package variable, so no caller can change it under another.
func currencyTable() []currencyQuote {
	return []currencyQuote{
		{"USD", 1}, {"EUR", 0.92}, {"RUB", 89.5}, {"GBP", 0.79}, {"AED", 3.6725}, {"AFN", 71.2},
		{"ALL", 93.4}, {"AMD", 390.5}, {"ANG", 1.79}, {"AOA", 832.6}, {"AUD", 1.52}, {"BRL", 4.97},
		{"CAD", 1.36}, {"CHF", 0.88}, {"CNY", 7.19}, {"IDR", 15600}, {"INR", 83.1}, {"JPY", 149.5},
		{"KRW", 1320}, {"KZT", 450.2}, {"MXN", 17.1}, {"PLN", 3.98}, {"SEK", 10.4}, {"THB", 35.6},
		{"TRY", 30.9}, {"UAH", 37.4}, {"ZAR", 18.7},
	}
}

func baseQuote(code string) (float64, bool) {
	for _, c := range currencyTable() {
		if c.code == code {
			return c.quote, true
		}
	}
	return 0, false
}

func knownCurrencies() []string {
	var out []string
	for _, c := range currencyTable() {
		out = append(out, c.code)
	}
	return out
}

// simCurrency is a configured currency as the generator uses it.
type simCurrency struct {
	code  string
	cum   float64 // cumulative weight, for drawing
	quote float64 // base quote per USD: conversions' amounts scale by it
}

func (s *Sim) setCurrencies(cs []Currency) error {
	if err := validateCurrencies(cs); err != nil {
		return err
	}
	tot := 0.0
	for _, c := range cs {
		tot += c.Weight
		q, _ := baseQuote(c.Code)
		s.curs = append(s.curs, simCurrency{code: c.Code, cum: tot, quote: q})
	}
	return nil
}

// pickCurrency draws conversion ci's currency from a hash of its index
// rather than the generator's random stream: the rest of the data set stays
// the same whatever the currency mix, and a churned conversion gets its
// currency the same way. Real Affise takes the currency from the payment
// rule a conversion matched (goal, country, partner); drawing per
// conversion gives every day, offer and partner a mix, so per-currency
// numbers are exercised everywhere. Offers keep their USD payments.
func (s *Sim) pickCurrency(ci uint32) uint8 {
	if len(s.curs) <= 1 {
		return 0
	}
	x := float64(mix(s.seed^uint64(ci)<<8^0xc0)>>11) / (1 << 53) * s.curs[len(s.curs)-1].cum
	for i, c := range s.curs {
		if x < c.cum {
			return uint8(i)
		}
	}
	return uint8(len(s.curs) - 1)
}

// priceConv gives conversion ci its currency and converts its USD amounts
// at the currency's base quote: an offer priced in RUB has a fixed RUB
// payout, so amounts do not follow the daily rate.
func (s *Sim) priceConv(c *conv, ci uint32) {
	c.cur = s.pickCurrency(ci)
	if q := s.curs[c.cur].quote; q != 1 {
		c.revenue = int32(math.Round(float64(c.revenue) * q))
		c.payout = int32(math.Round(float64(c.payout) * q))
	}
}

// quotes returns every currency's quote per USD on the UTC day that
// contains t. Each moves around its base quote by a slow wave plus daily
// noise, both from the seed, so two days differ and the same day always
// reads the same; USD is 1. Six decimals, as Affise sends them.
func (s *Sim) quotes(t time.Time) map[string]float64 {
	day := floorDiv(t.Unix(), secsPerDay)
	out := map[string]float64{}
	for i, c := range currencyTable() {
		if c.code == "USD" {
			out[c.code] = 1
			continue
		}
		h := mix(s.seed ^ uint64(i)<<48 ^ 0x9a7e)
		phase := float64(h>>11) / (1 << 53)
		noise := float64(mix(h^uint64(day))>>11)/(1<<53)*2 - 1
		f := 1 + 0.04*math.Sin(2*math.Pi*(float64(day)/29+phase)) + 0.005*noise
		out[c.code] = math.Round(c.quote*f*1e6) / 1e6
	}
	return out
}

// Quotes returns what /3.0/admin/currency answers on the UTC day of t.
func (s *Sim) Quotes(t time.Time) map[string]float64 { return s.quotes(t) }

// activeCurrencies are the codes get_only_active=1 keeps: those
// conversions are paid in, and USD, Affise's base.
func (s *Sim) activeCurrencies() []string {
	out := []string{"USD"}
	for _, c := range s.curs {
		if !slices.Contains(out, c.code) {
			out = append(out, c.code)
		}
	}
	return out
}

func (s *Sim) handleCurrency(r *request) ([]byte, *apiError) {
	q := s.quotes(s.now())
	if v := r.q.Get("get_only_active"); v != "" && v != "0" {
		if v != "1" {
			return nil, &apiError{400, "get_only_active must be 0 or 1"}
		}
		active := s.activeCurrencies()
		for k := range q {
			if !slices.Contains(active, k) {
				delete(q, k)
			}
		}
	}
	b, err := json.Marshal(map[string]any{"status": 1, "quotes": q})
	if err != nil {
		return nil, &apiError{500, "encoding quotes: " + err.Error()}
	}
	return b, nil
}

// parseCurrencyFilter reads a currency filter (codes, any case) into a set
// over the configured currencies. A valid code no conversion is paid in
// selects nothing, as a currency the network has but does not use would.
func (s *Sim) parseCurrencyFilter(v []string) ([]bool, *apiError) {
	if len(v) == 0 {
		return nil, nil
	}
	set := make([]bool, len(s.curs))
	for _, x := range v {
		if len(x) != 3 || strings.IndexFunc(x, func(c rune) bool { return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') }) >= 0 {
			return nil, &apiError{400, "currency must be a list of currency codes, e.g. USD"}
		}
		for i, c := range s.curs {
			if strings.EqualFold(c.code, x) {
				set[i] = true
			}
		}
	}
	return set, nil
}

// currencyFilter adds the currency parameter name (plain, name[] or
// name[N]) to f.
func (s *Sim) currencyFilter(r *request, f *filter, name string) *apiError {
	set, aerr := s.parseCurrencyFilter(r.arr(name))
	if aerr != nil {
		return aerr
	}
	if set != nil {
		f.cur, f.any = set, true
	}
	return nil
}

// ctlCurrencyRates serves the quotes /3.0/admin/currency gives on each day
// (?day=YYYY-MM-DD for one; by default every day from the history's start
// to the clock's today), so tests can check rates syncd snapshotted.
func (s *Sim) ctlCurrencyRates(w http.ResponseWriter, r *http.Request) {
	first := time.Unix(floorDiv(s.anchor.Unix(), secsPerDay)*secsPerDay, 0).UTC().AddDate(0, 0, -s.cfg.Days)
	last := s.now().UTC()
	if v := r.URL.Query().Get("day"); v != "" {
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			writeJSON(w, 400, map[string]any{"error": "day must be YYYY-MM-DD"})
			return
		}
		first, last = d, d
	}
	type row struct {
		Date   string             `json:"date"`
		Quotes map[string]float64 `json:"quotes"`
	}
	var rows []row
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		rows = append(rows, row{d.Format(time.DateOnly), s.quotes(d)})
	}
	writeJSON(w, 200, map[string]any{"rows": rows})
}
