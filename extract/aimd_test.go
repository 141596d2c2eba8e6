package extract

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/rs/zerolog"

	"github.com/syncd/syncd/internal/affisesim"
	"github.com/syncd/syncd/models"
)

// Three 429s in a row cut the rate three times (each retry was sent after
// the cut before it), the sends that follow are spaced by the cut rate,
// and successes bring the rate back to requests_per_second step by step;
// backing off and recovering are logged once each.
func TestRateBacksOffAfter429AndRecovers(t *testing.T) {
	const rps = 40
	f := newFakeAPI(t, 30, "clicks")
	f.before = fault(3, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	})
	srv := httptest.NewServer(f)
	defer srv.Close()
	var log syncBuffer
	sent := &sendTimes{next: http.DefaultTransport}
	var c *Client
	var mu sync.Mutex
	var rates []float64 // the effective rate as each reply arrives
	c = testClient(t, srv, ClientConfig{PageSize: 1, RequestsPerSecond: rps, Concurrency: 1, MaxRetries: 5,
		Logger: zerolog.New(&log), HTTPClient: &http.Client{Transport: sent}},
		WithOnRequest(func(string, int, time.Duration) {
			mu.Lock()
			rates = append(rates, c.EffectiveRate())
			mu.Unlock()
		}))
	s := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))
	ids, _, reqs, err := collect(t, context.Background(), s, Window{From: time.Now(), To: time.Now()})
	if err != nil || len(ids) != 30 || reqs != 33 {
		t.Fatalf("%d rows, %d requests, err %v; want 30 rows in 33 requests", len(ids), reqs, err)
	}
	// The hook runs before the reply adjusts the rate: rates[i] is the
	// rate request i was sent at.
	want := []float64{40, 20, 10, 5, 7, 9, 11}
	for i, r := range want {
		if rates[i] != r {
			t.Fatalf("rates %v, want them to start %v", rates, want)
		}
	}
	if got := c.EffectiveRate(); got != rps {
		t.Fatalf("rate %g after 30 successes, want it back at %d", got, rps)
	}
	// The first success left at 5 requests/s: 200ms after the last 429.
	if gap := sent.times[3].Sub(sent.times[2]); gap < 190*time.Millisecond {
		t.Fatalf("the request after three 429s left %v after the last one, want 200ms (5 requests/s)", gap)
	}
	out := log.String()
	if n := strings.Count(out, `"level":"info","requests_per_second":20,"configured":40`); n != 1 {
		t.Errorf("want the back-off logged once at info with the new rate:\n%s", out)
	}
	if n := strings.Count(out, "request rate back at api.requests_per_second"); n != 1 {
		t.Errorf("want the recovery logged once:\n%s", out)
	}
}

// A Retry-After pauses the whole budget: no stream's request leaves
// before it has passed.
func TestRetryAfterPausesEveryStream(t *testing.T) {
	var mu sync.Mutex
	var limitedAt time.Time // when the client read the 429
	f := newFakeAPI(t, 60, "")
	f.before = fault(1, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	srv := httptest.NewServer(f)
	defer srv.Close()
	sent := &sendTimes{next: http.DefaultTransport}
	c := testClient(t, srv, ClientConfig{PageSize: 3, RequestsPerSecond: 100, Concurrency: 4, HTTPClient: &http.Client{Transport: sent}},
		WithOnRequest(func(_ string, code int, _ time.Duration) {
			if code == http.StatusTooManyRequests {
				mu.Lock()
				limitedAt = time.Now()
				mu.Unlock()
			}
		}))
	a := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
	b := mustStream(NewExtractor("offers", c, testModel{}, Options{}))
	var wg sync.WaitGroup
	for _, s := range []*Stream{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, _, err := collect(t, context.Background(), s, Window{From: time.Now(), To: time.Now()}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// A sender past its wait as the 429 is read may still leave at once.
	for _, at := range sent.times {
		if d := at.Sub(limitedAt); d > 20*time.Millisecond && d < 950*time.Millisecond {
			t.Fatalf("a request left %v after a 429 asking for a pause of 1s", d)
		}
	}
	if limitedAt.IsZero() {
		t.Fatal("no 429 seen")
	}
	if got := c.EffectiveRate(); got != 100 {
		t.Fatalf("rate %g after the pass, want it recovered to 100", got)
	}
}

// Against the simulator allowing 8 requests a second while syncd is told
// 30, the client backs off, the walk still completes exactly, and most
// requests are answered: it adapts instead of hammering the API, and
// never sends faster than it was told.
func TestAdaptsToTheSimulatorsLimit(t *testing.T) {
	now := time.Now().UTC()
	sim, err := affisesim.New(affisesim.Config{Key: testKey, Seed: 3, Conversions: 1500, Days: 2, Now: now, RPS: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()
	var mu sync.Mutex
	lowest := 30.0
	var c *Client
	sent := &sendTimes{next: http.DefaultTransport}
	c, err = NewClient(ClientConfig{BaseURL: srv.URL, Key: testKey, PageSize: 50, RequestsPerSecond: 30, Concurrency: 6, MaxRetries: 20,
		HTTPClient: &http.Client{Transport: sent}},
		WithBackoff(10*time.Millisecond, 50*time.Millisecond),
		WithOnRequest(func(string, int, time.Duration) {
			mu.Lock()
			lowest = min(lowest, c.EffectiveRate())
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	s := mustStream(NewExtractor("conversions", c, models.Conversions(), Options{}))
	w := s.PlanBackfill(now.Add(-48*time.Hour), now)
	var rows int64
	for _, w := range w {
		_, err := s.Fetch(context.Background(), w, func(rec arrow.RecordBatch) error { rows += rec.NumRows(); return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	truth, _ := sim.Truth("conversions")
	st := c.Stats()
	var total int64
	for _, n := range st.Requests {
		total += n
	}
	t.Logf("%d requests, %d answered 429, lowest rate %g", total, st.RateLimited, lowest)
	if rows != int64(len(truth)) {
		t.Fatalf("%d rows, the simulator has %d", rows, len(truth))
	}
	if st.RateLimited == 0 || lowest >= 30 {
		t.Fatalf("%d 429s, lowest rate %g: want the client to have backed off", st.RateLimited, lowest)
	}
	if n := maxInSpan(sent.times, time.Second); n > 31 {
		t.Fatalf("%d requests sent within a second, requests_per_second is 30", n)
	}
	if st.RateLimited*3 > total {
		t.Fatalf("%d of %d requests answered 429: the client does not adapt", st.RateLimited, total)
	}
}
