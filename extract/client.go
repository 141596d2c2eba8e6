package extract

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/syncd/syncd/models"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/rs/zerolog"
	"github.com/sethvargo/go-retry"
)

// Defaults of ClientConfig and of the client options.
const (
	DefaultPageSize          = 500
	MaxPageSize              = 500
	DefaultRequestsPerSecond = 3
	DefaultConcurrency       = 3
	DefaultTimeout           = 60 * time.Second
	DefaultMaxRetries        = 6
	DefaultMaxRetryAfter     = 60 * time.Second
	DefaultBackoffBase       = 1 * time.Second
	DefaultBackoffMax        = 30 * time.Second
	// DefaultBatchRows: each record in flight is about 1.6 MB of
	// conversions on the Go heap, and a backfill holds one or two per
	// window fetched ahead: 1,000 rows kept the heap under a 48 MiB soft
	// limit where 2,500 needed 64 (README "Memory"). The DuckDB sink
	// gathers several before each insert, so it costs no more statements.
	DefaultBatchRows    = 1000
	DefaultMaxPages     = 100000
	DefaultRewalks      = 3
	DefaultMaxBodyBytes = 64 << 20
)

// ClientConfig configures the Affise HTTP client. Zero fields take defaults.
type ClientConfig struct {
	// Network names the Affise network the client reaches (config
	// networks[].name; "" is models.DefaultNetwork). Every row its
	// extractors build carries it (models.NetworkColumn), and its log
	// lines name it.
	Network string
	// BaseURL of the network, e.g. https://api-example.affise.com. Paths are
	// appended to it.
	BaseURL string
	// Key is sent only as the API-Key header. It never appears in a URL, an
	// error, or a log line written by this package.
	Key string
	// KeySetting and BaseURLSetting name the config keys Key and BaseURL
	// came from (default api.key and api.base_url), so an error's hint
	// points at the one to fix: with several networks, networks[1].api.key.
	KeySetting, BaseURLSetting string
	// Timezone is the network's zone (default UTC): its calendar days are
	// stats_daily's days and start dates' days. Streams of rows ask for UTC
	// whatever it is. Location, when set, wins over Timezone; it must be a
	// named zone (not time.Local).
	Timezone string
	Location *time.Location
	// PageSize is the limit= of every list request (1..500, default 500).
	PageSize int
	// RequestsPerSecond is the request budget shared by every stream using the
	// client (burst 1, default 3): sends are never closer together than
	// 1/RequestsPerSecond. Retries spend it too. After an HTTP 429 the
	// client sends slower for a while (see Client.EffectiveRate), never
	// faster.
	RequestsPerSecond float64
	// Concurrency bounds requests in flight across all streams (default 3),
	// and how many pages of one window walk are fetched ahead.
	Concurrency int
	// Timeout bounds one HTTP attempt, body included (default 60s).
	Timeout time.Duration
	// MaxRetries is the number of retries after the first attempt of a
	// request (default 6; negative: none).
	MaxRetries int
	// MaxRetryAfter caps how long a Retry-After header makes us wait
	// (default 60s).
	MaxRetryAfter time.Duration
	Logger        zerolog.Logger
	// HTTPClient to use (its Timeout is left alone; a copy is made so the
	// redirect policy can be set). Default: a fresh http.Client.
	HTTPClient *http.Client
}

// String never shows the key.
func (c ClientConfig) String() string {
	key := ""
	if c.Key != "" {
		key = redacted
	}
	return fmt.Sprintf("ClientConfig{BaseURL:%s Key:%s Timezone:%s PageSize:%d RequestsPerSecond:%g Concurrency:%d Timeout:%s MaxRetries:%d MaxRetryAfter:%s}",
		c.BaseURL, key, c.Timezone, c.PageSize, c.RequestsPerSecond, c.Concurrency, c.Timeout, c.MaxRetries, c.MaxRetryAfter)
}

// GoString never shows the key.
func (c ClientConfig) GoString() string { return c.String() }

// Observer receives what the client does, for metrics. Calls may come from
// several goroutines at once.
type Observer interface {
	// ObserveRequest is called after every HTTP attempt. endpoint is the path
	// only; code is the HTTP status, 0 when no response arrived.
	ObserveRequest(endpoint string, code int, dur time.Duration)
	// ObserveRetry is called before waiting to retry; reason is short and
	// free of secrets.
	ObserveRetry(endpoint string, reason string, wait time.Duration)
}

// ClientOption adjusts a Client.
type ClientOption func(*Client)

// WithObserver adds an Observer.
func WithObserver(o Observer) ClientOption {
	return func(c *Client) { c.observers = append(c.observers, o) }
}

// WithOnRequest adds a hook called after every HTTP attempt.
func WithOnRequest(fn func(endpoint string, code int, dur time.Duration)) ClientOption {
	return func(c *Client) { c.onRequest = append(c.onRequest, fn) }
}

// WithBackoff sets the base and the cap of the exponential retry backoff
// (defaults 1s and 30s); jitter is ±20%.
func WithBackoff(base, maxWait time.Duration) ClientOption {
	return func(c *Client) { c.backoffBase, c.backoffMax = base, maxWait }
}

// WithBatchRows sets how many rows an emitted record holds at most (default
// DefaultBatchRows); an extractor's Options.BatchRows overrides it.
func WithBatchRows(n int) ClientOption { return func(c *Client) { c.batchRows = n } }

// WithMaxPages bounds the pages of one window walk (default 100000).
func WithMaxPages(n int) ClientOption { return func(c *Client) { c.maxPages = n } }

// WithRewalks sets how often a window whose rows do not add up to
// total_count is walked again before failing (default 3).
func WithRewalks(n int) ClientOption { return func(c *Client) { c.rewalks = n } }

// WithMaxBodyBytes caps the size of one response body (default 64 MiB).
func WithMaxBodyBytes(n int64) ClientOption { return func(c *Client) { c.maxBody = n } }

// WithClock replaces time.Now (for _synced_at and "today").
func WithClock(now func() time.Time) ClientOption { return func(c *Client) { c.now = now } }

// WithAllocator sets the Arrow allocator of the record builders.
func WithAllocator(mem memory.Allocator) ClientOption { return func(c *Client) { c.mem = mem } }

// Client is an Affise API 3.0 client: header auth, one shared request budget
// and concurrency limit, retries, and page walks. Safe for concurrent use.
type Client struct {
	network  string
	base     *url.URL
	settings settings
	key      string
	loc      *time.Location
	tz       string
	pageSize int
	timeout  time.Duration
	retries  int
	maxRA    time.Duration
	log      zerolog.Logger
	hc       *http.Client
	sem      chan struct{}
	// The pacer keeps sends at least 1/rate apart (burst 1): a late timer
	// delays a send but never bunches the next ones. paceMu (a channel, so
	// waiting for it can be cancelled) orders the senders; lastSend is
	// theirs.
	paceMu   chan struct{}
	lastSend time.Time
	aimd     *aimd

	backoffBase, backoffMax time.Duration
	batchRows               int
	maxPages                int
	rewalks                 int
	maxBody                 int64
	// lastBody is the size of the last body read: the next page's buffer
	// starts there (see readBody).
	lastBody  atomic.Int64
	now       func() time.Time
	mem       memory.Allocator
	observers []Observer
	onRequest []func(string, int, time.Duration)

	// unreachableAt: when a request last gave up on an unreachable server
	// (UnixNano; 0: never).
	unreachableAt atomic.Int64

	mu          sync.Mutex
	requests    map[RequestKey]int64
	retryCount  atomic.Int64
	rateLimited atomic.Int64
}

// RequestKey identifies a counter of Stats.Requests.
type RequestKey struct {
	Endpoint string // path only
	Code     int    // HTTP status, 0 when no response arrived
}

// Stats is a snapshot of the client's counters.
type Stats struct {
	Requests    map[RequestKey]int64
	Retries     int64 // attempts that were retried
	RateLimited int64 // HTTP 429 replies
}

// NewClient checks cfg and builds a client.
func NewClient(cfg ClientConfig, opts ...ClientOption) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("extract: api base_url is empty")
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("extract: api base_url %q is not an http(s) URL", Redact(cfg.BaseURL))
	}
	if base.User != nil || base.RawQuery != "" || base.Fragment != "" {
		return nil, errors.New("extract: api base_url must not carry credentials, a query or a fragment")
	}
	if err := CheckKey(cfg.Key); err != nil {
		return nil, fmt.Errorf("extract: api key %w", err)
	}
	loc := cfg.Location
	if loc == nil {
		name := cfg.Timezone
		if name == "" {
			name = "UTC"
		}
		loc, err = time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("extract: api timezone %q: %w", cfg.Timezone, err)
		}
	}
	tz := loc.String()
	if loc == time.Local || tz == "Local" || tz == "" {
		return nil, errors.New("extract: api timezone must be a named zone such as UTC or Europe/Berlin")
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.PageSize < 1 || cfg.PageSize > MaxPageSize {
		return nil, fmt.Errorf("extract: api page_size %d is outside 1..%d", cfg.PageSize, MaxPageSize)
	}
	if cfg.RequestsPerSecond == 0 {
		cfg.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if cfg.RequestsPerSecond < 0 {
		return nil, fmt.Errorf("extract: api requests_per_second %g is negative", cfg.RequestsPerSecond)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Concurrency < 0 {
		return nil, fmt.Errorf("extract: api concurrency %d is negative", cfg.Concurrency)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		hc = &cp
	}
	// The API-Key header is not one Go drops on redirects to another host:
	// refuse those so the key never travels elsewhere.
	prev := hc.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && req.URL.Host != via[0].URL.Host {
			return fmt.Errorf("refusing redirect to another host %q", req.URL.Host)
		}
		if prev != nil {
			return prev(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	network := cfg.Network
	if network == "" {
		network = models.DefaultNetwork
	}
	if !models.ValidNetworkName(network) {
		return nil, fmt.Errorf("extract: network name %q: use 1 to 40 of a-z, 0-9, '_' and '-'", network)
	}
	log := cfg.Logger
	if network != models.DefaultNetwork {
		log = log.With().Str("network", network).Logger()
	}
	c := &Client{
		network:     network,
		base:        base,
		settings:    settings{key: cfg.KeySetting, baseURL: cfg.BaseURLSetting}.or(defaultSettings),
		key:         cfg.Key,
		loc:         loc,
		tz:          tz,
		pageSize:    cfg.PageSize,
		timeout:     cfg.Timeout,
		retries:     cfg.MaxRetries,
		maxRA:       cfg.MaxRetryAfter,
		log:         log,
		hc:          hc,
		sem:         make(chan struct{}, cfg.Concurrency),
		paceMu:      make(chan struct{}, 1),
		aimd:        newAIMD(cfg.RequestsPerSecond, log),
		backoffBase: DefaultBackoffBase,
		backoffMax:  DefaultBackoffMax,
		batchRows:   DefaultBatchRows,
		maxPages:    DefaultMaxPages,
		rewalks:     DefaultRewalks,
		maxBody:     DefaultMaxBodyBytes,
		now:         time.Now,
		mem:         memory.DefaultAllocator,
		requests:    map[RequestKey]int64{},
	}
	for _, o := range opts {
		o(c)
	}
	if c.backoffBase <= 0 {
		c.backoffBase = DefaultBackoffBase
	}
	if c.backoffMax < c.backoffBase {
		c.backoffMax = c.backoffBase
	}
	if c.batchRows <= 0 {
		c.batchRows = DefaultBatchRows
	}
	if c.maxPages <= 0 {
		c.maxPages = DefaultMaxPages
	}
	if c.rewalks < 0 {
		c.rewalks = 0
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	return c, nil
}

// String never shows the key (e.g. when a Client is logged with %v).
func (c *Client) String() string {
	return fmt.Sprintf("extract.Client{BaseURL:%s Key:%s Timezone:%s PageSize:%d}", Redact(c.base.String()), redacted, c.tz, c.pageSize)
}

// GoString never shows the key.
func (c *Client) GoString() string { return c.String() }

// Location is the network's zone: the calendar of stats_daily's days.
func (c *Client) Location() *time.Location { return c.loc }

// Network is the network the client reaches (ClientConfig.Network).
func (c *Client) Network() string { return c.network }

// PageSize is the limit= sent with list requests.
func (c *Client) PageSize() int { return c.pageSize }

// Redact replaces this client's key (and any API-Key=... text) in s.
func (c *Client) Redact(s string) string { return RedactKey(Redact(s), c.key) }

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	req := make(map[RequestKey]int64, len(c.requests))
	for k, v := range c.requests {
		req[k] = v
	}
	c.mu.Unlock()
	return Stats{Requests: req, Retries: c.retryCount.Load(), RateLimited: c.rateLimited.Load()}
}

func (c *Client) observe(endpoint string, code int, dur time.Duration) {
	c.mu.Lock()
	c.requests[RequestKey{endpoint, code}]++
	c.mu.Unlock()
	if code == http.StatusTooManyRequests {
		c.rateLimited.Add(1)
	}
	for _, o := range c.observers {
		o.ObserveRequest(endpoint, code, dur)
	}
	for _, fn := range c.onRequest {
		fn(endpoint, code, dur)
	}
}

// RequestError is a failed request: permanent, or retryable but out of
// retries. Its text never carries the key.
type RequestError struct {
	Method   string
	Endpoint string // path only
	Page     int    // 0 when not a list request
	Code     int    // HTTP status, 0 when no response arrived
	Status   int    // Affise "status" of the body when it had one
	Message  string // Affise's error text or a description, redacted
	Attempts int
	// Temporary: the last failure was of a retryable kind (429, 5xx,
	// timeout, garbled body ...) and retries ran out.
	Temporary bool
	Err       error // underlying transport/decoding error, if any

	settings settings // what the hints name
}

// settings are the config keys a client's api settings came from, for the
// hints of its errors.
type settings struct{ key, baseURL string }

func (s settings) or(defaults settings) settings {
	if s.key == "" {
		s.key = defaults.key
	}
	if s.baseURL == "" {
		s.baseURL = defaults.baseURL
	}
	return s
}

var defaultSettings = settings{key: "api.key", baseURL: "api.base_url"}

func (e *RequestError) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Endpoint)
	if e.Page > 0 {
		fmt.Fprintf(&b, " page %d", e.Page)
	}
	b.WriteString(": ")
	if e.Code != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.Code)
		if e.Status != 0 && e.Status != 1 && e.Code < 300 {
			fmt.Fprintf(&b, " status %d", e.Status)
		}
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Message)
	set := e.settings.or(defaultSettings)
	switch e.Code {
	case http.StatusUnauthorized:
		b.WriteString(" (check " + set.key + ")")
	case http.StatusForbidden:
		b.WriteString(" (check " + set.key + ": its role may not use this endpoint)")
	case http.StatusNotFound:
		b.WriteString(" (check " + set.baseURL + ")")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *RequestError) Unwrap() error { return e.Err }

// An unreachable server (connection refused, unknown host, no TLS where
// https:// says there is) is retried this often and no longer than this
// apart: enough to ride out a restart or a resolver blip, while the
// backoff meant for an overloaded API would keep a user waiting minutes
// for a verdict that only a fix of api.base_url or the server changes.
//
// Once a request has given up so, the verdict stands for
// unreachableVerdict: the other streams of the same run make one attempt
// each instead of each waiting out its own retries.
const (
	unreachableRetries = 2
	unreachableWait    = 500 * time.Millisecond
	unreachableVerdict = 10 * time.Second
)

// attemptError is one failed attempt and whether it may be retried.
type attemptError struct {
	re         *RequestError
	retryable  bool
	retryAfter time.Duration
	reason     string // short, for logs and observers
	// unreachable: retried only unreachableRetries times, quickly.
	unreachable bool
	// unsent: cancelled before the request left; not an attempt.
	unsent bool
}

func (e *attemptError) Error() string { return e.re.Error() }

// pageReply is a decoded list response.
type pageReply struct {
	items      [][]byte
	pagination *pagination
	status     int
}

// getPage fetches one page with retries. attempts counts HTTP attempts made.
func (c *Client) getPage(ctx context.Context, path, listKey string, q url.Values, page int) (*pageReply, int, error) {
	params := url.Values{}
	for k, v := range q {
		params[k] = append([]string(nil), v...)
	}
	if page > 0 {
		params.Set("page", strconv.Itoa(page))
		params.Set("limit", strconv.Itoa(c.pageSize))
	}
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	u.RawQuery = params.Encode()
	target := u.String()

	var pendingRA, pendingMax time.Duration
	inner := retry.WithMaxRetries(uint64(c.retries),
		retry.WithCappedDuration(c.backoffMax,
			retry.WithJitterPercent(20, retry.NewExponential(c.backoffBase))))
	backoff := retry.BackoffFunc(func() (time.Duration, bool) {
		d, stop := inner.Next()
		if stop {
			return 0, true
		}
		if pendingRA > d {
			d = pendingRA
		}
		if pendingMax > 0 && d > pendingMax {
			d = pendingMax
		}
		pendingRA, pendingMax = 0, 0
		return d, false
	})

	attempts := 0
	unreachableLeft := unreachableRetries
	if at := c.unreachableAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < unreachableVerdict {
		unreachableLeft = 0
	}
	var last *attemptError
	tally := tallyOf(ctx)
	reply, err := retry.DoValue(ctx, backoff, func(ctx context.Context) (*pageReply, error) {
		attempts++
		if tally != nil {
			tally.requests.Add(1)
		}
		r, aerr := c.attempt(ctx, target, path, listKey, page)
		if aerr == nil {
			c.unreachableAt.Store(0)
			return r, nil
		}
		if aerr.unsent {
			// A page fetched ahead and no longer needed, or a pass
			// stopped: nothing reached the API.
			attempts--
		}
		aerr.re.Attempts = attempts
		last = aerr
		if ctx.Err() != nil || !aerr.retryable {
			return nil, aerr
		}
		if aerr.unreachable {
			if unreachableLeft == 0 {
				c.unreachableAt.Store(time.Now().UnixNano())
				return nil, aerr
			}
			unreachableLeft--
			pendingMax = unreachableWait
		}
		pendingRA = aerr.retryAfter
		if attempts <= c.retries {
			c.retryCount.Add(1)
			if tally != nil {
				tally.retries.Add(1)
			}
			for _, o := range c.observers {
				o.ObserveRetry(path, aerr.reason, aerr.retryAfter)
			}
			c.log.Warn().Str("endpoint", path).Int("page", page).Int("attempt", attempts).
				Str("reason", aerr.reason).Dur("retry_after", aerr.retryAfter).
				Msg("affise request failed, retrying")
		}
		return nil, retry.RetryableError(aerr)
	})
	if err == nil {
		return reply, attempts, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		msg := "canceled"
		if last != nil {
			msg += " (last failure: " + last.reason + ")"
		}
		return nil, attempts, &RequestError{Method: http.MethodGet, Endpoint: path, Page: page, Message: msg, Attempts: attempts, Err: context.Cause(ctx), settings: c.settings}
	}
	var ae *attemptError
	if errors.As(err, &ae) {
		return nil, attempts, ae.re
	}
	return nil, attempts, &RequestError{Method: http.MethodGet, Endpoint: path, Page: page, Message: c.Redact(err.Error()), Attempts: attempts, Err: err, settings: c.settings}
}

// attempt makes one HTTP request within the shared budget and classifies the
// outcome.
func (c *Client) attempt(ctx context.Context, target, path, listKey string, page int) (*pageReply, *attemptError) {
	fail := func(code, status int, msg string, retryable bool, reason string, err error) *attemptError {
		return &attemptError{
			re:        &RequestError{Method: http.MethodGet, Endpoint: path, Page: page, Code: code, Status: status, Message: c.Redact(msg), Temporary: retryable, Err: err, settings: c.settings},
			retryable: retryable,
			reason:    reason,
		}
	}
	// Concurrency first, then the rate budget: a request that got a token
	// never waits for a slot, so sends cannot bunch up past the budget.
	unsent := func(f *attemptError) *attemptError { f.unsent = true; return f }
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, unsent(fail(0, 0, "canceled", false, "canceled", ctx.Err()))
	}
	defer func() { <-c.sem }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fail(0, 0, "building request: "+err.Error(), false, "bad request", err)
	}
	req.Header.Set("API-Key", c.key)
	req.Header.Set("Accept", "application/json")
	sent, err := c.pace(ctx)
	if err != nil {
		return nil, unsent(fail(0, 0, "canceled while waiting for the request budget", false, "canceled", err))
	}
	// The timeout covers the request and its body, not the budget wait.
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req = req.WithContext(actx)
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.observe(path, 0, time.Since(start))
		if ctx.Err() != nil {
			return nil, fail(0, 0, "canceled", false, "canceled", ctx.Err())
		}
		return nil, c.transportFailure(fail, err, actx)
	}
	body, rerr := c.readBody(resp)
	resp.Body.Close()
	c.observe(path, resp.StatusCode, time.Since(start))
	code := resp.StatusCode
	if rerr != nil {
		if ctx.Err() != nil {
			return nil, fail(code, 0, "canceled", false, "canceled", ctx.Err())
		}
		return nil, c.transportFailure(func(_, status int, msg string, retryable bool, reason string, err error) *attemptError {
			return fail(code, status, "reading body: "+msg, retryable, reason, err)
		}, rerr, actx)
	}
	if int64(len(body)) > c.maxBody {
		return nil, fail(code, 0, fmt.Sprintf("response body exceeds %d bytes (lower api.page_size)", c.maxBody), false, "body too large", nil)
	}

	ra := c.retryAfter(resp.Header.Get("Retry-After"))
	if code == http.StatusTooManyRequests {
		c.aimd.limited(sent, ra)
	}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		msg := errorText(body)
		if msg == "" {
			msg = http.StatusText(code)
		}
		f := fail(code, 0, msg, true, "HTTP "+strconv.Itoa(code), nil)
		f.retryAfter = ra
		return nil, f
	case code >= 400:
		msg := errorText(body)
		if msg == "" {
			msg = http.StatusText(code)
		}
		return nil, fail(code, bodyStatus(body), msg, false, "HTTP "+strconv.Itoa(code), nil)
	case code < 200 || code >= 300:
		return nil, fail(code, 0, "unexpected HTTP status", true, "HTTP "+strconv.Itoa(code), nil)
	}

	reply, derr := decodePage(body, listKey)
	if derr != nil {
		reason := "non-JSON body"
		switch {
		case errors.Is(derr, io.ErrUnexpectedEOF):
			reason = "truncated JSON"
		case json.Valid(body):
			// JSON, but not a page: a string where an object belongs, a
			// number out of range, two replies glued together...
			reason = "malformed reply"
		}
		msg := reason + ": " + derr.Error()
		if reason == "non-JSON body" {
			msg += " (" + snippet(resp.Header.Get("Content-Type"), body) + ")"
		}
		f := fail(code, 0, msg, true, reason, derr)
		f.retryAfter = ra
		return nil, f
	}
	if reply.status != 1 {
		msg := errorText(body)
		if msg == "" {
			msg = "reply status is not 1"
		}
		f := fail(code, reply.status, msg, true, "status "+strconv.Itoa(reply.status), nil)
		f.retryAfter = ra
		return nil, f
	}
	c.aimd.succeeded()
	return reply, nil
}

func (c *Client) transportFailure(fail func(int, int, string, bool, string, error) *attemptError, err error, actx context.Context) *attemptError {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || actx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()):
		return fail(0, 0, "timed out: "+err.Error(), true, "timeout", err)
	case strings.Contains(err.Error(), "refusing redirect"):
		return fail(0, 0, err.Error(), false, "redirect", err)
	}
	if msg, reason, ok := unreachable(err, hostPort(c.base), c.settings.baseURL); ok {
		f := fail(0, 0, msg, true, reason, err)
		f.unreachable = true
		f.re.Temporary = false
		return f
	}
	// Resets, EOFs, TLS hiccups mid-stream: all worth a retry.
	return fail(0, 0, err.Error(), true, "connection error", err)
}

// unreachable explains, in plain words and without the request's URL, a
// failure to reach the API at all; ok is false for other errors.
func unreachable(err error, addr, baseURLSetting string) (msg, reason string, ok bool) {
	var (
		dnsErr  *net.DNSError
		recErr  tls.RecordHeaderError
		certErr *tls.CertificateVerificationError
		hostErr x509.HostnameError
		caErr   x509.UnknownAuthorityError
		invErr  x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &recErr):
		return fmt.Sprintf("TLS handshake failed: the server at %s does not speak HTTPS; use http:// or check %s", addr, baseURLSetting), "no TLS", true
	case errors.As(err, &certErr):
		return fmt.Sprintf("TLS handshake failed: the certificate of %s is not trusted (%v); check %s", addr, certErr.Err, baseURLSetting), "TLS certificate", true
	case errors.As(err, &hostErr) || errors.As(err, &caErr) || errors.As(err, &invErr):
		return fmt.Sprintf("TLS handshake failed: the certificate of %s is not trusted; check %s", addr, baseURLSetting), "TLS certificate", true
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return fmt.Sprintf("cannot resolve host %s (DNS: %s); check %s", dnsErr.Name, dnsErr.Err, baseURLSetting), "DNS", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing is listening at %s (connection refused); check %s, or that the server is up", addr, baseURLSetting), "connection refused", true
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return fmt.Sprintf("cannot reach %s (no route to it); check %s and the network", addr, baseURLSetting), "no route", true
	}
	return "", "", false
}

// hostPort is the address u is dialled at, its default port spelled out.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// pace waits for the shared request budget: at least 1/EffectiveRate
// since the previous send, and past any pause a Retry-After asked for. It
// returns when the request may leave.
func (c *Client) pace(ctx context.Context) (time.Time, error) {
	select {
	case c.paceMu <- struct{}{}:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	defer func() { <-c.paceMu }()
	for {
		// Asked again after each wait: a 429 may have slowed the rate or
		// paused the budget meanwhile.
		next := c.aimd.nextSend(c.lastSend)
		wait := time.Until(next)
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, ctx.Err()
		}
	}
	c.lastSend = time.Now()
	return c.lastSend, nil
}

// concurrency is how many requests may be in flight at once.
func (c *Client) concurrency() int { return cap(c.sem) }

// EffectiveRate is the request rate the client allows itself now: the
// configured RequestsPerSecond, or less while it backs off after HTTP 429.
func (c *Client) EffectiveRate() float64 { return c.aimd.current() }

// retryAfter parses a Retry-After value (seconds or HTTP date), capped.
func (c *Client) retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > c.maxRA.Seconds() {
			return c.maxRA
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	} else {
		return 0
	}
	if d < 0 {
		return 0
	}
	return min(d, c.maxRA)
}

// snippet describes a non-JSON body briefly, e.g. a proxy's HTML page.
func snippet(ctype string, body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	if ctype == "" {
		ctype = "no content type"
	}
	return fmt.Sprintf("%s, %d bytes: %q", ctype, len(body), s)
}

// List reads every page of GET path with q, with the client's budget and
// retries, and returns the items of listKey as raw JSON. It is for checks
// of the warehouse against Affise (syncd verify), which read few pages;
// streams walk their windows with Fetch.
func (c *Client) List(ctx context.Context, path, listKey string, q url.Values) ([][]byte, int64, error) {
	var items [][]byte
	var requests int64
	for page := 1; ; page++ {
		if page > c.maxPages {
			return nil, requests, fmt.Errorf("GET %s page %d: %w: more than %d pages", path, page, ErrPagination, c.maxPages)
		}
		reply, attempts, err := c.getPage(ctx, path, listKey, q, page)
		requests += int64(attempts)
		if err != nil {
			return nil, requests, err
		}
		items = append(items, reply.items...)
		p := reply.pagination
		if p == nil || !p.NextPage.set || p.NextPage.v == 0 || len(reply.items) == 0 {
			return items, requests, nil
		}
		if p.NextPage.v != int64(page+1) {
			return nil, requests, fmt.Errorf("GET %s page %d: %w: next_page is %d", path, page, ErrPagination, p.NextPage.v)
		}
	}
}

// readBody reads a response's body, up to one byte past maxBody (so a
// body too large shows). The buffer starts at the body's length when the
// server gave it, else at the last body's: pages of a stream are alike,
// and io.ReadAll, growing from 512 bytes, zeroed and copied each 300 kB
// page several times over (2% of a backfill's CPU).
func (c *Client) readBody(resp *http.Response) ([]byte, error) {
	hint := resp.ContentLength
	if hint < 0 {
		hint = c.lastBody.Load() + c.lastBody.Load()/8
	}
	hint = min(max(hint, 512), c.maxBody) + 1
	var buf bytes.Buffer
	buf.Grow(int(hint))
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, c.maxBody+1))
	if err == nil {
		c.lastBody.Store(int64(buf.Len()))
	}
	return buf.Bytes(), err
}
