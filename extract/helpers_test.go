package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/models"
)

const testKey = "0123456789abcdef0123456789abcdef"

// testModel keeps each object's "id" (or the whole object) as a string.
type testModel struct{}

var testSchema = arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}}, nil)

func (testModel) Table() string         { return "test" }
func (testModel) Schema() *arrow.Schema { return testSchema }
func (testModel) Key() []string         { return []string{"id"} }
func (testModel) DayColumn() string     { return "" }
func (testModel) Version() string       { return "" }
func (testModel) Original() string      { return "" }
func (testModel) NewBuilder(mem memory.Allocator, _ string, _ *time.Location, _ time.Time) models.Builder {
	return &testBuilder{b: array.NewRecordBuilder(mem, testSchema)}
}

type testBuilder struct {
	b *array.RecordBuilder
	n int
}

func (t *testBuilder) Append(obj json.RawMessage) error {
	_, err := t.AppendNew(obj, func([]byte) bool { return false })
	return err
}
func (t *testBuilder) AppendNew(obj json.RawMessage, seen func([]byte) bool) (bool, error) {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(obj, &v); err != nil {
		return false, fmt.Errorf("test model: %w", err)
	}
	k := scalarKey(v.ID)
	if k == nil {
		k = obj
	}
	if seen(k) {
		return false, nil
	}
	t.b.Field(0).(*array.StringBuilder).Append(string(k))
	t.n++
	return true, nil
}
func (t *testBuilder) Len() int { return t.n }
func (t *testBuilder) NewRecord() arrow.RecordBatch {
	t.n = 0
	return t.b.NewRecordBatch()
}
func (t *testBuilder) Release() { t.b.Release() }

// fakeAPI serves one list endpoint over rows, paging like Affise. Handler
// hooks can alter replies.
type fakeAPI struct {
	t       *testing.T
	mu      sync.Mutex
	rows    []string // ids
	listKey string
	reqs    []*http.Request
	times   []time.Time
	// before may answer the request itself (returns true) — faults.
	before func(w http.ResponseWriter, r *http.Request, n int) bool
	// total overrides total_count (walk = number of page-1 requests so far).
	total func(walk, page int) int
	// pageRows overrides the ids of a page.
	pageRows func(walk, page int, ids []string) []string
	// next overrides next_page (0: absent).
	next  func(page, def int) int
	walks int
}

func newFakeAPI(t *testing.T, n int, listKey string) *fakeAPI {
	f := &fakeAPI{t: t, listKey: listKey}
	for i := 1; i <= n; i++ {
		f.rows = append(f.rows, fmt.Sprintf("r%04d", i))
	}
	return f
}

func (f *fakeAPI) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.reqs...)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Clone(context.Background()))
	f.times = append(f.times, time.Now())
	n := len(f.reqs)
	f.mu.Unlock()
	if r.Header.Get("API-Key") != testKey {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"status":2,"error":"API key is invalid"}`))
		return
	}
	if f.before != nil && f.before(w, r, n) {
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if page < 1 {
		page = 1
	}
	if limit < 1 {
		limit = 100
	}
	f.mu.Lock()
	if page == 1 {
		f.walks++
	}
	walk := f.walks
	f.mu.Unlock()
	lo, hi := min((page-1)*limit, len(f.rows)), min(page*limit, len(f.rows))
	ids := f.rows[lo:hi]
	if f.pageRows != nil {
		ids = f.pageRows(walk, page, ids)
	}
	total := len(f.rows)
	if f.total != nil {
		total = f.total(walk, page)
	}
	items := make([]map[string]any, len(ids))
	for i, id := range ids {
		items[i] = map[string]any{"id": id, "v": i}
	}
	pag := map[string]any{"per_page": limit, "total_count": total, "page": page}
	next := 0
	if hi < len(f.rows) {
		next = page + 1
	}
	if f.next != nil {
		next = f.next(page, next)
	}
	if next != 0 {
		pag["next_page"] = next
	}
	listKey := f.listKey
	if listKey == "" {
		listKey = path.Base(r.URL.Path)
	}
	json.NewEncoder(w).Encode(map[string]any{"status": 1, listKey: items, "pagination": pag, "statusCode": 200})
}

// testClient builds a client on srv with fast retries.
func testClient(t *testing.T, srv *httptest.Server, cfg ClientConfig, opts ...ClientOption) *Client {
	t.Helper()
	cfg.BaseURL = srv.URL
	if cfg.Key == "" {
		cfg.Key = testKey
	}
	if cfg.RequestsPerSecond == 0 {
		cfg.RequestsPerSecond = 1000
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	opts = append([]ClientOption{WithBackoff(time.Millisecond, 10*time.Millisecond)}, opts...)
	c, err := NewClient(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// collect fetches w and returns the ids of every emitted row in order and
// the record sizes.
func collect(t *testing.T, ctx context.Context, s *Stream, w Window) (ids []string, sizes []int, requests int64, err error) {
	t.Helper()
	requests, err = s.Fetch(ctx, w, func(rec arrow.RecordBatch) error {
		sizes = append(sizes, int(rec.NumRows()))
		col := rec.Column(0).(*array.String)
		for i := 0; i < col.Len(); i++ {
			ids = append(ids, col.Value(i))
		}
		return nil
	})
	return ids, sizes, requests, err
}

func mustStream(s *Stream, err error) *Stream {
	if err != nil {
		panic(err)
	}
	return s
}

func snapshotWindow() Window {
	now := time.Now().UTC()
	return Window{To: now, Snapshot: true, Advance: now}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
