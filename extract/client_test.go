package extract

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/rs/zerolog"
)

func TestAuthHeaderTimezoneAndParams(t *testing.T) {
	f := newFakeAPI(t, 3, "offers")
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := testClient(t, srv, ClientConfig{Timezone: "Europe/Berlin", PageSize: 2})
	s := mustStream(NewExtractor("offers", c, testModel{}, Options{}))
	ids, _, reqs, err := collect(t, context.Background(), s, snapshotWindow())
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || reqs != 2 {
		t.Fatalf("ids %v requests %d", ids, reqs)
	}
	for _, r := range f.requests() {
		if got := r.Header.Get("API-Key"); got != testKey {
			t.Errorf("API-Key header %q", got)
		}
		if strings.Contains(strings.ToLower(r.URL.String()), strings.ToLower(testKey)) || strings.Contains(strings.ToLower(r.URL.RawQuery), "api-key") {
			t.Errorf("key in URL: %s", r.URL)
		}
		q := r.URL.Query()
		// Offers carry times: asked in UTC whatever api.timezone is.
		if q.Get("timezone") != "UTC" {
			t.Errorf("timezone = %q", q.Get("timezone"))
		}
		if q.Get("limit") != "2" {
			t.Errorf("limit = %q", q.Get("limit"))
		}
		if got := q["status[]"]; !slices.Equal(got, []string{"active", "stopped", "suspended"}) {
			t.Errorf("status[] = %v (raw %s)", got, r.URL.RawQuery)
		}
		if r.URL.Path != "/3.0/offers" {
			t.Errorf("path %s", r.URL.Path)
		}
	}
}

func TestPaginationFollowsNextPageAndBatches(t *testing.T) {
	f := newFakeAPI(t, 23, "conversions")
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := testClient(t, srv, ClientConfig{PageSize: 5}, WithBatchRows(10))
	s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
	ids, sizes, reqs, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, f.rows) {
		t.Fatalf("ids %v", ids)
	}
	if !slices.Equal(sizes, []int{10, 10, 3}) {
		t.Fatalf("record sizes %v, want [10 10 3]", sizes)
	}
	if reqs != 5 {
		t.Fatalf("requests %d, want 5", reqs)
	}
	// Pages 3..5 are fetched at once and arrive in any order; each once.
	var pages []int
	for _, r := range f.requests() {
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		pages = append(pages, p)
	}
	if slices.Sort(pages); !slices.Equal(pages, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("pages %v", pages)
	}
	// Option override of the batch size.
	s2 := mustStream(NewExtractor("conversions", c, testModel{}, Options{BatchRows: 4}))
	_, sizes, _, err = collect(t, context.Background(), s2, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
	if err != nil || !slices.Equal(sizes, []int{4, 4, 4, 4, 4, 3}) {
		t.Fatalf("sizes %v err %v", sizes, err)
	}
}

func TestEmptyWindowEmitsNothing(t *testing.T) {
	f := newFakeAPI(t, 0, "clicks")
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := testClient(t, srv, ClientConfig{})
	s := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))
	ids, sizes, reqs, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
	if err != nil || len(ids) != 0 || len(sizes) != 0 || reqs != 1 {
		t.Fatalf("ids %v sizes %v reqs %d err %v", ids, sizes, reqs, err)
	}
}

func TestLoopGuards(t *testing.T) {
	cases := map[string]func(f *fakeAPI){
		"next_page repeats":   func(f *fakeAPI) { f.next = func(page, def int) int { return page } },
		"next_page jumps":     func(f *fakeAPI) { f.next = func(page, def int) int { return page + 2 } },
		"next_page goes back": func(f *fakeAPI) { f.next = func(page, def int) int { return 1 } },
		"endless pages": func(f *fakeAPI) {
			f.next = func(page, def int) int { return page + 1 }
			f.pageRows = func(walk, page int, ids []string) []string { return []string{"x" + strings.Repeat("y", page)} }
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeAPI(t, 10, "partners")
			setup(f)
			srv := httptest.NewServer(f)
			defer srv.Close()
			c := testClient(t, srv, ClientConfig{PageSize: 3}, WithMaxPages(20))
			s := mustStream(NewExtractor("partners", c, testModel{}, Options{}))
			_, _, reqs, err := collect(t, context.Background(), s, snapshotWindow())
			if !errors.Is(err, ErrPagination) {
				t.Fatalf("err = %v, want ErrPagination", err)
			}
			if !strings.HasPrefix(err.Error(), "GET /3.0/admin/partners page ") {
				t.Fatalf("message %q", err)
			}
			if reqs > 20 {
				t.Fatalf("%d requests", reqs)
			}
		})
	}
}

func TestTotalCountRewalk(t *testing.T) {
	t.Run("skipped row is found by a re-walk", func(t *testing.T) {
		f := newFakeAPI(t, 10, "conversions")
		// The first walk loses r0004 (rows shifted); later walks are whole.
		f.pageRows = func(walk, page int, ids []string) []string {
			if walk == 1 {
				return slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == "r0004" })
			}
			return ids
		}
		srv := httptest.NewServer(f)
		defer srv.Close()
		c := testClient(t, srv, ClientConfig{PageSize: 3})
		s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
		ids, _, reqs, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, f.rows) {
			t.Fatalf("ids %v (no duplicates, nothing lost)", ids)
		}
		if reqs != 8 || f.walks != 2 {
			t.Fatalf("requests %d walks %d", reqs, f.walks)
		}
	})
	t.Run("total_count changing between pages forces a re-walk", func(t *testing.T) {
		f := newFakeAPI(t, 10, "conversions")
		f.total = func(walk, page int) int {
			if walk == 1 && page == 2 {
				return 9
			}
			return 10
		}
		srv := httptest.NewServer(f)
		defer srv.Close()
		c := testClient(t, srv, ClientConfig{PageSize: 3})
		s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
		ids, _, _, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
		if err != nil || len(ids) != 10 || f.walks != 2 {
			t.Fatalf("ids %v walks %d err %v", ids, f.walks, err)
		}
	})
	t.Run("never adds up: clear error after 1+3 walks", func(t *testing.T) {
		f := newFakeAPI(t, 10, "conversions")
		f.total = func(walk, page int) int { return 12 }
		srv := httptest.NewServer(f)
		defer srv.Close()
		c := testClient(t, srv, ClientConfig{PageSize: 5}, WithBatchRows(1))
		s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
		ids, _, _, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
		if !errors.Is(err, ErrIncomplete) {
			t.Fatalf("err %v", err)
		}
		if f.walks != 4 {
			t.Fatalf("walks %d, want 4", f.walks)
		}
		if len(ids) != 10 {
			t.Fatalf("emitted %d rows; each key must be emitted once", len(ids))
		}
		for _, want := range []string{"GET /3.0/stats/conversions", "10 distinct rows", "total_count 12"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q lacks %q", err, want)
			}
		}
	})
	t.Run("growing total covered by the walks together", func(t *testing.T) {
		f := newFakeAPI(t, 10, "conversions")
		// Every walk sees total_count grow by one on its last page, and one
		// more row then exists.
		f.total = func(walk, page int) int {
			if page == 2 {
				return 10
			}
			return 9
		}
		srv := httptest.NewServer(f)
		defer srv.Close()
		c := testClient(t, srv, ClientConfig{PageSize: 5})
		s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
		ids, _, _, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
		if err != nil || len(ids) != 10 || f.walks != 4 {
			t.Fatalf("ids %d walks %d err %v", len(ids), f.walks, err)
		}
	})
}

// fault answers the first n requests with fn, then lets the fake serve.
func fault(n int, fn func(w http.ResponseWriter, r *http.Request)) func(http.ResponseWriter, *http.Request, int) bool {
	return func(w http.ResponseWriter, r *http.Request, i int) bool {
		if i > n {
			return false
		}
		fn(w, r)
		return true
	}
}

type recObserver struct {
	mu      sync.Mutex
	waits   []time.Duration
	reasons []string
	codes   []int
}

func (o *recObserver) ObserveRequest(endpoint string, code int, dur time.Duration) {
	o.mu.Lock()
	o.codes = append(o.codes, code)
	o.mu.Unlock()
}
func (o *recObserver) ObserveRetry(endpoint, reason string, wait time.Duration) {
	o.mu.Lock()
	o.waits = append(o.waits, wait)
	o.reasons = append(o.reasons, reason)
	o.mu.Unlock()
}

func TestRetryableFaultsSucceed(t *testing.T) {
	cases := []struct {
		name   string
		fn     func(w http.ResponseWriter, r *http.Request)
		reason string
		code   int
	}{
		{"429", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) }, "HTTP 429", 429},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, "HTTP 500", 500},
		{"503 json", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
			w.Write([]byte(`{"status":2,"error":"maintenance"}`))
		}, "HTTP 503", 503},
		{"502 html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		}, "HTTP 502", 502},
		{"200 html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		}, "non-JSON body", 200},
		{"200 status 2", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":2,"error":"Internal error, try later"}`))
		}, "status 2", 200},
		{"200 truncated", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":1,"conversions":[{"id":"a"},{"id":`))
		}, "truncated JSON", 200},
		{"200 empty body", func(w http.ResponseWriter, r *http.Request) {}, "truncated JSON", 200},
		{"connection reset", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST
			}
			conn.Close()
		}, "connection error", 0},
		{"body cut mid-stream", func(w http.ResponseWriter, r *http.Request) {
			conn, buf, _ := w.(http.Hijacker).Hijack()
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"status\":1,")
			buf.Flush()
			conn.Close()
		}, "connection error", 200},
		{"stall past the timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, "timeout", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t, 4, "conversions")
			f.before = fault(2, tc.fn)
			srv := httptest.NewServer(f)
			defer srv.Close()
			obs := &recObserver{}
			var hook atomic.Int64
			c := testClient(t, srv, ClientConfig{PageSize: 10, Timeout: 200 * time.Millisecond},
				WithObserver(obs), WithOnRequest(func(string, int, time.Duration) { hook.Add(1) }))
			s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
			ids, _, reqs, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != 4 || reqs != 3 {
				t.Fatalf("ids %v requests %d", ids, reqs)
			}
			st := c.Stats()
			if st.Retries != 2 || hook.Load() != 3 {
				t.Fatalf("stats %+v hook %d", st, hook.Load())
			}
			if st.Requests[RequestKey{"/3.0/stats/conversions", 200}] < 1 {
				t.Fatalf("requests by code %v", st.Requests)
			}
			if tc.code == 429 && st.RateLimited != 2 {
				t.Fatalf("rate limited %d", st.RateLimited)
			}
			if len(obs.reasons) != 2 || obs.reasons[0] != tc.reason {
				t.Fatalf("reasons %v, want %q", obs.reasons, tc.reason)
			}
			if obs.codes[0] != tc.code {
				t.Fatalf("observed code %d, want %d", obs.codes[0], tc.code)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Run("seconds are honoured", func(t *testing.T) {
		f := newFakeAPI(t, 1, "clicks")
		f.before = fault(1, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
		})
		srv := httptest.NewServer(f)
		defer srv.Close()
		obs := &recObserver{}
		c := testClient(t, srv, ClientConfig{}, WithObserver(obs))
		s := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))
		start := time.Now()
		if _, _, _, err := collect(t, context.Background(), s, Window{From: start, To: start}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(obs.waits, []time.Duration{time.Second}) {
			t.Fatalf("waits %v", obs.waits)
		}
		reqs := f.requests()
		if len(reqs) != 2 || f.times[1].Sub(f.times[0]) < 900*time.Millisecond {
			t.Fatalf("retry came %v after the 429", f.times[1].Sub(f.times[0]))
		}
	})
	for _, v := range []string{"3600", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)} {
		t.Run("capped "+v, func(t *testing.T) {
			f := newFakeAPI(t, 1, "clicks")
			f.before = fault(2, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", v)
				w.WriteHeader(503)
			})
			srv := httptest.NewServer(f)
			defer srv.Close()
			obs := &recObserver{}
			c := testClient(t, srv, ClientConfig{MaxRetryAfter: 50 * time.Millisecond}, WithObserver(obs))
			s := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))
			now := time.Now()
			if _, _, _, err := collect(t, context.Background(), s, Window{From: now, To: now}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(obs.waits, []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}) {
				t.Fatalf("waits %v", obs.waits)
			}
		})
	}
	c := &Client{maxRA: time.Minute}
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "-3": 0, "2": 2 * time.Second, "120": time.Minute, "soon": 0,
		time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat): 0} {
		if got := c.retryAfter(in); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRetriesRunOut(t *testing.T) {
	f := newFakeAPI(t, 1, "conversions")
	f.before = fault(100, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := testClient(t, srv, ClientConfig{MaxRetries: 3})
	s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
	_, _, reqs, err := collect(t, context.Background(), s, Window{From: time.Now(), To: time.Now()})
	var re *RequestError
	if !errors.As(err, &re) || !re.Temporary || re.Code != 503 || re.Attempts != 4 || reqs != 4 {
		t.Fatalf("err %v reqs %d", err, reqs)
	}
	want := "GET /3.0/stats/conversions page 1: HTTP 503: Service Unavailable (after 4 attempts)"
	if err.Error() != want {
		t.Fatalf("message %q\nwant    %q", err, want)
	}
}

func TestPermanentErrorsFailFast(t *testing.T) {
	cases := []struct {
		name, body, want string
		code             int
		key              string
	}{
		{"401 bad key", "", "GET /3.0/stats/conversions page 1: HTTP 401: API key is invalid (check api.key)", 401, "wrong-key-0000000000"},
		{"403 echoes key", `{"status":2,"error":"key ` + testKey + ` may not read this; API-Key=` + testKey + `"}`, "HTTP 403: key [REDACTED] may not read this; API-Key=[REDACTED]", 403, ""},
		{"404 html", "<html>Not Found</html>", "HTTP 404: Not Found (check api.base_url)", 404, ""},
		{"400 status 2", `{"status":2,"error":"date_from is required"}`, "HTTP 400: date_from is required", 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t, 1, "conversions")
			if tc.code != 401 {
				f.before = func(w http.ResponseWriter, r *http.Request, _ int) bool {
					w.WriteHeader(tc.code)
					w.Write([]byte(tc.body))
					return true
				}
			}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var logs strings.Builder
			c := testClient(t, srv, ClientConfig{Key: tc.key, Logger: zerolog.New(&logs)})
			s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
			_, _, reqs, err := collect(t, context.Background(), s, Window{From: time.Now(), To: time.Now()})
			if err == nil || reqs != 1 || len(f.requests()) != 1 {
				t.Fatalf("err %v after %d requests", err, reqs)
			}
			var re *RequestError
			if !errors.As(err, &re) || re.Code != tc.code || re.Temporary {
				t.Fatalf("err %#v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("message %q lacks %q", err, tc.want)
			}
			for _, k := range []string{testKey, tc.key} {
				if k != "" && (strings.Contains(err.Error(), k) || strings.Contains(logs.String(), k)) {
					t.Fatalf("key leaked: %q / %q", err, logs.String())
				}
			}
		})
	}
}

// TestHintsNameTheNetworksSettings: with several networks, an error's hint
// names the setting of that network to fix (networks[1].api.key), not the
// shared api: block's.
func TestHintsNameTheNetworksSettings(t *testing.T) {
	for _, tc := range []struct {
		code int
		want string
	}{
		{401, "HTTP 401: API key is invalid (check networks[1].api.key)"},
		{403, "(check networks[1].api.key: its role may not use this endpoint)"},
		{404, "(check api.base_url)"}, // the shared api: gave it
	} {
		f := newFakeAPI(t, 1, "conversions")
		if tc.code != 401 {
			f.before = func(w http.ResponseWriter, r *http.Request, _ int) bool {
				w.WriteHeader(tc.code)
				return true
			}
		}
		srv := httptest.NewServer(f)
		key := ""
		if tc.code == 401 {
			key = "wrong-key-0000000000"
		}
		c := testClient(t, srv, ClientConfig{Network: "beta", Key: key, KeySetting: "networks[1].api.key", BaseURLSetting: "api.base_url"})
		s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
		_, _, _, err := collect(t, context.Background(), s, Window{From: time.Now(), To: time.Now()})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("HTTP %d: %v, want it to contain %q", tc.code, err, tc.want)
		}
	}
	c, err := NewClient(ClientConfig{BaseURL: "http://" + closedPort(t), Key: testKey, RequestsPerSecond: 100,
		BaseURLSetting: "networks[2].api.base_url"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = mustStream(NewExtractor("conversions", c, testModel{}, Options{})).Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "(connection refused); check networks[2].api.base_url, or that the server is up") {
		t.Errorf("refused: %v", err)
	}
}

func TestBodyTooLarge(t *testing.T) {
	f := newFakeAPI(t, 50, "clicks")
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := testClient(t, srv, ClientConfig{}, WithMaxBodyBytes(200))
	s := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))
	_, _, reqs, err := collect(t, context.Background(), s, Window{From: time.Now(), To: time.Now()})
	if err == nil || reqs != 1 || !strings.Contains(err.Error(), "exceeds 200 bytes") {
		t.Fatalf("err %v reqs %d", err, reqs)
	}
}

// sendTimes records when each request leaves the client.
type sendTimes struct {
	mu    sync.Mutex
	times []time.Time
	next  http.RoundTripper
}

func (s *sendTimes) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	return s.next.RoundTrip(r)
}

// maxInSpan is the largest number of times within any span of d.
func maxInSpan(times []time.Time, d time.Duration) int {
	times = slices.Clone(times)
	slices.SortFunc(times, func(x, y time.Time) int { return x.Compare(y) })
	best := 0
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < d; j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

func TestRateLimitNeverExceeded(t *testing.T) {
	f := newFakeAPI(t, 30, "")
	// Every third request fails once: retries spend the same budget.
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n%3 == 0 {
			w.WriteHeader(503)
			return true
		}
		return false
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	const rps = 40
	sent := &sendTimes{next: http.DefaultTransport}
	c := testClient(t, srv, ClientConfig{PageSize: 2, RequestsPerSecond: rps, Concurrency: 4, HTTPClient: &http.Client{Transport: sent}})
	// Two streams share one client: one budget.
	a := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
	b := mustStream(NewExtractor("offers", c, testModel{}, Options{}))
	var wg sync.WaitGroup
	var total atomic.Int64
	for i := 0; i < 4; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, reqs, err := collect(t, context.Background(), s, Window{From: time.Now(), To: time.Now()})
			if err != nil {
				t.Error(err)
			}
			total.Add(reqs)
		}()
	}
	wg.Wait()
	if int64(len(f.times)) != total.Load() || len(sent.times) != len(f.times) || len(f.times) < 4*15 {
		t.Fatalf("%d requests served, %d sent, %d counted", len(f.times), len(sent.times), total.Load())
	}
	// Burst 1 at rps: any span of d holds at most d*rps+1 sends.
	for _, d := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, time.Second} {
		if n, limit := maxInSpan(sent.times, d), int(d.Seconds()*rps)+1; n > limit {
			t.Errorf("%d requests sent within %v (limit %d)", n, d, limit)
		}
	}
	// What the server sees carries network jitter: allow a little.
	if n, limit := maxInSpan(f.times, time.Second), rps+3; n > limit {
		t.Errorf("%d requests arrived within 1s (limit %d)", n, limit)
	}
}

func TestConcurrencyBound(t *testing.T) {
	var inFlight, peak atomic.Int64
	f := newFakeAPI(t, 40, "clicks")
	f.before = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
		return false
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := testClient(t, srv, ClientConfig{PageSize: 5, Concurrency: 2})
	s := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, _, err := collect(t, context.Background(), s, Window{From: time.Now(), To: time.Now()}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Fatalf("%d requests in flight, concurrency is 2", peak.Load())
	}
}

func TestCancellationStopsPromptly(t *testing.T) {
	cases := map[string]func(w http.ResponseWriter, r *http.Request){
		"during a stalled request": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		},
		"during backoff": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(429)
		},
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeAPI(t, 1, "conversions")
			f.before = fault(1000, fn)
			srv := httptest.NewServer(f)
			defer srv.Close()
			c := testClient(t, srv, ClientConfig{Timeout: 30 * time.Second})
			s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			_, _, _, err := collect(t, ctx, s, Window{From: time.Now(), To: time.Now()})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v", err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Fatalf("took %v to stop", el)
			}
		})
	}
	t.Run("waiting for the budget", func(t *testing.T) {
		f := newFakeAPI(t, 100, "conversions")
		srv := httptest.NewServer(f)
		defer srv.Close()
		c := testClient(t, srv, ClientConfig{PageSize: 1, RequestsPerSecond: 0.2})
		s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, _, _, err := collect(t, ctx, s, Window{From: time.Now(), To: time.Now()})
		if err == nil || time.Since(start) > 3*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
}

func TestEmitErrorStops(t *testing.T) {
	f := newFakeAPI(t, 20, "clicks")
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := testClient(t, srv, ClientConfig{PageSize: 5}, WithBatchRows(5))
	s := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))
	boom := errors.New("disk full")
	reqs, err := s.Fetch(context.Background(), Window{From: time.Now(), To: time.Now()}, func(rec arrow.RecordBatch) error { return boom })
	if !errors.Is(err, boom) || reqs != 1 {
		t.Fatalf("err %v reqs %d", err, reqs)
	}
}

func TestRedact(t *testing.T) {
	c, err := NewClient(ClientConfig{BaseURL: "http://x", Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"GET /x?API-Key=abc123&page=2":          "GET /x?API-Key=[REDACTED]&page=2",
		`{"api-key": "zzz"}`:                    `{"api-key": "[REDACTED]"}`,
		"API-Key: k1 next":                      "API-Key: [REDACTED] next",
		"the key " + testKey + " was sent":      "the key [REDACTED] was sent",
		"nothing secret here (check api.key)":   "nothing secret here (check api.key)",
		"apikey=" + testKey + " and " + testKey: "apikey=[REDACTED] and [REDACTED]",
	} {
		if got := c.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	cfg := ClientConfig{BaseURL: "http://x", Key: testKey}
	for _, s := range []string{cfg.String(), cfg.GoString()} {
		if strings.Contains(s, testKey) {
			t.Fatalf("config printed the key: %s", s)
		}
	}
}

func TestNewClientValidates(t *testing.T) {
	for name, cfg := range map[string]ClientConfig{
		"no url":       {Key: testKey},
		"bad url":      {BaseURL: "ftp://x", Key: testKey},
		"no key":       {BaseURL: "http://x"},
		"page size":    {BaseURL: "http://x", Key: testKey, PageSize: 501},
		"bad timezone": {BaseURL: "http://x", Key: testKey, Timezone: "Mars/Base"},
		"local zone":   {BaseURL: "http://x", Key: testKey, Location: time.Local},
		"key in url":   {BaseURL: "http://x/?API-Key=x", Key: testKey},
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	c, err := NewClient(ClientConfig{BaseURL: "https://api-x.affise.com/", Key: testKey, Location: time.UTC})
	if err != nil || c.tz != "UTC" || c.pageSize != 500 || c.retries != DefaultMaxRetries {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestRedirectToOtherHostRefused(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("API-Key") != "" {
			leaked.Store(true)
		}
	}))
	defer other.Close()
	f := newFakeAPI(t, 1, "clicks")
	f.before = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/steal", http.StatusFound)
		return true
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := testClient(t, srv, ClientConfig{})
	s := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))
	_, _, _, err := collect(t, context.Background(), s, Window{From: time.Now(), To: time.Now()})
	if err == nil || leaked.Load() {
		t.Fatalf("err %v leaked %v", err, leaked.Load())
	}
}

// A pass's Tally counts its own attempts and retries, not those of another
// stream on the same Client.
func TestTallyCountsOnlyItsContext(t *testing.T) {
	f := newFakeAPI(t, 4, "conversions")
	f.before = fault(2, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := testClient(t, srv, ClientConfig{PageSize: 10, Timeout: 200 * time.Millisecond})
	s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
	w := Window{From: time.Now().Add(-time.Hour), To: time.Now()}
	var mine Tally
	_, _, reqs, err := collect(t, WithTally(context.Background(), &mine), s, w)
	if err != nil {
		t.Fatal(err)
	}
	if mine.Requests() != reqs || reqs != 3 || mine.Retries() != 2 {
		t.Fatalf("tally: %d requests, %d retries; Fetch reported %d requests; want 3, 2, 3", mine.Requests(), mine.Retries(), reqs)
	}
	// Another pass without faults: its own tally, and ours stays put.
	var other Tally
	if _, _, _, err := collect(t, WithTally(context.Background(), &other), s, w); err != nil {
		t.Fatal(err)
	}
	if other.Requests() != 1 || other.Retries() != 0 || mine.Requests() != 3 {
		t.Fatalf("second tally %d/%d, first now %d requests", other.Requests(), other.Retries(), mine.Requests())
	}
}
