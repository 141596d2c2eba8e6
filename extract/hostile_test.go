package extract

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/models"
)

// hostileServer answers every request with fn(page, n): n counts requests
// from 1. The key is checked as Affise does.
func hostileServer(t *testing.T, fn func(w http.ResponseWriter, r *http.Request, page int, n int64)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if r.Header.Get("API-Key") != testKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		fn(w, r, page, i)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// page renders a conversions reply of ids; next 0 omits next_page.
func page(p, total, next int, ids ...string) string {
	items := make([]string, len(ids))
	for i, id := range ids {
		items[i] = fmt.Sprintf(`{"id":%q}`, id)
	}
	nx := ""
	if next != 0 {
		nx = fmt.Sprintf(`,"next_page":%d`, next)
	}
	return fmt.Sprintf(`{"status":1,"conversions":[%s],"pagination":{"per_page":3,"total_count":%d,"page":%d%s}}`,
		strings.Join(items, ","), total, p, nx)
}

// TestHostileResponses serves one hostile reply (or sequence) per case
// through the real Client and the conversions extractor. Each case expects
// either exactly these rows or an error with these parts. Cases already
// covered by client_test.go (a fault then success; next_page repeating,
// jumping, going back or running forever; total_count changing between
// pages) are not repeated here.
func TestHostileResponses(t *testing.T) {
	type want struct {
		ids       []string // success: exactly these rows, in order
		err       []string // failure: the message has all of these
		errIs     error
		temporary bool // failure: a RequestError with Temporary
		reqs      int64
	}
	always := func(code int, ctype, body string) func(http.ResponseWriter, *http.Request, int, int64) {
		return func(w http.ResponseWriter, _ *http.Request, _ int, _ int64) {
			if ctype != "" {
				w.Header().Set("Content-Type", ctype)
			}
			w.WriteHeader(code)
			w.Write([]byte(body))
		}
	}
	pages := func(replies ...string) func(http.ResponseWriter, *http.Request, int, int64) {
		return func(w http.ResponseWriter, _ *http.Request, p int, _ int64) {
			w.Write([]byte(replies[p-1]))
		}
	}
	drip := func(w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		for i := 0; i < len(body); i++ {
			if _, err := w.Write([]byte{body[i]}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	huge := `{"status":1,"conversions":[` + strings.Repeat(`{"id":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},`, 40_000) + `{"id":"z"}]}`

	cases := []struct {
		name  string
		serve func(http.ResponseWriter, *http.Request, int, int64)
		model models.Model
		want  want
	}{
		{"HTML with 200, every time", always(200, "text/html", "<html><body><h1>Bad Gateway</h1></body></html>"),
			nil, want{err: []string{"GET /3.0/stats/conversions page 1: HTTP 200: non-JSON body", "text/html", "Bad Gateway", "(after 3 attempts)"}, temporary: true, reqs: 3}},
		{"empty body with 200, every time", always(200, "application/json", ""),
			nil, want{err: []string{"HTTP 200: truncated JSON: body ends early", "(after 3 attempts)"}, temporary: true, reqs: 3}},
		{"status 2 with an error text, every time", always(200, "", `{"status":2,"error":"Too many requests to stats, try later"}`),
			nil, want{err: []string{"page 1: HTTP 200 status 2: Too many requests to stats, try later (after 3 attempts)"}, temporary: true, reqs: 3}},
		{"no status at all", always(200, "", `{"conversions":[{"id":"a"}]}`),
			nil, want{err: []string{"HTTP 200: reply status is not 1"}, temporary: true, reqs: 3}},
		{"JSON cut short, every time", always(200, "application/json", `{"status":1,"conversions":[{"id":"a"},{"id":"b"`),
			nil, want{err: []string{"truncated JSON", "(after 3 attempts)"}, temporary: true, reqs: 3}},
		{"two replies glued together", always(200, "", page(1, 1, 0, "a")+page(1, 1, 0, "a")),
			nil, want{err: []string{"non-JSON body", "after the reply"}, temporary: true, reqs: 3}},
		{"the same row on two pages is loaded once", pages(page(1, 4, 2, "a", "b", "c"), page(2, 4, 0, "c", "d")),
			nil, want{ids: []string{"a", "b", "c", "d"}, reqs: 2}},
		{"a page shorter than limit before the end", pages(page(1, 5, 2, "a", "b"), page(2, 5, 3, "c", "d", "e"), page(3, 5, 0)),
			nil, want{ids: []string{"a", "b", "c", "d", "e"}, reqs: 3}},
		{"next_page points backwards", pages(page(1, 9, 2, "a", "b", "c"), page(2, 9, 1, "d", "e", "f")),
			nil, want{errIs: ErrPagination, err: []string{"GET /3.0/stats/conversions page 2", "next_page is 1"}, reqs: 2}},
		{"a reply for another page", pages(page(1, 9, 2, "a", "b", "c"), page(1, 9, 2, "a", "b", "c")),
			nil, want{errIs: ErrPagination, err: []string{"page 2", "the reply is for page 1"}, reqs: 2}},
		{"total_count out of range", always(200, "", `{"status":1,"conversions":[{"id":"a"}],"pagination":{"total_count":1e30,"page":1}}`),
			nil, want{err: []string{"malformed reply", "pagination", "not an integer: 1e30"}, temporary: true, reqs: 3}},
		{"next_page out of range", always(200, "", `{"status":1,"conversions":[{"id":"a"}],"pagination":{"page":1,"next_page":99999999999999999999}}`),
			nil, want{err: []string{"malformed reply", "not an integer: 99999999999999999999"}, temporary: true, reqs: 3}},
		{"a row's number out of range fails at once, naming the field", always(200, "", `{"status":1,"conversions":[{"id":"a","offer_id":99999999999999999999}]}`),
			models.Conversions(), want{err: []string{"GET /3.0/stats/conversions page 1 item 1: conversions: field \"offer_id\"", "out of int64 range"}, reqs: 1}},
		{"a row's money out of range", always(200, "", `{"status":1,"conversions":[{"id":"a","revenue":1e30}]}`),
			models.Conversions(), want{err: []string{"item 1", `"revenue"`, "DECIMAL(18,4)"}, reqs: 1}},
		{"pagination is a string", always(200, "", `{"status":1,"conversions":[{"id":"a"}],"pagination":"x"}`),
			nil, want{err: []string{"malformed reply", `pagination is "x", not an object`}, temporary: true, reqs: 3}},
		{"the list is an empty object (PHP's empty array)", always(200, "", `{"status":1,"conversions":{},"pagination":{"page":1,"total_count":0}}`),
			nil, want{ids: nil, reqs: 1}},
		{"the list is a string", always(200, "", `{"status":1,"conversions":"none"}`),
			nil, want{err: []string{"malformed reply", "list is none, not an array"}, temporary: true, reqs: 3}},
		{"a row is a string", always(200, "", `{"status":1,"conversions":["a"]}`),
			models.Conversions(), want{err: []string{"page 1 item 1", "not a JSON object"}, reqs: 1}},
		{"a row is an object where a string belongs", always(200, "", `{"status":1,"conversions":[{"id":"a","status":{"x":1}}]}`),
			models.Conversions(), want{err: []string{"item 1", `"status"`, "object"}, reqs: 1}},
		{"a body over the cap (1 MiB), streamed without a length", func(w http.ResponseWriter, _ *http.Request, _ int, _ int64) {
			for i := 0; i < len(huge); i += 64 << 10 {
				w.Write([]byte(huge[i:min(i+64<<10, len(huge))]))
				w.(http.Flusher).Flush()
			}
		}, nil, want{err: []string{"response body exceeds 1048576 bytes (lower api.page_size)"}, reqs: 1}},
		{"a body dripping a byte every 100ms hits the timeout, every time", func(w http.ResponseWriter, r *http.Request, _ int, _ int64) {
			drip(w, r, page(1, 1, 0, "a"))
		}, nil, want{err: []string{"GET /3.0/stats/conversions page 1: HTTP 200: reading body: timed out", "(after 3 attempts)"}, temporary: true, reqs: 3}},
		{"a dripping body is retried", func(w http.ResponseWriter, r *http.Request, p int, n int64) {
			if n == 1 {
				drip(w, r, page(1, 1, 0, "a"))
				return
			}
			w.Write([]byte(page(1, 2, 0, "a", "b")))
		}, nil, want{ids: []string{"a", "b"}, reqs: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, served := hostileServer(t, tc.serve)
			c := testClient(t, srv, ClientConfig{PageSize: 3, MaxRetries: 2, Timeout: 300 * time.Millisecond}, WithMaxBodyBytes(1<<20))
			m := tc.model
			if m == nil {
				m = testModel{}
			}
			s := mustStream(NewExtractor("conversions", c, m, Options{}))
			var ids []string
			var rows int64
			reqs, err := s.Fetch(context.Background(), Window{From: time.Now().Add(-time.Hour), To: time.Now()}, func(rec arrow.RecordBatch) error {
				rows += rec.NumRows()
				if _, ok := m.(testModel); ok {
					for i := 0; i < int(rec.NumRows()); i++ {
						ids = append(ids, rec.Column(0).ValueStr(i))
					}
				}
				return nil
			})
			if reqs != tc.want.reqs || served.Load() != tc.want.reqs {
				t.Errorf("requests: counted %d, served %d, want %d", reqs, served.Load(), tc.want.reqs)
			}
			if tc.want.err == nil && tc.want.errIs == nil {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				if !slices.Equal(ids, tc.want.ids) {
					t.Fatalf("rows %v, want %v", ids, tc.want.ids)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; rows %v", ids)
			}
			if rows != 0 {
				t.Errorf("%d rows emitted before the error", rows)
			}
			if tc.want.errIs != nil && !errors.Is(err, tc.want.errIs) {
				t.Errorf("err %v, want %v", err, tc.want.errIs)
			}
			for _, part := range tc.want.err {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q\n lacks %q", err, part)
				}
			}
			var re *RequestError
			if tc.want.temporary && (!errors.As(err, &re) || !re.Temporary) {
				t.Errorf("want a temporary RequestError, got %#v", err)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error carries the key: %v", err)
			}
		})
	}
}
