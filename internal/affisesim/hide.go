package affisesim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// hide is a lie armed by POST /_sim/hide-once: the first window of
// /3.0/stats/conversions that holds any of its conversions answers as if
// they did not exist, rows and total_count alike, until every page of that
// window has been answered once. It models a page Affise got wrong once
// (a replica behind, a shard that timed out), the kind of loss a client's
// own total_count checks cannot see and only a comparison with Affise's
// stats finds.
type hide struct {
	gen    uint64
	set    map[uint32]bool
	sorted []uint32
	window string         // the claiming window's cache key; "" while armed
	served map[int][]bool // page size -> pages answered with the lie
	done   bool
	pages  int // pages answered with the lie
}

// hideState is what GET /_sim/hide-once shows.
type hideState struct {
	State  string `json:"state"` // none, armed, lying, done
	Hidden int    `json:"hidden"`
	Window string `json:"window,omitempty"`
	Pages  int    `json:"pages_served"`
}

func (s *Sim) ctlHideOnce(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if st := q.Get("stream"); st != "" && st != "conversions" {
		writeJSON(w, 400, map[string]any{"error": "only stream=conversions can hide rows"})
		return
	}
	var wantIDs []string
	for _, v := range q["ids"] {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				wantIDs = append(wantIDs, id)
			}
		}
	}
	day := q.Get("day")
	if len(wantIDs) == 0 && day == "" {
		writeJSON(w, 400, map[string]any{"error": "give ids=ID,ID or day=YYYY-MM-DD"})
		return
	}
	s.mu.RLock()
	set, err := s.hideSet(wantIDs, day, q.Get("timezone"))
	s.mu.RUnlock()
	if err != nil {
		writeJSON(w, 400, map[string]any{"error": err.Error()})
		return
	}
	h := &hide{set: set, served: map[int][]bool{}}
	for ci := range set {
		h.sorted = append(h.sorted, ci)
	}
	slices.Sort(h.sorted)
	s.hmu.Lock()
	s.hideGen++
	h.gen = s.hideGen
	s.hide = h
	s.hmu.Unlock()
	writeJSON(w, 200, map[string]any{"hidden": len(set)})
}

// hideSet resolves ids and a day (in tz, default the platform zone) to
// conversion indices. Caller holds the read lock.
func (s *Sim) hideSet(ids []string, day, tz string) (map[uint32]bool, error) {
	set := map[uint32]bool{}
	if len(ids) > 0 {
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		var buf []byte
		for i := range s.convs {
			buf = appendMongoID(buf[:0], s.idSeed, kindConv, uint64(i))
			if want[string(buf)] {
				set[uint32(i)] = true
				delete(want, string(buf))
			}
		}
		if len(want) > 0 {
			var missing []string
			for id := range want {
				missing = append(missing, id)
			}
			slices.Sort(missing)
			return nil, fmt.Errorf("no conversion has id %s", strings.Join(missing, ","))
		}
	}
	if day != "" {
		d, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return nil, fmt.Errorf("day %q is not YYYY-MM-DD", day)
		}
		loc := s.zone
		if tz != "" {
			if loc, err = s.loadZone(tz); err != nil {
				return nil, fmt.Errorf("timezone %q: %w", tz, err)
			}
		}
		lz := newLocalizer(loc)
		lo, hi := s.convRange(lz.instant(d.Unix()), lz.instant(d.Unix()+secsPerDay))
		if lo == hi {
			return nil, fmt.Errorf("no conversion was created on %s", day)
		}
		for i := lo; i < hi; i++ {
			set[uint32(i)] = true
		}
	}
	return set, nil
}

func (s *Sim) ctlHideState(w http.ResponseWriter, _ *http.Request) {
	s.hmu.Lock()
	st := hideState{State: "none"}
	if h := s.hide; h != nil {
		st = hideState{State: "armed", Hidden: len(h.set), Window: h.window, Pages: h.pages}
		switch {
		case h.done:
			st.State = "done"
		case h.window != "":
			st.State = "lying"
		}
	}
	s.hmu.Unlock()
	writeJSON(w, 200, st)
}

// lie applies an armed or claimed hide to a conversions window (key) whose
// rows are sel, and returns the selection to serve. Caller holds the read
// lock.
func (s *Sim) lie(r *request, key string, sel selection) selection {
	s.hmu.Lock()
	h := s.hide
	applies := h != nil && !h.done && (h.window == "" || h.window == key)
	s.hmu.Unlock()
	if !applies {
		return sel
	}
	if !sel.list && !h.within(sel.lo, sel.hi) {
		return sel
	}
	idx := s.cachedList(key+"|hide"+strconv.FormatUint(h.gen, 10), func() []uint32 {
		var out []uint32
		for p := range sel.n() {
			if ci := sel.at(p); !h.set[ci] {
				out = append(out, ci)
			}
		}
		return out
	})
	if len(idx) == sel.n() {
		return sel // the window holds none of them
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if h.done || (h.window != "" && h.window != key) {
		return sel // another window claimed it meanwhile
	}
	h.window = key
	total, page, limit := len(idx), r.page, r.limit
	r.delivered = func() { s.hideServed(h, total, page, limit) }
	return selection{idx: idx, list: true}
}

// within reports whether any hidden conversion has an index in [lo, hi).
func (h *hide) within(lo, hi int) bool {
	i, _ := slices.BinarySearch(h.sorted, uint32(lo))
	return i < len(h.sorted) && int(h.sorted[i]) < hi
}

// hideServed records a page answered with the lie. The lie ends once every
// page of the window, at one page size, has reached the client: a walk
// then saw one consistent, smaller world, in whatever order it fetched the
// pages, and the next walk sees the truth. A page lost to an injected
// fault does not count, or its retry would see the truth mid-walk.
func (s *Sim) hideServed(h *hide, total, page, limit int) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	h.pages++
	last := max(1, (total+limit-1)/limit)
	got := h.served[limit]
	if len(got) < last+1 {
		got = append(got, make([]bool, last+1-len(got))...)
	}
	if page <= last {
		got[page] = true
	}
	h.served[limit] = got
	for p := 1; p <= last; p++ {
		if !got[p] {
			return
		}
	}
	h.done = true
}
