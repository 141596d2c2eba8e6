package extract

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"

	"github.com/apache/arrow-go/v18/arrow"
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
	b := s.m.NewBuilder(s.c.mem, s.scope.Loc, s.c.now().UTC())
	defer b.Release()
	q := s.query(w)
	batch := s.batchRows()
	log := s.c.log.With().Str("stream", s.decl.Name).Time("from", w.From).Time("to", w.To).Logger()

	var requests int64
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
	wk := &walker{s: s, q: q, seen: map[uint64]int{}, seed: maphash.MakeSeed(), add: func(item []byte, seen func([]byte) bool) error {
		appended, err := b.AppendNew(item, seen)
		if err != nil {
			return err
		}
		if appended && b.Len() >= batch {
			return flush()
		}
		return nil
	}}
	for n := 1; ; n++ {
		r, err := wk.walk(ctx, n)
		requests += r.requests
		if err != nil {
			// The caller names the stream and the window.
			return requests, err
		}
		if r.complete() {
			break
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
			break
		}
		ev.Msg("rows still do not add up to total_count")
		return requests, fmt.Errorf("%s: GET %s %s..%s: %w: %d distinct rows (%d over %d walks) of total_count %d%s",
			s.decl.Name, s.decl.Endpoint, w.From.Format("2006-01-02T15:04Z07:00"), w.To.Format("2006-01-02T15:04Z07:00"),
			ErrIncomplete, r.distinct, len(wk.seen), n, r.lastTotal, changedNote(r))
	}
	if err := flush(); err != nil {
		return requests, err
	}
	log.Debug().Int64("requests", requests).Int("rows", emitted).Msg("window fetched")
	return requests, nil
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
// to add.
func (wk *walker) walk(ctx context.Context, n int) (walkResult, error) {
	s := wk.s
	var r walkResult
	wk.n, wk.r = n, &r
	seen := wk.seenKey
	for page := 1; ; page++ {
		if page > s.c.maxPages {
			return r, fmt.Errorf("GET %s page %d: %w: more than %d pages", s.decl.Endpoint, page, ErrPagination, s.c.maxPages)
		}
		reply, attempts, err := s.c.getPage(ctx, s.decl.Endpoint, s.decl.ListKey, wk.q, page)
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
	}
}
