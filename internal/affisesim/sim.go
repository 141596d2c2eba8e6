// Package affisesim is a local, deterministic simulator of the Affise REST
// API 3.0 (the subset syncd syncs): conversions, clicks, server and
// affiliate postbacks, custom stats, offers, partners and advertisers, and
// currency rates, with Affise's filters, pagination, time zones, currencies,
// type quirks, data churn and injectable faults. cmd/affise-sim serves it;
// tests use it in-process.
package affisesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config sizes and shapes a simulator. Zero values take the defaults noted.
type Config struct {
	Key              string // admin API key (required)
	AffiliateKey     string // optional affiliate API key
	AffiliatePartner int    // partner id the affiliate key acts as (default: first partner)

	Seed int64
	// Variant draws another network's data with Seed's ids: variant 0 is
	// Seed's data set; any other variant has the same conversion, click,
	// postback, offer, partner and advertiser ids (as networks on one
	// platform share id spaces: offer 1 exists on every one) with other
	// contents. See Networks.
	Variant             int
	Conversions         int     // default 10000
	Days                int     // history length in days (default 30)
	ClicksPerConversion float64 // clicks per conversion incl. the converting one (default 5)
	Offers              int     // default 40
	Partners            int     // default 25
	Advertisers         int     // default 8

	Currencies []Currency // conversions' currencies and shares (default DefaultCurrencies)

	Timezone  string        // platform default zone (default UTC)
	Retention time.Duration // click retention (default 7 days)

	Now   time.Time        // anchor the history ends at (default: the clock at New)
	Clock func() time.Time // the clock (default time.Now)

	ChurnPerMinute float64 // background changes per minute (0: none)

	FaultRate  float64       // 0..1
	FaultKinds []string      // see FaultKinds; default all but "stall"
	Stall      time.Duration // how long a "stall" fault sleeps (default 90s)
	RPS        int           // server-side requests per second limit (0: none)
	Latency    time.Duration // added to every API request

	Log io.Writer // one line per request when set (never the key)
}

// AllFaultKinds lists the injectable faults.
var AllFaultKinds = []string{"429", "500", "502", "status2", "truncated", "reset", "stall"}

// DefaultFaultKinds is every kind but stall.
var DefaultFaultKinds = []string{"429", "500", "502", "status2", "truncated", "reset"}

// Sim is a simulated Affise network. It is an http.Handler.
type Sim struct {
	cfg    Config
	seed   uint64 // the data's: Seed + Variant
	idSeed uint64 // the ids': Seed
	zone   *time.Location
	zones  sync.Map // zone name -> *time.Location, see loadZone
	anchor time.Time
	now    func() time.Time

	mu          sync.RWMutex // guards the data below
	managers    []manager
	advs        []advertiser
	offers      []offer
	partners    []partner
	camps       []campaign
	campCum     []float64
	devCum      []float64
	curs        []simCurrency
	convs       []conv
	byUpd       []uint32 // conversion indices sorted by (updated, index)
	pending     []uint32 // indices of pending conversions (churn candidates)
	clicks      []click  // retained clicks sorted by created
	clickSerial uint32
	agg         []aggEntry
	version     uint64
	churnRng    *rand.Rand

	cacheMu sync.Mutex
	cache   map[string]*cached

	hmu     sync.Mutex // guards hide and hideGen
	hide    *hide
	hideGen uint64

	fmu        sync.Mutex
	faultRate  float64
	faultKinds []string
	faultRng   *rand.Rand
	rpsSec     int64
	rpsCount   int

	cmu    sync.Mutex
	total  int64
	byEP   map[string]int64
	byCode map[string]int64

	mux    *http.ServeMux
	stop   context.CancelFunc
	stopWG sync.WaitGroup
}

type cached struct {
	version uint64
	idx     []uint32
}

// New generates the data set and returns a ready simulator. If
// cfg.ChurnPerMinute > 0 a background goroutine applies churn until Close.
func New(cfg Config) (*Sim, error) {
	if cfg.Key == "" {
		return nil, errors.New("affisesim: an API key is required")
	}
	if cfg.AffiliateKey != "" && cfg.AffiliateKey == cfg.Key {
		return nil, errors.New("affisesim: the affiliate key must differ from the admin key")
	}
	if cfg.Conversions < 0 || cfg.Days < 0 || cfg.ClicksPerConversion < 0 || cfg.FaultRate < 0 || cfg.FaultRate > 1 || cfg.RPS < 0 {
		return nil, errors.New("affisesim: negative sizes, or a fault rate outside 0..1")
	}
	orDefault(&cfg.Conversions, 10000)
	orDefault(&cfg.Days, 30)
	orDefault(&cfg.ClicksPerConversion, 5)
	if cfg.ClicksPerConversion < 1 {
		cfg.ClicksPerConversion = 1
	}
	orDefault(&cfg.Offers, 40)
	orDefault(&cfg.Partners, 25)
	orDefault(&cfg.Advertisers, 8)
	if cfg.Offers > 255 || cfg.Partners > 255 || cfg.Advertisers > 255 {
		return nil, errors.New("affisesim: at most 255 offers, partners and advertisers")
	}
	orDefault(&cfg.Timezone, "UTC")
	orDefault(&cfg.Retention, 7*24*time.Hour)
	orDefault(&cfg.Stall, 90*time.Second)
	if cfg.FaultKinds == nil {
		cfg.FaultKinds = DefaultFaultKinds
	}
	zone, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("affisesim: timezone %q: %v", cfg.Timezone, err)
	}
	dataSeed := uint64(cfg.Seed) + uint64(cfg.Variant)
	s := &Sim{cfg: cfg, seed: dataSeed, idSeed: uint64(cfg.Seed), zone: zone, now: cfg.Clock,
		cache: map[string]*cached{}, byEP: map[string]int64{}, byCode: map[string]int64{},
		churnRng: rand.New(rand.NewPCG(dataSeed, 0xc4a2)),
		faultRng: rand.New(rand.NewPCG(dataSeed, 0xfa17)),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.anchor = cfg.Now
	if s.anchor.IsZero() {
		s.anchor = s.now()
	}
	if cfg.AffiliatePartner == 0 {
		s.cfg.AffiliatePartner = 1
	}
	if s.cfg.AffiliatePartner < 1 || s.cfg.AffiliatePartner > cfg.Partners {
		return nil, fmt.Errorf("affisesim: affiliate partner %d does not exist (1..%d)", s.cfg.AffiliatePartner, cfg.Partners)
	}
	if err := s.SetFaults(cfg.FaultRate, cfg.FaultKinds); err != nil {
		return nil, err
	}
	if s.cfg.Currencies == nil {
		s.cfg.Currencies = DefaultCurrencies()
	}
	if err := s.setCurrencies(s.cfg.Currencies); err != nil {
		return nil, fmt.Errorf("affisesim: %w", err)
	}
	s.generate()
	s.routes()
	if cfg.ChurnPerMinute > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		s.stopWG.Add(1)
		go s.churnLoop(ctx, cfg.ChurnPerMinute)
	}
	return s, nil
}

// orDefault sets *v to def when it holds the zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Close stops background churn.
func (s *Sim) Close() {
	if s.stop != nil {
		s.stop()
		s.stopWG.Wait()
	}
}

func (s *Sim) churnLoop(ctx context.Context, perMin float64) {
	defer s.stopWG.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	carry := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			carry += perMin / 60
			if n := int(carry); n > 0 {
				carry -= float64(n)
				s.Churn(n)
			}
		}
	}
}

// Churn applies n changes now: about half pending conversions change
// status, half are new conversions (with their clicks and postbacks).
func (s *Sim) Churn(n int) (changed, created int) {
	if n <= 0 {
		return 0, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.churnLocked(n)
}

// ChurnAged settles up to n pending or hold conversions created between
// maxAge and minAge before now (confirmed or declined, updated_at now) and
// creates none; it returns how many changed (fewer when fewer qualify).
// maxAge < 0 means no lower bound on creation.
func (s *Sim) ChurnAged(n int, minAge, maxAge time.Duration) int {
	if maxAge < 0 {
		maxAge = math.MaxInt64
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.churnAgedLocked(n, minAge, maxAge)
}

// SetFaults changes fault injection: rate in 0..1 of API requests answer
// with one of kinds (nil: the default kinds).
func (s *Sim) SetFaults(rate float64, kinds []string) error {
	if rate < 0 || rate > 1 {
		return fmt.Errorf("fault rate %v outside 0..1", rate)
	}
	if kinds == nil {
		kinds = DefaultFaultKinds
	}
	for _, k := range kinds {
		if !slices.Contains(AllFaultKinds, k) {
			return fmt.Errorf("unknown fault kind %q (want %s)", k, strings.Join(AllFaultKinds, ","))
		}
	}
	if rate > 0 && len(kinds) == 0 {
		return errors.New("a fault rate needs at least one kind")
	}
	s.fmu.Lock()
	s.faultRate, s.faultKinds = rate, append([]string(nil), kinds...)
	s.fmu.Unlock()
	return nil
}

// RequestStats counts the API requests served (not /_sim ones).
type RequestStats struct {
	Total      int64            `json:"total"`
	ByEndpoint map[string]int64 `json:"by_endpoint"`
	ByCode     map[string]int64 `json:"by_code"`
}

// Requests returns a copy of the request counters.
func (s *Sim) Requests() RequestStats {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	r := RequestStats{Total: s.total, ByEndpoint: map[string]int64{}, ByCode: map[string]int64{}}
	for k, v := range s.byEP {
		r.ByEndpoint[k] = v
	}
	for k, v := range s.byCode {
		r.ByCode[k] = v
	}
	return r
}

// ResetRequests zeroes the request counters.
func (s *Sim) ResetRequests() {
	s.cmu.Lock()
	s.total, s.byEP, s.byCode = 0, map[string]int64{}, map[string]int64{}
	s.cmu.Unlock()
}

func (s *Sim) count(ep string, code string) {
	s.cmu.Lock()
	s.total++
	s.byEP[ep]++
	s.byCode[code]++
	s.cmu.Unlock()
}

// endpoint is one path of the simulated API. Adding a stream is a line
// here, its handler and, when it has a data set of its own, its truth.
type endpoint struct {
	path  string
	serve func(*Sim, *request) ([]byte, *apiError)
	// stream names the data set /_sim/truth serves for the endpoint, as
	// syncd names the stream; "" when its rows are derived (custom stats).
	stream string
	truth  func(*Sim) (n int, row truthRow)
}

// truthRow appends row i of a data set to b, in the API's shape with
// timestamps in UTC; nil skips the row.
type truthRow func(b []byte, i int, lz *localizer) []byte

func endpoints() []endpoint {
	return []endpoint{
		{"/3.0/stats/conversions", (*Sim).handleConversions, "conversions", (*Sim).conversionsTruth},
		{"/3.0/stats/clicks", (*Sim).handleClicks, "clicks", (*Sim).clicksTruth},
		{"/3.0/stats/serverpostbacks", (*Sim).handleServerPostbacks, "server_postbacks", (*Sim).serverPostbacksTruth},
		{"/3.0/stats/affiliatepostbacks", (*Sim).handleAffiliatePostbacks, "affiliate_postbacks", (*Sim).affiliatePostbacksTruth},
		{"/3.0/stats/custom", (*Sim).handleCustom, "", nil},
		{"/3.0/offers", (*Sim).handleOffers, "offers", (*Sim).offersTruth},
		{"/3.0/admin/partners", (*Sim).handlePartners, "partners", (*Sim).partnersTruth},
		{"/3.0/admin/advertisers", (*Sim).handleAdvertisers, "advertisers", (*Sim).advertisersTruth},
		// Rates per day: /_sim/truth/currency_rates has a handler of its own.
		{"/3.0/admin/currency", (*Sim).handleCurrency, "", nil},
	}
}

// referenceEndpoints are served like endpoints but are no data set syncd
// reads, so Endpoints and Streams (which syncd's registry is checked
// against) leave them out.
func referenceEndpoints() []endpoint { return nil }

// Endpoints lists the API paths the simulator serves.
func Endpoints() []string {
	var paths []string
	for _, e := range endpoints() {
		paths = append(paths, e.path)
	}
	return paths
}

// Streams names the data sets Truth serves.
func Streams() []string {
	var names []string
	for _, e := range endpoints() {
		if e.truth != nil {
			names = append(names, e.stream)
		}
	}
	return names
}

// Truth returns the full current data set of a stream, each row in the
// API's object shape with timestamps in UTC.
func (s *Sim) Truth(stream string) ([]json.RawMessage, error) {
	var rows []json.RawMessage
	err := s.writeTruth(stream, func(b []byte) error {
		rows = append(rows, json.RawMessage(append([]byte(nil), b...)))
		return nil
	})
	return rows, err
}

func (s *Sim) routes() {
	m := http.NewServeMux()
	for _, e := range append(endpoints(), referenceEndpoints()...) {
		serve := e.serve
		m.Handle(e.path, s.apiHandler(e.path, func(r *request) ([]byte, *apiError) { return serve(s, r) }))
	}
	m.Handle("/3.0/", s.apiHandler("other", func(*request) ([]byte, *apiError) {
		return nil, &apiError{code: 404, msg: "Not found"}
	}))
	m.HandleFunc("POST /_sim/churn", s.ctlChurn)
	m.HandleFunc("GET /_sim/truth/{stream}", s.ctlTruth)
	m.HandleFunc("GET /_sim/truth/currency_rates", s.ctlCurrencyRates)
	m.HandleFunc("POST /_sim/hide-once", s.ctlHideOnce)
	m.HandleFunc("GET /_sim/hide-once", s.ctlHideState)
	m.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Requests()) })
	m.HandleFunc("POST /_sim/requests/reset", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRequests()
		writeJSON(w, 200, map[string]any{"ok": true})
	})
	m.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) { s.writeFaults(w) })
	m.HandleFunc("POST /_sim/faults", s.ctlFaults)
	m.HandleFunc("GET /_sim/info", s.ctlInfo)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, map[string]any{"status": 2, "error": "Not found"})
	})
	s.mux = m
}

// ServeHTTP serves the API and the /_sim control endpoints.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func (s *Sim) ctlChurn(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n < 0 {
		writeJSON(w, 400, map[string]any{"error": "n must be a non-negative integer"})
		return
	}
	if q.Has("min_age") || q.Has("max_age") {
		minAge, maxAge := time.Duration(0), time.Duration(-1)
		for _, a := range []struct {
			name string
			to   *time.Duration
		}{{"min_age", &minAge}, {"max_age", &maxAge}} {
			if !q.Has(a.name) {
				continue
			}
			d, err := parseAge(q.Get(a.name))
			if err != nil {
				writeJSON(w, 400, map[string]any{"error": fmt.Sprintf("%s: %v", a.name, err)})
				return
			}
			*a.to = d
		}
		if maxAge >= 0 && maxAge < minAge {
			writeJSON(w, 400, map[string]any{"error": "max_age is less than min_age"})
			return
		}
		writeJSON(w, 200, map[string]int{"changed": s.ChurnAged(n, minAge, maxAge), "created": 0})
		return
	}
	ch, cr := s.Churn(n)
	writeJSON(w, 200, map[string]int{"changed": ch, "created": cr})
}

// parseAge reads an age as a Go duration or a whole number of days ("30d"):
// hold periods are counted in days.
func parseAge(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a duration nor days (30d): %w", v, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return d, nil
}

func (s *Sim) ctlFaults(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Rate  *float64 `json:"rate"`
		Kinds []string `json:"kinds"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.Rate == nil {
		writeJSON(w, 400, map[string]any{"error": "want JSON {\"rate\":0..1,\"kinds\":[...]}"})
		return
	}
	if err := s.SetFaults(*req.Rate, req.Kinds); err != nil {
		writeJSON(w, 400, map[string]any{"error": err.Error()})
		return
	}
	s.writeFaults(w)
}

// writeFaults replies with the current fault settings.
func (s *Sim) writeFaults(w http.ResponseWriter) {
	s.fmu.Lock()
	v := map[string]any{"rate": s.faultRate, "kinds": s.faultKinds}
	s.fmu.Unlock()
	writeJSON(w, 200, v)
}

func (s *Sim) ctlInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	v := map[string]any{
		"seed": s.cfg.Seed, "variant": s.cfg.Variant, "timezone": s.cfg.Timezone, "anchor": s.anchor.UTC().Format(time.RFC3339),
		"conversions": len(s.convs), "clicks_retained": len(s.clicks), "offers": len(s.offers),
		"partners": len(s.partners), "advertisers": len(s.advs), "version": s.version,
		"affiliate_partner": s.cfg.AffiliatePartner, "currencies": s.cfg.Currencies,
	}
	s.mu.RUnlock()
	writeJSON(w, 200, v)
}

func (s *Sim) ctlTruth(w http.ResponseWriter, r *http.Request) {
	stream := r.PathValue("stream")
	if !slices.Contains(Streams(), stream) {
		writeJSON(w, 404, map[string]any{"error": "unknown stream; want one of " + strings.Join(Streams(), ",")})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	bw := newBufWriter(w)
	bw.write([]byte(`{"rows":[`))
	first := true
	s.writeTruth(stream, func(b []byte) error {
		if !first {
			bw.write([]byte{','})
		}
		first = false
		bw.write(b)
		return nil
	})
	bw.write([]byte("]}\n"))
	bw.flush()
}

type bufWriter struct {
	w   io.Writer
	buf []byte
}

func newBufWriter(w io.Writer) *bufWriter { return &bufWriter{w: w, buf: make([]byte, 0, 1<<16)} }
func (b *bufWriter) write(p []byte) {
	b.buf = append(b.buf, p...)
	if len(b.buf) >= 1<<16 {
		b.flush()
	}
}
func (b *bufWriter) flush() { b.w.Write(b.buf); b.buf = b.buf[:0] }

// apiError is an Affise-style error reply.
type apiError struct {
	code int
	msg  string
}

// apiHandler wraps an endpoint with counting, latency, the rps limit,
// faults and auth.
func (s *Sim) apiHandler(ep string, h func(*request) ([]byte, *apiError)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		code := 200
		defer func() {
			s.count(ep, strconv.Itoa(code))
			if s.cfg.Log != nil {
				fmt.Fprintf(s.cfg.Log, "%s %s %s %d %s\n", start.Format(time.RFC3339), r.Method, r.URL.Path, code, time.Since(start).Round(time.Microsecond))
			}
		}()
		if s.cfg.Latency > 0 {
			select {
			case <-time.After(s.cfg.Latency):
			case <-r.Context().Done():
			}
		}
		if s.cfg.RPS > 0 && !s.rpsAllow() {
			code = 429
			w.Header().Set("Retry-After", "1")
			writeRaw(w, code, []byte(`{"status":2,"error":"Too many requests","statusCode":429}`))
			return
		}
		fault := s.pickFault()
		switch fault {
		case "429":
			code = 429
			w.Header().Set("Retry-After", "1")
			writeRaw(w, code, []byte(`{"status":2,"error":"Rate limit exceeded","statusCode":429}`))
			return
		case "500":
			code = 500
			writeRaw(w, code, []byte(`{"status":2,"error":"Internal server error","statusCode":500}`))
			return
		case "502":
			code = 502
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			io.WriteString(w, badGatewayHTML)
			return
		case "stall":
			select {
			case <-time.After(s.cfg.Stall):
			case <-r.Context().Done():
				code = 499
				return
			}
		}
		if r.Method != http.MethodGet {
			code = 405
			writeRaw(w, code, []byte(`{"status":2,"error":"Method not allowed","statusCode":405}`))
			return
		}
		req, aerr := s.newRequest(r, ep)
		var body []byte
		if aerr == nil {
			body, aerr = h(req)
		}
		if aerr != nil {
			code = aerr.code
			b, _ := json.Marshal(map[string]any{"status": 2, "error": aerr.msg, "statusCode": aerr.code})
			writeRaw(w, code, b)
			return
		}
		switch fault {
		case "status2":
			writeRaw(w, 200, []byte(`{"status":2,"error":"Service temporarily unavailable, try again later","statusCode":200}`))
			return
		case "truncated":
			writeRaw(w, 200, body[:len(body)/2])
			return
		case "reset":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			w.Write(body[:len(body)/2])
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			panic(http.ErrAbortHandler)
		}
		writeRaw(w, 200, body)
		if req.delivered != nil {
			req.delivered()
		}
		putBuf(body)
	})
}

const badGatewayHTML = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

func (s *Sim) rpsAllow() bool {
	sec := time.Now().Unix()
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if sec != s.rpsSec {
		s.rpsSec, s.rpsCount = sec, 0
	}
	s.rpsCount++
	return s.rpsCount <= s.cfg.RPS
}

func (s *Sim) pickFault() string {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.faultRate <= 0 || len(s.faultKinds) == 0 {
		return ""
	}
	if s.faultRate < 1 && s.faultRng.Float64() >= s.faultRate {
		return ""
	}
	return s.faultKinds[s.faultRng.IntN(len(s.faultKinds))]
}
