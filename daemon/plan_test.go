package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAPIPlan: GET /api/plan serves each job's Plan in Jobs order (one
// stream with ?stream=), a failed plan as its error, redacted; RemotePlan
// reads it back. A job without Plan is left out.
func TestAPIPlan(t *testing.T) {
	plan := func(v any, err error) func(context.Context) (any, error) {
		return func(context.Context) (any, error) { return v, err }
	}
	conv := idleJob("conversions", 15*time.Minute)
	conv.Plan = plan(map[string]int{"windows": 3}, nil)
	stats := idleJob("stats_daily", time.Hour)
	stats.Plan = plan(nil, errors.New("reading cursor: secret-key-123 refused"))
	d, err := New(Config{Jobs: []Job{conv, stats, idleJob("offers", 6*time.Hour)}, Redact: func(s string) string {
		return strings.ReplaceAll(s, "secret-key-123", "[redacted]")
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	entries, err := RemotePlan(context.Background(), listen, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Stream != "conversions" || compact(entries[0].Plan) != `{"windows":3}` ||
		entries[1].Stream != "stats_daily" || entries[1].Error != "reading cursor: [redacted] refused" || entries[1].Plan != nil {
		b, _ := json.Marshal(entries)
		t.Errorf("entries %s", b)
	}
	one, err := RemotePlan(context.Background(), listen, "conversions")
	if err != nil || len(one) != 1 || one[0].Stream != "conversions" {
		t.Errorf("?stream=conversions: %+v %v", one, err)
	}
	if _, err := RemotePlan(context.Background(), listen, "nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("an unknown stream: %v", err)
	}
}

// TestStatusBehind: a job's Behind judges how far its cursor lags (a daily
// stream at today's midnight is on time at 19:00); without it, now minus
// the cursor. CursorLag stays now minus the cursor.
func TestStatusBehind(t *testing.T) {
	clk := newClock(time.Date(2025, 6, 10, 19, 0, 0, 0, time.UTC))
	midnight := time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC)
	daily := idleJob("server_postbacks", time.Hour)
	daily.Behind = func(cursor, now time.Time) time.Duration {
		y, m, dd := now.Date()
		return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC).Sub(cursor)
	}
	wh := newFakeWarehouse()
	wh.set("server_postbacks", midnight)
	wh.set("offers", midnight)
	d, err := New(Config{Now: clk.Now, Warehouse: wh, Jobs: []Job{daily, idleJob("offers", time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	d.seed(context.Background())
	for _, s := range d.Status() {
		want := 19 * time.Hour
		if s.Stream == "server_postbacks" {
			want = 0
		}
		if s.Behind != want || s.CursorLag != 19*time.Hour {
			t.Errorf("%s: behind %s (lag %s), want %s", s.Stream, s.Behind, s.CursorLag, want)
		}
	}
	if code, body := get(t, d.Handler(), "/"); code != 200 || !strings.Contains(body, "on time") {
		t.Errorf("status page: %d; no \"on time\"", code)
	}
}

func compact(b []byte) string {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return err.Error()
	}
	return out.String()
}
