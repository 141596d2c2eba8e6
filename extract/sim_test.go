package extract

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/internal/affisesim"
	"github.com/syncd/syncd/models"
)

// simPass runs one incremental pass of s from a zero cursor and returns the
// distinct values of the model's first key column, and the rows emitted.
func simPass(t *testing.T, s *Stream, now time.Time) (map[string]bool, int) {
	t.Helper()
	keys := map[string]bool{}
	rows := 0
	keyCol := s.Model().Key()[1] // [0] is the network
	ws := s.Plan(time.Time{}, now)
	if len(ws) == 0 {
		t.Fatalf("%s: no windows", s.Stream())
	}
	for _, w := range ws {
		_, err := s.Fetch(context.Background(), w, func(rec arrow.RecordBatch) error {
			if !rec.Schema().Equal(s.Model().Schema()) {
				t.Fatalf("%s: record schema differs from the model's", s.Stream())
			}
			idx := rec.Schema().FieldIndices(keyCol)
			if len(idx) == 0 {
				t.Fatalf("%s: no key column %q", s.Stream(), keyCol)
			}
			col := rec.Column(idx[0])
			for i := 0; i < col.Len(); i++ {
				keys[col.ValueStr(i)] = true
			}
			rows += int(rec.NumRows())
			return nil
		})
		if err != nil {
			t.Fatalf("%s window %s: %v", s.Stream(), win(w), err)
		}
	}
	return keys, rows
}

func truthKeys(t *testing.T, sim *affisesim.Sim, stream string) map[string]bool {
	t.Helper()
	rows, err := sim.Truth(stream)
	if err != nil {
		t.Fatal(err)
	}
	keyOf := idKey
	if strings.HasSuffix(stream, "postbacks") {
		keyOf = mongoIDKey
	}
	out := map[string]bool{}
	for _, r := range rows {
		out[string(keyOf(r))] = true
	}
	return out
}

func TestAgainstSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("simulator pass")
	}
	for _, tc := range []struct {
		name   string
		tz     string
		faults float64
	}{
		{"clean UTC", "UTC", 0},
		{"Berlin with faults", "Europe/Berlin", 0.15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now().UTC()
			sim, err := affisesim.New(affisesim.Config{Key: testKey, Seed: 7, Conversions: 1500, Days: 10,
				Offers: 12, Partners: 6, Advertisers: 3, Timezone: tc.tz, Now: now, FaultRate: tc.faults,
				// A fixed clock: clicks must not expire between the pass and Truth.
				Clock: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			srv := httptest.NewServer(sim)
			defer srv.Close()
			c, err := NewClient(ClientConfig{BaseURL: srv.URL, Key: testKey, Timezone: tc.tz, PageSize: 100,
				RequestsPerSecond: 2000, Concurrency: 4, Timeout: 5 * time.Second, MaxRetries: 10, MaxRetryAfter: 5 * time.Millisecond},
				WithBackoff(time.Millisecond, 5*time.Millisecond), WithBatchRows(700))
			if err != nil {
				t.Fatal(err)
			}
			start := now.Add(-12 * 24 * time.Hour)
			// Every registered stream, from the registry: a stream added there
			// is checked against the simulator here.
			type simStream struct {
				s     *Stream
				truth string // "" : no truth to compare
				exact bool
			}
			var streams []simStream
			for _, d := range models.Registry() {
				sl := []string{"day", "offer", "partner"}
				m, err := d.Model(sl)
				if err != nil {
					t.Fatal(err)
				}
				o := Options{StartDate: start, UpdateFilter: true, Slices: sl}
				truth, exact := d.Name, true
				if !slices.Contains(affisesim.Streams(), d.Name) {
					truth, exact = "", false // derived rows (custom stats)
				}
				if d.Name == "clicks" {
					// From the default start, within retention; the open hour
					// is not read yet.
					o.StartDate, exact = time.Time{}, false
				}
				streams = append(streams, simStream{mustStream(New(c, d, m, o)), truth, exact})
				if d.Name == "conversions" { // also by creation date (affiliate keys)
					o.UpdateFilter = false
					streams = append(streams, simStream{mustStream(New(c, d, m, o)), truth, exact})
				}
			}
			for _, st := range streams {
				got, rows := simPass(t, st.s, now)
				if rows != len(got) && st.truth != "" {
					t.Errorf("%s: %d rows emitted for %d keys: a key was emitted twice", st.s.Stream(), rows, len(got))
				}
				if st.truth == "" {
					if rows == 0 {
						t.Errorf("%s: no rows", st.s.Stream())
					}
					continue
				}
				want := truthKeys(t, sim, st.truth)
				var missing, extra []string
				for k := range want {
					if !got[k] {
						missing = append(missing, k)
					}
				}
				for k := range got {
					if !want[k] {
						extra = append(extra, k)
					}
				}
				if len(extra) > 0 {
					t.Errorf("%s: %d keys not in the source, e.g. %v", st.s.Stream(), len(extra), extra[:min(3, len(extra))])
				}
				// Clicks: the open hour is not read yet.
				if st.exact && len(missing) > 0 || !st.exact && len(missing) > len(want)/20 {
					slices.Sort(missing)
					t.Errorf("%s: %d of %d source keys missing, e.g. %v", st.s.Stream(), len(missing), len(want), missing[:min(3, len(missing))])
				}
				if len(got) == 0 {
					t.Errorf("%s: nothing fetched", st.s.Stream())
				}
			}
			stats := c.Stats()
			if tc.faults > 0 && stats.Retries == 0 {
				t.Errorf("faults injected but no retries: %+v", stats)
			}
			t.Logf("requests %d retries %d 429s %d", sim.Requests().Total, stats.Retries, stats.RateLimited)
		})
	}
}

// Status changes land: a second pass from the first pass's cursor picks up
// every conversion changed in between, whatever its creation date.
func TestSimulatorStatusChangesLand(t *testing.T) {
	now := time.Now().UTC()
	sim, err := affisesim.New(affisesim.Config{Key: testKey, Seed: 3, Conversions: 1200, Days: 20, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, Key: testKey, PageSize: 50, RequestsPerSecond: 2000},
		WithBackoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s := mustStream(NewExtractor("conversions", c, models.Conversions(), Options{StartDate: now.Add(-25 * 24 * time.Hour), UpdateFilter: true, Lookback: time.Hour}))
	status := map[string]string{}
	pass := func(cursor time.Time) time.Time {
		for _, w := range s.Plan(cursor, time.Now().UTC()) {
			if _, err := s.Fetch(context.Background(), w, func(rec arrow.RecordBatch) error {
				id := rec.Column(rec.Schema().FieldIndices("id")[0])
				st := rec.Column(rec.Schema().FieldIndices("status")[0])
				for i := 0; i < id.Len(); i++ {
					status[id.ValueStr(i)] = st.ValueStr(i)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			cursor = w.Advance
		}
		return cursor
	}
	cursor := pass(time.Time{})
	changed, created := sim.Churn(300)
	if changed == 0 || created == 0 {
		t.Fatalf("churn %d/%d", changed, created)
	}
	pass(cursor)
	rows, err := sim.Truth("conversions")
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, r := range rows {
		var v struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		if status[v.ID] != v.Status {
			bad++
		}
	}
	if bad > 0 || len(status) != len(rows) {
		t.Fatalf("%d of %d conversions differ from the source (%d synced)", bad, len(rows), len(status))
	}
}
