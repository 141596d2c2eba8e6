package affisesim

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// request is one parsed API request.
type request struct {
	q         url.Values
	ep        string
	loc       *time.Location
	lz        *localizer
	affiliate bool
	pidx      int // affiliate's partner index
	page      int
	limit     int
	// delivered runs once the reply reached the client whole (no injected
	// fault cut or replaced it).
	delivered func()
}

// loadZone caches zones per simulator: time.LoadLocation reads the zone
// database on every call, and every request names one.
func (s *Sim) loadZone(name string) (*time.Location, error) {
	if v, ok := s.zones.Load(name); ok {
		return v.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	s.zones.Store(name, loc)
	return loc, nil
}

func (s *Sim) newRequest(r *http.Request, ep string) (*request, *apiError) {
	q := r.URL.Query()
	key := r.Header.Get("API-Key")
	if key == "" {
		key = q.Get("API-Key")
	}
	req := &request{q: q, ep: ep, loc: s.zone, pidx: -1}
	switch {
	case key == "":
		return nil, &apiError{401, "API-Key is missing"}
	case key == s.cfg.Key:
	case s.cfg.AffiliateKey != "" && key == s.cfg.AffiliateKey:
		req.affiliate = true
		req.pidx = s.cfg.AffiliatePartner - 1
	default:
		return nil, &apiError{401, "API-Key is invalid"}
	}
	if req.affiliate && strings.HasPrefix(r.URL.Path, "/3.0/admin/") {
		return nil, &apiError{403, "This method is available only for admin"}
	}
	if tz := q.Get("timezone"); tz != "" {
		loc, err := s.loadZone(tz)
		if err != nil {
			return nil, &apiError{400, "Invalid timezone: " + tz}
		}
		req.loc = loc
	}
	req.lz = newLocalizer(req.loc)
	req.page, req.limit = 1, 100
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, &apiError{400, "page must be an integer"}
		}
		if n > 1 {
			req.page = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, &apiError{400, "limit must be an integer"}
		}
		if n > 0 {
			req.limit = min(n, 500)
		}
	}
	return req, nil
}

// arr returns the values of name[] (and plain name, and name[0..]).
func (r *request) arr(name string) []string {
	var out []string
	for k, vs := range r.q {
		if k == name || k == name+"[]" || (strings.HasPrefix(k, name+"[") && strings.HasSuffix(k, "]") && isDigits(k[len(name)+1:len(k)-1])) {
			for _, v := range vs {
				for _, p := range strings.Split(v, ",") {
					if p = strings.TrimSpace(p); p != "" {
						out = append(out, p)
					}
				}
			}
		}
	}
	return out
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// day parses a YYYY-MM-DD date as the wall-clock seconds of its midnight in
// the request's zone (see localizer.local).
func (r *request) day(name string) (wall int64, ok bool, aerr *apiError) {
	v := r.q.Get(name)
	if v == "" {
		return 0, false, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return 0, false, &apiError{400, name + " is not a valid date (YYYY-MM-DD)"}
	}
	return t.Unix(), true, nil
}

func (r *request) hour(name string) (int, bool, *apiError) {
	v := r.q.Get(name)
	if v == "" {
		return 0, false, nil
	}
	h, err := strconv.Atoi(v)
	if err != nil || h < 0 || h > 23 {
		return 0, false, &apiError{400, name + " must be between 0 and 23"}
	}
	return h, true, nil
}

// dayHour parses a date parameter and its optional hour parameter.
func (r *request) dayHour(dayName, hourName string) (d int64, ok bool, h int, okH bool, aerr *apiError) {
	if d, ok, aerr = r.day(dayName); aerr != nil {
		return
	}
	h, okH, aerr = r.hour(hourName)
	return
}

// dateRange returns [from, to) in unix seconds for date_from/date_to
// (inclusive days) plus the hour parameter (one-day periods only).
// Without required, absent dates default to one week ago .. today.
func (s *Sim) dateRange(r *request, fromName, toName string, required bool) (int64, int64, *apiError) {
	from, okF, err := r.day(fromName)
	if err != nil {
		return 0, 0, err
	}
	to, okT, err := r.day(toName)
	if err != nil {
		return 0, 0, err
	}
	if required {
		if !okF {
			return 0, 0, &apiError{400, "Field " + fromName + " is required"}
		}
		if !okT {
			return 0, 0, &apiError{400, "Field " + toName + " is required"}
		}
	}
	today := floorDiv(r.lz.local(s.now().Unix()), secsPerDay) * secsPerDay
	if !okF {
		from = today - 7*secsPerDay
	}
	if !okT {
		to = today
	}
	if to < from {
		return 0, 0, &apiError{400, fromName + " must not be after " + toName}
	}
	h, okH, err := r.hour("hour")
	if err != nil {
		return 0, 0, err
	}
	if okH {
		if from != to {
			return 0, 0, &apiError{400, "Parameter hour is allowed only for one day period"}
		}
		return r.lz.instant(from + int64(h)*secsPerHour), r.lz.instant(from + int64(h+1)*secsPerHour), nil
	}
	return r.lz.instant(from), r.lz.instant(to + secsPerDay), nil
}

// filter selects rows by ids; nil sets mean "any".
type filter struct {
	status   []bool // by stored status
	offers   []bool // by offer index
	partners []bool // by partner index
	country  []bool // by country index
	advs     []bool // by advertiser index
	cur      []bool // by currency index (conversions only: clicks have no currency)
	goal     string
	any      bool
}

func (s *Sim) parseFilter(r *request, prefix string, allowStatus bool) (*filter, *apiError) {
	f := &filter{}
	name := func(n string) string { return prefixed(prefix, n) }
	if allowStatus {
		if v := r.arr(name("status")); len(v) > 0 {
			f.status = make([]bool, len(statusNames))
			for _, x := range v {
				n, err := strconv.Atoi(x)
				st, ok := statusByAPI[n]
				if err != nil || !ok {
					return nil, &apiError{400, "status must be one of 1, 2, 3, 4, 5"}
				}
				f.status[st] = true
			}
			f.any = true
		}
	}
	if v := r.arr(name("offer")); len(v) > 0 {
		var aerr *apiError
		if f.offers, aerr = idSet(v, len(s.offers), "offer"); aerr != nil {
			return nil, aerr
		}
		f.any = true
	}
	pv := r.arr(name("partner"))
	if prefix != "" && len(pv) == 0 {
		pv = r.arr(name("affiliate"))
	}
	if len(pv) > 0 {
		if r.affiliate {
			return nil, &apiError{403, "Filter partner is available only for admin"}
		}
		var aerr *apiError
		if f.partners, aerr = idSet(pv, len(s.partners), "partner"); aerr != nil {
			return nil, aerr
		}
		f.any = true
	}
	if r.affiliate {
		f.partners = make([]bool, len(s.partners))
		f.partners[r.pidx] = true
		f.any = true
	}
	if v := r.arr(name("country")); len(v) > 0 {
		f.country = make([]bool, len(countries))
		for _, x := range v {
			for i, c := range countries {
				if strings.EqualFold(c.code, x) {
					f.country[i] = true
				}
			}
		}
		f.any = true
	}
	if v := r.arr(name("advertiser")); len(v) > 0 {
		if r.affiliate {
			return nil, &apiError{403, "Filter advertiser is available only for admin"}
		}
		f.advs = make([]bool, len(s.advs))
		for _, x := range v {
			for i, a := range s.advs {
				if a.id == x {
					f.advs[i] = true
				}
			}
		}
		f.any = true
	}
	if g := r.q.Get(name("goal")); g != "" {
		f.goal = g
		f.any = true
	}
	return f, nil
}

// prefixed names a filter parameter: n, or prefix[n] under a prefix.
func prefixed(prefix, n string) string {
	if prefix == "" {
		return n
	}
	return prefix + "[" + n + "]"
}

// idSet parses a list of 1-based ids into a set over n entries; ids out of
// range select nothing.
func idSet(v []string, n int, what string) ([]bool, *apiError) {
	set := make([]bool, n)
	for _, x := range v {
		id, err := strconv.Atoi(x)
		if err != nil {
			return nil, &apiError{400, what + " must be a list of integers"}
		}
		if id >= 1 && id <= n {
			set[id-1] = true
		}
	}
	return set, nil
}

// rangeAndFilter parses the required date range and the filter (without
// status) of a list or stats request, parameters named under prefix.
func (s *Sim) rangeAndFilter(r *request, prefix string) (from, to int64, f *filter, aerr *apiError) {
	from, to, aerr = s.dateRange(r, prefixed(prefix, "date_from"), prefixed(prefix, "date_to"), true)
	if aerr != nil {
		return 0, 0, nil, aerr
	}
	f, aerr = s.parseFilter(r, prefix, false)
	if aerr != nil {
		return 0, 0, nil, aerr
	}
	return from, to, f, nil
}

func (s *Sim) matchCamp(f *filter, camp uint16) bool {
	cp := s.camps[camp]
	if f.offers != nil && !f.offers[cp.offer] {
		return false
	}
	if f.partners != nil && !f.partners[cp.partner] {
		return false
	}
	if f.country != nil && !f.country[cp.country] {
		return false
	}
	if f.advs != nil && !f.advs[s.offers[cp.offer].adv] {
		return false
	}
	return true
}

func (s *Sim) matchConv(f *filter, ci uint32) bool {
	c := &s.convs[ci]
	if f.status != nil && !f.status[c.status] {
		return false
	}
	if f.cur != nil && !f.cur[c.cur] {
		return false
	}
	if f.goal != "" && s.offers[s.camps[c.camp].offer].goals[c.goal].value != f.goal {
		return false
	}
	return s.matchCamp(f, c.camp)
}

// convRange returns the index range [lo, hi) of conversions created in [from, to).
func (s *Sim) convRange(from, to int64) (int, int) {
	lo := sort.Search(len(s.convs), func(i int) bool { return s.convs[i].created >= from })
	hi := sort.Search(len(s.convs), func(i int) bool { return s.convs[i].created >= to })
	return lo, max(lo, hi)
}

// selection is the ordered result set of a list request: either a range of
// a sorted array served newest first, or an explicit index list.
type selection struct {
	lo, hi int
	idx    []uint32
	list   bool
}

func (sl selection) n() int {
	if sl.list {
		return len(sl.idx)
	}
	return sl.hi - sl.lo
}

func (sl selection) at(p int) uint32 {
	if sl.list {
		return sl.idx[p]
	}
	return uint32(sl.hi - 1 - p)
}

// newestFirst lists the indices in [lo, hi) that keep, highest first.
func newestFirst(lo, hi int, keep func(i uint32) bool) []uint32 {
	var out []uint32
	for i := hi - 1; i >= lo; i-- {
		if keep(uint32(i)) {
			out = append(out, uint32(i))
		}
	}
	return out
}

// cachedList memoizes the result of build for the current data version so
// paging through a filtered result costs a scan only once. Caller holds
// at least the read lock.
func (s *Sim) cachedList(key string, build func() []uint32) []uint32 {
	key = strconv.FormatUint(s.version, 10) + "|" + key
	s.cacheMu.Lock()
	if c, ok := s.cache[key]; ok {
		s.cacheMu.Unlock()
		return c.idx
	}
	s.cacheMu.Unlock()
	idx := build()
	s.cacheMu.Lock()
	if len(s.cache) >= 32 {
		for k := range s.cache {
			delete(s.cache, k)
			if len(s.cache) < 24 {
				break
			}
		}
	}
	s.cache[key] = &cached{version: s.version, idx: idx}
	s.cacheMu.Unlock()
	return idx
}

func cacheKey(r *request, extra string) string {
	q := url.Values{}
	for k, v := range r.q {
		if k != "page" && k != "limit" && k != "API-Key" {
			q[k] = v
		}
	}
	return r.ep + "|" + strconv.FormatBool(r.affiliate) + "|" + q.Encode() + "|" + extra
}

// writePage renders the Affise list envelope for one page of sel.
func (r *request) writePage(b []byte, list string, total int, item func(b []byte, p int) []byte) []byte {
	b = append(b, `{"status":1,"`...)
	b = append(b, list...)
	b = append(b, `":[`...)
	off := (r.page - 1) * r.limit
	end := min(off+r.limit, total)
	for p := off; p < end; p++ {
		if p > off {
			b = append(b, ',')
		}
		b = item(b, p)
	}
	b = append(b, `],"pagination":{"per_page":`...)
	b = appendInt(b, int64(r.limit))
	b = append(b, `,"total_count":`...)
	b = appendInt(b, int64(total))
	b = append(b, `,"page":`...)
	b = appendInt(b, int64(r.page))
	if r.page*r.limit < total {
		b = append(b, `,"next_page":`...)
		b = appendInt(b, int64(r.page+1))
	}
	b = append(b, `},"statusCode":200}`...)
	return b
}

var bufPool sync.Pool

// pageBuf returns an empty buffer for a page, reused across requests.
func pageBuf(limit int, per int) []byte {
	if v := bufPool.Get(); v != nil {
		return (*v.(*[]byte))[:0]
	}
	return make([]byte, 0, 256+limit*per)
}

func putBuf(b []byte) {
	if cap(b) <= 4<<20 {
		bufPool.Put(&b)
	}
}

func (s *Sim) handleConversions(r *request) ([]byte, *apiError) {
	from, to, aerr := s.dateRange(r, "date_from", "date_to", false)
	if aerr != nil {
		return nil, aerr
	}
	hasUpd := false
	for _, k := range []string{"update_from_date", "update_to_date", "update_from_hour", "update_to_hour"} {
		if r.q.Get(k) != "" {
			hasUpd = true
		}
	}
	if hasUpd && r.affiliate {
		return nil, &apiError{403, "Filters update_from_date, update_to_date, update_from_hour, update_to_hour are available only for admin"}
	}
	var ufrom, uto int64 = -1 << 62, 1 << 62
	if hasUpd {
		d, ok, h, okH, err := r.dayHour("update_from_date", "update_from_hour")
		if err != nil {
			return nil, err
		}
		if ok {
			if okH {
				d += int64(h) * secsPerHour
			}
			ufrom = r.lz.instant(d)
		}
		d, ok, h, okH, err = r.dayHour("update_to_date", "update_to_hour")
		if err != nil {
			return nil, err
		}
		if ok {
			if okH {
				uto = r.lz.instant(d + int64(h+1)*secsPerHour)
			} else {
				uto = r.lz.instant(d + secsPerDay)
			}
		}
	}
	f, aerr := s.parseFilter(r, "", true)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.currencyFilter(r, f, "currency"); aerr != nil {
		return nil, aerr
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo, hi := s.convRange(from, to)
	sel := selection{lo: lo, hi: hi}
	key := cacheKey(r, strconv.FormatInt(from, 10))
	if hasUpd || f.any {
		sel.list = true
		sel.idx = s.cachedList(key, func() []uint32 {
			var out []uint32
			if hasUpd {
				ulo := sort.Search(len(s.byUpd), func(i int) bool { return s.convs[s.byUpd[i]].updated >= ufrom })
				uhi := sort.Search(len(s.byUpd), func(i int) bool { return s.convs[s.byUpd[i]].updated >= uto })
				for _, ci := range s.byUpd[ulo:max(ulo, uhi)] {
					if int(ci) >= lo && int(ci) < hi && s.matchConv(f, ci) {
						out = append(out, ci)
					}
				}
				slices.SortFunc(out, func(a, b uint32) int { return int(b) - int(a) })
				return out
			}
			return newestFirst(lo, hi, func(ci uint32) bool { return s.matchConv(f, ci) })
		})
	}
	sel = s.lie(r, key, sel)
	b := pageBuf(r.limit, 2600)
	return r.writePage(b, "conversions", sel.n(), func(b []byte, p int) []byte {
		return s.appendConv(b, sel.at(p), r.lz, r.affiliate)
	}), nil
}

func (s *Sim) handleClicks(r *request) ([]byte, *apiError) {
	from, to, f, aerr := s.rangeAndFilter(r, "")
	if aerr != nil {
		return nil, aerr
	}
	retain := s.now().Add(-s.cfg.Retention).Unix()
	from = max(from, retain)
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo := sort.Search(len(s.clicks), func(i int) bool { return s.clicks[i].created >= from })
	hi := max(lo, sort.Search(len(s.clicks), func(i int) bool { return s.clicks[i].created >= to }))
	sel := selection{lo: lo, hi: hi}
	if f.any {
		sel.list = true
		sel.idx = s.cachedList(cacheKey(r, strconv.FormatInt(from, 10)), func() []uint32 {
			return newestFirst(lo, hi, func(i uint32) bool { return s.matchCamp(f, s.clicks[i].camp) })
		})
	}
	b := pageBuf(r.limit, 2400)
	return r.writePage(b, "clicks", sel.n(), func(b []byte, p int) []byte {
		return s.appendClick(b, &s.clicks[sel.at(p)], r.lz)
	}), nil
}

func (s *Sim) handleServerPostbacks(r *request) ([]byte, *apiError) {
	from, to, f, aerr := s.rangeAndFilter(r, "")
	if aerr != nil {
		return nil, aerr
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo, hi := s.convRange(from, to)
	sel := selection{lo: lo, hi: hi}
	if f.any {
		sel.list = true
		sel.idx = s.cachedList(cacheKey(r, ""), func() []uint32 {
			return newestFirst(lo, hi, func(ci uint32) bool { return s.matchConv(f, ci) })
		})
	}
	b := pageBuf(r.limit, 1800)
	return r.writePage(b, "postbacks", sel.n(), func(b []byte, p int) []byte {
		return s.appendServerPB(b, sel.at(p), r.lz)
	}), nil
}

func (s *Sim) handleAffiliatePostbacks(r *request) ([]byte, *apiError) {
	from, to, f, aerr := s.rangeAndFilter(r, "")
	if aerr != nil {
		return nil, aerr
	}
	code := r.q.Get("http_code")
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx := s.cachedList(cacheKey(r, ""), func() []uint32 {
		lo, hi := s.convRange(from-maxAffPBDelay, to)
		return newestFirst(lo, hi, func(ci uint32) bool {
			if !s.hasAffPB(ci) {
				return false
			}
			if t := s.affPBTime(ci); t < from || t >= to {
				return false
			}
			return s.matchConv(f, ci) && (code == "" || strconv.Itoa(s.affPBCode(ci)) == code)
		})
	})
	b := pageBuf(r.limit, 500)
	return r.writePage(b, "postbacks", len(idx), func(b []byte, p int) []byte {
		return s.appendAffPB(b, idx[p])
	}), nil
}
