package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/rs/zerolog"
)

// Errors of a page walk (wrapped with the stream, endpoint and page).
var (
	// ErrPagination: the API's paging does not move forward (next_page is not
	// page+1, the reply is for another page, or too many pages).
	ErrPagination = errors.New("pagination does not advance")
	// ErrIncomplete: after re-walking, the rows of a window still do not add
	// up to the API's total_count.
	ErrIncomplete = errors.New("rows do not add up to total_count")
)

// Fetch walks every page of w, handing records of at most the batch size to
// emit. The record is released when emit returns: emit must Retain it to keep
// it. Every key is emitted at most once per Fetch, so batches never repeat a
// row even when offset paging shifts rows or the window is walked again.
// Nothing is emitted for an empty window.
//
// When a walk ends with fewer distinct rows than total_count, or total_count
// changed between its pages, the window is walked again (WithRewalks, default
// 3 times); if it still does not add up, and the rows of all walks together
// do not reach the last total_count either, Fetch fails with ErrIncomplete.
func (s *Stream) Fetch(ctx context.Context, w Window, emit func(arrow.RecordBatch) error) (int64, error) {
	b := s.m.NewBuilder(s.c.mem, s.c.network, s.scope.Loc, s.c.now().UTC())
	defer b.Release()
	batch := s.batchRows()
	log := s.c.log.With().Str("stream", s.decl.Name).Time("from", w.From).Time("to", w.To).Logger()

	emitted := 0
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		rec := b.NewRecord()
		defer rec.Release()
		emitted += int(rec.NumRows())
		if err := emit(rec); err != nil {
			return fmt.Errorf("loading batch: %w", err)
		}
		return nil
	}
	add := func(item []byte, seen func([]byte) bool) error {
		appended, err := b.AppendNew(item, seen)
		if err != nil {
			return err
		}
		if appended && b.Len() >= batch {
			return flush()
		}
		return nil
	}
	if name := s.decl.StampsDay; name != "" {
		stamp, inner := w.From.UTC().Format(time.DateOnly), add
		add = func(item []byte, seen func([]byte) bool) error {
			stamped, err := withMember(item, name, stamp)
			if err != nil {
				return err
			}
			return inner(stamped, seen)
		}
	}
	currencies, err := s.currenciesOf(ctx)
	if err != nil {
		return 0, err
	}
	var requests int64
	for _, cur := range currencies {
		q, add, base := s.query(w), add, add
		if cur != "" {
			// Affise sums every currency together unless asked for one:
			// each currency's numbers are a walk of their own, stored with
			// the currency in the slice, as a reply sliced by it has it.
			q.Set("filter[currency][]", cur)
			add = func(item []byte, seen func([]byte) bool) error {
				tagged, err := withSliceCurrency(item, cur)
				if err != nil {
					return err
				}
				return base(tagged, seen)
			}
		}
		r, err := s.walkAll(ctx, w, q, add, log)
		requests += r
		if err != nil {
			return requests, err
		}
	}
	if err := flush(); err != nil {
		return requests, err
	}
	log.Debug().Int64("requests", requests).Int("rows", emitted).Msg("window fetched")
	return requests, nil
}

// walkAll walks the pages of one query of w until its rows add up (see
// Fetch), handing each item to add.
func (s *Stream) walkAll(ctx context.Context, w Window, q url.Values, add func(item []byte, seen func([]byte) bool) error, log zerolog.Logger) (int64, error) {
	var requests int64
	wk := &walker{s: s, q: q, seen: map[uint64]int{}, seed: maphash.MakeSeed(), add: add}
	for n := 1; ; n++ {
		r, err := wk.walk(ctx, n)
		requests += r.requests
		if err != nil {
			// The caller names the stream and the window.
			return requests, err
		}
		if r.complete() {
			return requests, nil
		}
		ev := log.Warn().Int("walk", n).Int("distinct", r.distinct).Int64("total_count", r.lastTotal).
			Bool("total_changed", r.totalChanged)
		if n <= s.c.rewalks {
			ev.Msg("rows do not add up to total_count (rows shifted while paging?); walking the window again")
			continue
		}
		if int64(len(wk.seen)) >= r.lastTotal {
			ev.Int("distinct_all_walks", len(wk.seen)).
				Msg("total_count kept changing while paging; the walks together cover it")
			return requests, nil
		}
		ev.Msg("rows still do not add up to total_count")
		return requests, fmt.Errorf("%s: GET %s %s..%s: %w: %d distinct rows (%d over %d walks) of total_count %d%s",
			s.decl.Name, s.decl.Endpoint, w.From.Format("2006-01-02T15:04Z07:00"), w.To.Format("2006-01-02T15:04Z07:00"),
			ErrIncomplete, r.distinct, len(wk.seen), n, r.lastTotal, changedNote(r))
	}
}

// currenciesOf lists the currencies a window is asked for one by one: for
// a stream declared PerCurrency, those Options.Currencies knows; [""] (one
// request, no filter) otherwise, or while none is known.
func (s *Stream) currenciesOf(ctx context.Context) ([]string, error) {
	if !s.decl.PerCurrency || s.currencies == nil {
		return []string{""}, nil
	}
	s.curMu.Lock()
	defer s.curMu.Unlock()
	// A pass asks for many windows; the list changes rarely (a lake reads
	// a column of every conversions partition to make it).
	if s.curAt.IsZero() || time.Since(s.curAt) > currencyListTTL {
		cs, err := s.currencies(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: listing currencies: %w", s.decl.Name, err)
		}
		s.curList, s.curAt = cs, time.Now()
	}
	cs := s.curList
	if len(cs) == 0 {
		return []string{""}, nil
	}
	return cs, nil
}

// withMember returns the object obj with "name":value added first.
func withMember(obj []byte, name, value string) ([]byte, error) {
	if len(obj) < 2 || obj[0] != '{' {
		return nil, errors.New("item is not an object")
	}
	return insertFirst(obj, 0, name, value)
}

// insertFirst returns obj with "name":value added first in the object
// whose '{' is at obj[brace].
func insertFirst(obj []byte, brace int, name, value string) ([]byte, error) {
	n, err := json.Marshal(name)
	if err != nil {
		return nil, err
	}
	v, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(obj)+len(n)+len(v)+2)
	out = append(out, obj[:brace+1]...)
	out = append(append(append(out, n...), ':'), v...)
	if rest := bytes.TrimSpace(obj[brace+1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, obj[brace+1:]...), nil
}

// currencyListTTL is how long a stream reuses the currencies it listed.
const currencyListTTL = time.Minute

// withSliceCurrency returns the custom-stats item obj with "currency":cur
// added first in its slice object.
func withSliceCurrency(obj []byte, cur string) ([]byte, error) {
	i := bytes.Index(obj, []byte(`"slice"`))
	if i < 0 {
		return nil, errors.New(`stats item has no "slice" object`)
	}
	j := i + len(`"slice"`)
	for j < len(obj) && (obj[j] == ' ' || obj[j] == '\t' || obj[j] == '\n' || obj[j] == '\r' || obj[j] == ':') {
		j++
	}
	if j >= len(obj) || obj[j] != '{' {
		return nil, errors.New(`stats item's "slice" is not an object`)
	}
	return insertFirst(obj, j, "currency", cur)
}

func changedNote(r walkResult) string {
	if r.totalChanged {
		return fmt.Sprintf(" (total_count changed from %d while paging)", r.firstTotal)
	}
	return ""
}

type walker struct {
	s    *Stream
	q    url.Values
	seed maphash.Seed
	// seen maps a key's hash to the last walk that saw it.
	seen map[uint64]int
	// add decodes an item and appends it unless seen reports its key.
	add func(item []byte, seen func(key []byte) bool) error
	// n and r are the walk under way, for seenKey.
	n int
	r *walkResult
}

// seenKey counts a key in the walk under way and reports whether an earlier
// walk, or this one, already saw it (so its row was emitted).
func (wk *walker) seenKey(k []byte) bool {
	h := maphash.Bytes(wk.seed, k)
	last, ok := wk.seen[h]
	if last != wk.n {
		wk.r.distinct++
		wk.seen[h] = wk.n
	}
	return ok
}

type walkResult struct {
	requests              int64
	distinct              int
	counted               bool // the API sent total_count
	firstTotal, lastTotal int64
	totalChanged          bool
}

func (r walkResult) complete() bool {
	return !r.counted || (!r.totalChanged && int64(r.distinct) >= r.lastTotal)
}

// walk reads every page once (walk number n), handing keys not yet emitted
// to add in page order. Once page 1 gives total_count, the pages it
// implies are fetched ahead, up to the client's concurrency, but their
// items are handed on, and next_page, page and total_count checked, one
// page after the other as if they came one by one: a page fetched ahead
// that the walk turns out not to need is dropped unread. Fetching ahead
// starts once page 2 has shown that the API pages as it says.
func (wk *walker) walk(ctx context.Context, n int) (r walkResult, err error) {
	s := wk.s
	wk.n, wk.r = n, &r
	seen := wk.seenKey
	pg := newPager(ctx, func(ctx context.Context, page int) (*pageReply, int, error) {
		return s.c.getPage(ctx, s.decl.Endpoint, s.decl.ListKey, wk.q, page)
	})
	defer func() { r.requests += pg.stop() }()
	perPage := 0 // items of a full page, as page 1 has them
	for page := 1; ; page++ {
		if page > s.c.maxPages {
			return r, fmt.Errorf("GET %s page %d: %w: more than %d pages", s.decl.Endpoint, page, ErrPagination, s.c.maxPages)
		}
		reply, attempts, err := pg.get(page)
		r.requests += int64(attempts)
		if err != nil {
			return r, err
		}
		for i, item := range reply.items {
			if err := wk.add(item, seen); err != nil {
				// A model's error quotes a bad scalar: mask the key should
				// a hostile reply echo it in a field.
				return r, &redactedError{msg: fmt.Sprintf("GET %s page %d item %d: %s", s.decl.Endpoint, page, i+1, s.c.Redact(err.Error())), err: err}
			}
		}
		p := reply.pagination
		if p == nil {
			return r, nil
		}
		if p.TotalCount.set {
			if !r.counted {
				r.counted, r.firstTotal = true, p.TotalCount.v
			} else if p.TotalCount.v != r.lastTotal {
				r.totalChanged = true
			}
			r.lastTotal = p.TotalCount.v
		}
		if p.Page.set && p.Page.v != int64(page) {
			return r, fmt.Errorf("GET %s page %d: %w: the reply is for page %d", s.decl.Endpoint, page, ErrPagination, p.Page.v)
		}
		if !p.NextPage.set || p.NextPage.v == 0 || len(reply.items) == 0 {
			return r, nil
		}
		if p.NextPage.v != int64(page+1) {
			return r, fmt.Errorf("GET %s page %d: %w: next_page is %d", s.decl.Endpoint, page, ErrPagination, p.NextPage.v)
		}
		if page == 1 {
			// Fetch page 2 alone: a server that ignores page= (or pages
			// wrongly) shows it there, before concurrency requests are
			// spent on it.
			perPage = len(reply.items)
			continue
		}
		pg.ahead(page+1, lastPage(r, perPage, page+s.c.concurrency()))
	}
}

// lastPage is the last page a walk fetches ahead to: the last one
// total_count implies at perPage items a page, at most upTo; 0 when the
// API gives no count.
func lastPage(r walkResult, perPage, upTo int) int {
	if !r.counted || perPage <= 0 {
		return 0
	}
	last := (r.lastTotal + int64(perPage) - 1) / int64(perPage)
	return int(min(last, int64(upTo)))
}

// pager fetches the pages of one walk, some ahead of the one the walk
// needs. It holds at most the pages started and not yet taken: the
// client's concurrency of them.
type pager struct {
	ctx    context.Context
	cancel context.CancelFunc
	fetch  func(ctx context.Context, page int) (*pageReply, int, error)
	wg     sync.WaitGroup
	pages  map[int]*fetchedPage
}

type fetchedPage struct {
	done     chan struct{}
	reply    *pageReply
	attempts int
	err      error
}

func newPager(ctx context.Context, fetch func(ctx context.Context, page int) (*pageReply, int, error)) *pager {
	ctx, cancel := context.WithCancel(ctx)
	return &pager{ctx: ctx, cancel: cancel, fetch: fetch, pages: map[int]*fetchedPage{}}
}

// start fetches page unless it is under way.
func (pg *pager) start(page int) {
	if _, ok := pg.pages[page]; ok {
		return
	}
	f := &fetchedPage{done: make(chan struct{})}
	pg.pages[page] = f
	pg.wg.Add(1)
	go func() {
		defer pg.wg.Done()
		defer close(f.done)
		f.reply, f.attempts, f.err = pg.fetch(pg.ctx, page)
	}()
}

// ahead starts the pages from..to (at least from: the walk needs it).
func (pg *pager) ahead(from, to int) {
	for p := from; p <= max(from, to); p++ {
		pg.start(p)
	}
}

// get waits for page (starting it if need be) and takes it.
func (pg *pager) get(page int) (*pageReply, int, error) {
	pg.start(page)
	f := pg.pages[page]
	<-f.done
	delete(pg.pages, page)
	return f.reply, f.attempts, f.err
}

// stop cancels the pages not taken, waits for them, and returns the
// attempts they made.
func (pg *pager) stop() int64 {
	pg.cancel()
	pg.wg.Wait()
	var attempts int64
	for _, f := range pg.pages {
		attempts += int64(f.attempts)
	}
	return attempts
}
