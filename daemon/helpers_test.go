package daemon

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
)

// fakeWarehouse is a load.Reader holding cursors in memory, with no pass
// history and no conversions.
type fakeWarehouse struct {
	mu      sync.Mutex
	cursors map[string]time.Time
}

func newFakeWarehouse() *fakeWarehouse { return &fakeWarehouse{cursors: map[string]time.Time{}} }

func (s *fakeWarehouse) set(stream string, t time.Time) {
	s.mu.Lock()
	s.cursors[stream] = t
	s.mu.Unlock()
}

func (s *fakeWarehouse) Cursor(_ context.Context, stream string) (checkpoints.Cursor, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.cursors[stream]
	return checkpoints.Cursor{Stream: stream, Position: t}, ok, nil
}

func (s *fakeWarehouse) Cursors(context.Context) ([]checkpoints.Cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []checkpoints.Cursor
	for k, v := range s.cursors {
		out = append(out, checkpoints.Cursor{Stream: k, Position: v})
	}
	return out, nil
}

func (s *fakeWarehouse) DailyMoney(context.Context, time.Time, time.Time) ([]load.DayMoney, bool, error) {
	return nil, false, nil
}

func (s *fakeWarehouse) LastRuns(context.Context) ([]load.LastRun, error) { return nil, nil }

func (s *fakeWarehouse) Currencies(context.Context) ([]string, error) { return nil, nil }

// clock is a settable clock for state tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func every(d time.Duration) cron.Schedule { return Every(d) }

func mustSchedule(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testLog collects log lines.
type testLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *testLog) logger() zerolog.Logger { return zerolog.New(l).With().Timestamp().Logger() }

// openWarehouse opens a fresh DuckDB warehouse, and its database for
// seeding it.
func openWarehouse(t *testing.T) (*duckdb.Sink, *sql.DB) {
	t.Helper()
	wh, err := duckdb.Open(context.Background(), filepath.Join(t.TempDir(), "w.duckdb"), duckdb.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	return wh, wh.DB()
}

// seedConversions creates a conversions table with a few days of money:
// on day i (0 = today) confirmed revenue 100+10i, payouts 60+5i, plus a
// declined conversion that must not count.
func seedConversions(t *testing.T, db *sql.DB, now time.Time, days int) {
	t.Helper()
	mustExec(t, db, `CREATE TABLE conversions (id VARCHAR PRIMARY KEY, status VARCHAR, currency VARCHAR,
		revenue DECIMAL(18,4), payouts DECIMAL(18,4), created_at TIMESTAMP, raw JSON)`)
	today := now.UTC().Truncate(24 * time.Hour)
	for i := range days {
		day := today.AddDate(0, 0, -i).Add(13 * time.Hour)
		ts := day.Format(time.DateTime)
		rev := 100 + 10*i
		pay := 60 + 5*i
		if i%7 == 3 {
			pay = rev + 25 // a losing day: negative profit
		}
		mustExec(t, db, `INSERT INTO conversions VALUES (?, 'confirmed', 'USD', ?, ?, CAST(? AS TIMESTAMP), '{}')`, "c"+strconv.Itoa(i), rev, pay, ts)
		mustExec(t, db, `INSERT INTO conversions VALUES (?, 'declined', 'USD', 999, 999, CAST(? AS TIMESTAMP), '{}')`, "d"+strconv.Itoa(i), ts)
	}
	// The warehouse's reads are per network: these are the default one's.
	mustExec(t, db, `ALTER TABLE conversions ADD COLUMN network VARCHAR DEFAULT 'default'`)
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// scrape parses the Prometheus text format into "name{labels}" -> value,
// with labels sorted as the exposition prints them.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	code, body := get(t, h, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: HTTP %d: %s", code, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metric line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runDaemon runs d in the background; the returned func cancels it and
// returns Run's error.
func runDaemon(t *testing.T, d *Daemon) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(15 * time.Second):
				t.Fatal("Run did not return within 15s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}
