package affisesim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func httpGet(t *testing.T, url, key string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("API-Key", key)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestFaultKinds(t *testing.T) {
	s, _ := newSim(t, func(c *Config) { c.Conversions = 2000; c.Stall = 300 * time.Millisecond })
	srv := httptest.NewServer(s)
	defer srv.Close()
	u := srv.URL + "/3.0/stats/conversions?date_from=2025-03-10&date_to=2025-03-15&limit=50"
	check := map[string]func(resp *http.Response, body []byte, err error, took time.Duration){
		"429": func(resp *http.Response, body []byte, err error, _ time.Duration) {
			if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
				t.Errorf("429: %v %v", resp, err)
			}
		},
		"500": func(resp *http.Response, body []byte, err error, _ time.Duration) {
			if err != nil || resp.StatusCode != 500 || !json.Valid(body) {
				t.Errorf("500: %v %s", err, body)
			}
		},
		"502": func(resp *http.Response, body []byte, err error, _ time.Duration) {
			if err != nil || resp.StatusCode != 502 || !strings.HasPrefix(string(body), "<html>") || json.Valid(body) {
				t.Errorf("502: %v %s", err, body)
			}
		},
		"status2": func(resp *http.Response, body []byte, err error, _ time.Duration) {
			var m map[string]any
			if err != nil || resp.StatusCode != 200 || json.Unmarshal(body, &m) != nil || m["status"] != float64(2) || m["error"] == "" {
				t.Errorf("status2: %v %s", err, body)
			}
		},
		"truncated": func(resp *http.Response, body []byte, err error, _ time.Duration) {
			if err != nil || resp.StatusCode != 200 || json.Valid(body) || !bytes.HasPrefix(body, []byte(`{"status":1,"conversions":[`)) {
				t.Errorf("truncated: %v %.80s", err, body)
			}
		},
		"reset": func(resp *http.Response, body []byte, err error, _ time.Duration) {
			if err == nil {
				t.Errorf("reset: no error, %d bytes", len(body))
			}
		},
		"stall": func(resp *http.Response, body []byte, err error, took time.Duration) {
			if err != nil || resp.StatusCode != 200 || took < 300*time.Millisecond {
				t.Errorf("stall: %v after %v", err, took)
			}
		},
	}
	for _, kind := range AllFaultKinds {
		if err := s.SetFaults(1, []string{kind}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, body, err := httpGet(t, u, testKey)
		check[kind](resp, body, err, time.Since(start))
		// The control API is never faulted.
		if r := call(t, s, "GET", "/_sim/requests", ""); r.code != 200 {
			t.Errorf("%s: control API faulted: %d", kind, r.code)
		}
	}
	// Off again, through the control API.
	if r := call(t, s, "POST", "/_sim/faults", ""); r.code != 400 {
		t.Errorf("faults without body: %d", r.code)
	}
	req := httptest.NewRequest("POST", "/_sim/faults", strings.NewReader(`{"rate":0}`))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("faults off: %d %s", rec.Code, rec.Body)
	}
	if resp, _, err := httpGet(t, u, testKey); err != nil || resp.StatusCode != 200 {
		t.Errorf("after faults off: %v", err)
	}
	// A partial rate faults some requests, deterministically by seed.
	req = httptest.NewRequest("POST", "/_sim/faults", strings.NewReader(`{"rate":0.3,"kinds":["500","status2"]}`))
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("faults 0.3: %d %s", rec.Code, rec.Body)
	}
	bad := 0
	for i := 0; i < 200; i++ {
		r := get(t, s, "/3.0/offers")
		if r.code != 200 || r.body["status"] != float64(1) {
			bad++
		}
	}
	if bad < 30 || bad > 90 {
		t.Errorf("rate 0.3 faulted %d of 200", bad)
	}
	if err := s.SetFaults(0.5, []string{"boom"}); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestRPSAndLatency(t *testing.T) {
	s, _ := newSim(t, func(c *Config) { c.Conversions = 100; c.RPS = 3; c.Latency = 20 * time.Millisecond })
	// Align to the start of a second so the burst falls in one window.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	start := time.Now()
	codes := []int{}
	for i := 0; i < 5; i++ {
		r := get(t, s, "/3.0/offers")
		codes = append(codes, r.code)
		if r.code == 429 && r.hdr.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("latency not applied: %v", time.Since(start))
	}
	if codes[0] != 200 || codes[2] != 200 || codes[3] != 429 || codes[4] != 429 {
		t.Errorf("rps 3: codes %v", codes)
	}
}

func TestAuth(t *testing.T) {
	s, _ := newSim(t, func(c *Config) { c.Conversions = 100 })
	for _, key := range []string{"", "wrong"} {
		r := call(t, s, "GET", "/3.0/offers", key)
		if r.code != 401 || r.body["status"] != float64(2) || r.body["error"] == nil {
			t.Errorf("key %q: %d %s", key, r.code, r.raw)
		}
		if strings.Contains(string(r.raw), testKey) {
			t.Error("key leaked in error")
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without key")
	}
	if r := get(t, s, "/3.0/nope"); r.code != 404 {
		t.Errorf("unknown endpoint: %d", r.code)
	}
}

func TestAffiliateMode(t *testing.T) {
	s, _ := newSim(t, func(c *Config) { c.AffiliateKey = "aff-key"; c.AffiliatePartner = 3 })
	aff := func(target string) reply { return call(t, s, "GET", target, "aff-key") }
	for _, target := range []string{
		"/3.0/admin/partners", "/3.0/admin/advertisers",
		"/3.0/stats/conversions?update_from_date=2025-03-10",
		"/3.0/stats/conversions?update_to_date=2025-03-10&update_to_hour=3",
		"/3.0/stats/conversions?partner[]=2",
		"/3.0/stats/custom?slice[]=advertiser&filter[date_from]=2025-03-01&filter[date_to]=2025-03-02",
		"/3.0/stats/custom?slice[]=affiliate&filter[date_from]=2025-03-01&filter[date_to]=2025-03-02",
	} {
		r := aff(target)
		if r.code != 403 || r.body["status"] != float64(2) || !strings.Contains(r.body["error"].(string), "only for admin") {
			t.Errorf("%s: %d %s", target, r.code, r.raw)
		}
	}
	r := aff("/3.0/stats/conversions?date_from=2025-02-01&date_to=2025-03-15&limit=500")
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.raw)
	}
	rows := r.body["conversions"].([]any)
	if len(rows) == 0 {
		t.Fatal("affiliate sees no conversions")
	}
	for _, x := range rows {
		c := x.(map[string]any)
		if c["partner_id"] != float64(3) {
			t.Fatalf("affiliate sees partner %v", c["partner_id"])
		}
		if _, ok := c["revenue"]; ok {
			t.Fatal("affiliate sees advertiser revenue")
		}
	}
	_, padm := mustList(t, s, "/3.0/stats/conversions?date_from=2025-02-01&date_to=2025-03-15&partner[]=3&limit=1", "conversions")
	if r.body["pagination"].(map[string]any)["total_count"] != padm["total_count"] {
		t.Errorf("affiliate total %v != admin partner[]=3 total %v", r.body["pagination"], padm)
	}
	if r := aff("/3.0/stats/clicks?date_from=2025-03-14&date_to=2025-03-14&limit=500"); r.code != 200 {
		t.Errorf("affiliate clicks: %d", r.code)
	} else {
		for _, x := range r.body["clicks"].([]any) {
			if x.(map[string]any)["partner_id"] != float64(3) {
				t.Fatal("affiliate sees other partners' clicks")
			}
		}
	}
}

func TestChurnAndControlAPI(t *testing.T) {
	s, clk := newSim(t, func(c *Config) { c.Conversions = 5000 })
	before := truth(t, s, "conversions")
	beforeClicks := truth(t, s, "clicks")
	clk.Set(testAnchor.Add(10 * time.Minute))
	r := call(t, s, "POST", "/_sim/churn?n=100", "")
	if r.code != 200 {
		t.Fatalf("churn: %d %s", r.code, r.raw)
	}
	changed, created := int(r.body["changed"].(float64)), int(r.body["created"].(float64))
	if changed+created != 100 || changed == 0 || created == 0 {
		t.Fatalf("churn: changed %d created %d", changed, created)
	}
	after := truth(t, s, "conversions")
	if len(after) != len(before)+created {
		t.Errorf("conversions %d -> %d, created %d", len(before), len(after), created)
	}
	if c := truth(t, s, "clicks"); len(c) < len(beforeClicks)+created {
		t.Errorf("clicks %d -> %d", len(beforeClicks), len(c))
	}
	// Everything churned is found by an update window over the last hour.
	_, p := mustList(t, s, "/3.0/stats/conversions?date_from=2025-01-01&date_to=2025-03-15&update_from_date=2025-03-15&update_from_hour=12&update_to_date=2025-03-15&update_to_hour=12&limit=1", "conversions")
	stamp := "2025-03-15 12:40:00"
	n := 0
	for _, c := range after {
		if c["updated_at"] == stamp {
			n++
		}
	}
	if n != 100 {
		t.Errorf("%d rows updated at %s, want 100", n, stamp)
	}
	if total(p) < 100 {
		t.Errorf("update window after churn: %d", total(p))
	}
	st := map[string]int{}
	old := map[any]any{}
	for _, c := range before {
		old[c["id"]] = c["status"]
	}
	for _, c := range after {
		if o, ok := old[c["id"]]; ok && o != c["status"] {
			if o != "pending" {
				t.Errorf("churn changed a %v conversion", o)
			}
			st[c["status"].(string)]++
		}
	}
	if st["confirmed"]+st["declined"] != changed {
		t.Errorf("status changes %v, changed %d", st, changed)
	}
	// New conversions show up in server postbacks of today too.
	_, pb := mustList(t, s, "/3.0/stats/serverpostbacks?date_from=2025-03-15&date_to=2025-03-15&limit=1", "postbacks")
	_, pc := mustList(t, s, "/3.0/stats/conversions?date_from=2025-03-15&date_to=2025-03-15&limit=1", "conversions")
	if total(pb) != total(pc) {
		t.Errorf("postbacks %d vs conversions %d today", total(pb), total(pc))
	}
	// Truth over HTTP, counters, reset.
	tr := call(t, s, "GET", "/_sim/truth/partners", "")
	if tr.code != 200 || len(tr.body["rows"].([]any)) != 25 {
		t.Errorf("truth partners: %d", tr.code)
	}
	if call(t, s, "GET", "/_sim/truth/nope", "").code != 404 {
		t.Error("unknown truth stream")
	}
	s.ResetRequests()
	get(t, s, "/3.0/offers")
	get(t, s, "/3.0/offers")
	call(t, s, "GET", "/3.0/offers", "bad")
	rq := call(t, s, "GET", "/_sim/requests", "")
	by := rq.body["by_endpoint"].(map[string]any)
	code := rq.body["by_code"].(map[string]any)
	if rq.body["total"] != float64(3) || by["/3.0/offers"] != float64(3) || code["200"] != float64(2) || code["401"] != float64(1) {
		t.Errorf("requests: %s", rq.raw)
	}
	call(t, s, "POST", "/_sim/requests/reset", "")
	if s.Requests().Total != 0 {
		t.Error("reset")
	}
}

func TestDeterministic(t *testing.T) {
	a, _ := newSim(t, func(c *Config) { c.Conversions = 3000 })
	b, _ := newSim(t, func(c *Config) { c.Conversions = 3000 })
	c, _ := newSim(t, func(c *Config) { c.Conversions = 3000; c.Seed = 8 })
	for _, st := range Streams() {
		ra, _ := a.Truth(st)
		rb, _ := b.Truth(st)
		rc, _ := c.Truth(st)
		if len(ra) != len(rb) || len(ra) == 0 {
			t.Fatalf("%s: %d vs %d rows", st, len(ra), len(rb))
		}
		for i := range ra {
			if !bytes.Equal(ra[i], rb[i]) {
				t.Fatalf("%s row %d differs for the same seed", st, i)
			}
		}
		if st == "conversions" && bytes.Equal(ra[0], rc[0]) {
			t.Errorf("%s: a different seed gives the same data", st)
		}
	}
	a.Churn(50)
	b.Churn(50)
	ra, _ := a.Truth("conversions")
	rb, _ := b.Truth("conversions")
	if len(ra) != len(rb) || !bytes.Equal(ra[len(ra)-1], rb[len(rb)-1]) {
		t.Error("churn is not deterministic")
	}
}
