package affisesim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

const testKey = "test-key-123"

var testAnchor = time.Date(2025, 3, 15, 12, 30, 0, 0, time.UTC)

// testClock is a settable clock shared by a test's simulator.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func newSim(t testing.TB, mod func(*Config)) (*Sim, *testClock) {
	t.Helper()
	clk := &testClock{t: testAnchor}
	cfg := Config{Key: testKey, Seed: 7, Conversions: 20000, Days: 30, Now: testAnchor, Clock: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, clk
}

type reply struct {
	code int
	hdr  http.Header
	raw  []byte
	body map[string]any
}

func call(t testing.TB, h http.Handler, method, target, key string) reply {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if key != "" {
		req.Header.Set("API-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := reply{code: rec.Code, hdr: rec.Header(), raw: rec.Body.Bytes()}
	_ = json.Unmarshal(r.raw, &r.body)
	return r
}

func get(t testing.TB, h http.Handler, target string) reply {
	t.Helper()
	return call(t, h, "GET", target, testKey)
}

// mustList GETs target with the admin key and returns its list and pagination.
func mustList(t testing.TB, h http.Handler, target, list string) ([]map[string]any, map[string]any) {
	t.Helper()
	r := get(t, h, target)
	if r.code != 200 || r.body["status"] != float64(1) {
		t.Fatalf("GET %s: %d %s", target, r.code, trunc(r.raw))
	}
	var rows []map[string]any
	for _, x := range r.body[list].([]any) {
		rows = append(rows, x.(map[string]any))
	}
	return rows, r.body["pagination"].(map[string]any)
}

func total(p map[string]any) int { return int(p["total_count"].(float64)) }

func trunc(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// truth returns the current rows of a stream as maps.
func truth(t testing.TB, s *Sim, stream string) []map[string]any {
	t.Helper()
	raw, err := s.Truth(stream)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("truth %s row %d: %v", stream, i, err)
		}
	}
	return out
}

func parseTS(t testing.TB, v any, loc *time.Location) time.Time {
	t.Helper()
	ts, err := time.ParseInLocation("2006-01-02 15:04:05", v.(string), loc)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// walkAll pages through target (which must not have page/limit) and returns every row.
func walkAll(t testing.TB, h http.Handler, target, list string, limit int) []map[string]any {
	t.Helper()
	var all []map[string]any
	for page := 1; ; page++ {
		rows, p := mustList(t, h, target+"&limit="+itoa(limit)+"&page="+itoa(page), list)
		all = append(all, rows...)
		if _, ok := p["next_page"]; !ok {
			return all
		}
		if page > 100000 {
			t.Fatal("no end")
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
