package affisesim

import (
	"slices"
	"sort"
	"strconv"
	"time"
)

var utc = time.UTC

const maxSlices = 8

type statKey [maxSlices]int32

type statBucket struct{ revenue, charge, null, count int64 }

type statRow struct {
	key        statKey
	raw, uniq  int64
	actions    [5]statBucket // total, confirmed, pending, declined, hold
	hasTraffic bool
}

// action bucket of a stored status (0 is total).
var statusBucket = [...]int{stConfirmed: 1, stPending: 2, stDeclined: 3, stNotFound: -1, stHold: 4}

var bucketNames = [...]string{"total", "confirmed", "pending", "declined", "hold"}

var validSlices = map[string]bool{
	"hour": true, "day": true, "month": true, "year": true, "offer": true, "country": true, "city": true,
	"os": true, "device": true, "goal": true, "sub1": true, "sub2": true, "sub3": true, "sub4": true, "sub5": true,
	"affiliate": true, "partner": true, "advertiser": true,
}

var adminSlices = map[string]bool{"affiliate": true, "partner": true, "advertiser": true}

// trafficSlices are the slices clicks aggregates can be split by; with any
// other slice the traffic numbers are "0".
var trafficSlices = map[string]bool{"hour": true, "day": true, "month": true, "year": true, "offer": true,
	"country": true, "affiliate": true, "partner": true, "advertiser": true}

func (s *Sim) handleCustom(r *request) ([]byte, *apiError) {
	sl := r.arr("slice")
	if len(sl) == 0 {
		return nil, &apiError{400, "Field slice is required"}
	}
	if len(sl) > maxSlices {
		return nil, &apiError{400, "Too many slices"}
	}
	traffic := true
	seen := map[string]bool{}
	for _, x := range sl {
		if !validSlices[x] {
			return nil, &apiError{400, "Unknown slice: " + x}
		}
		if adminSlices[x] && r.affiliate {
			return nil, &apiError{403, "Slice " + x + " is available only for admin"}
		}
		if seen[x] {
			return nil, &apiError{400, "Duplicate slice: " + x}
		}
		seen[x] = true
		traffic = traffic && trafficSlices[x]
	}
	from, to, f, aerr := s.rangeAndFilter(r, "filter")
	if aerr != nil {
		return nil, aerr
	}
	// Traffic stays whole under a currency filter: clicks carry no
	// currency, and the doc's default "all currencies" means the filter
	// is always there, so it cannot be what drops traffic.
	if aerr := s.currencyFilter(r, f, "filter[currency]"); aerr != nil {
		return nil, aerr
	}
	if f.goal != "" {
		traffic = false
	}
	lz := r.lz
	s.mu.RLock()
	rows := map[statKey]*statRow{}
	get := func(k statKey) *statRow {
		row := rows[k]
		if row == nil {
			row = &statRow{key: k}
			rows[k] = row
		}
		return row
	}
	keyOf := func(ts int64, camp uint16, c *conv) statKey {
		var k statKey
		local := lz.local(ts)
		days := floorDiv(local, 86400)
		cp := s.camps[camp]
		for i, x := range sl {
			switch x {
			case "hour":
				k[i] = int32((local - days*86400) / 3600)
			case "day":
				k[i] = int32(days)
			case "month":
				y, m, _ := civil(days)
				k[i] = int32(y*12 + int64(m-1))
			case "year":
				y, _, _ := civil(days)
				k[i] = int32(y)
			case "offer":
				k[i] = int32(cp.offer)
			case "affiliate", "partner":
				k[i] = int32(cp.partner)
			case "advertiser":
				k[i] = int32(s.offers[cp.offer].adv)
			case "country":
				k[i] = int32(cp.country)
			case "city":
				k[i] = int32(cp.country)*8 + int32(int(c.city)%len(countries[cp.country].cities))
			case "os":
				k[i] = int32(c.dev)
			case "device":
				k[i] = int32(deviceTypeIdx(devices[c.dev].deviceType))
			case "goal":
				k[i] = int32(c.goal)
			case "sub1":
				k[i] = int32(c.sub & 7)
			case "sub2":
				k[i] = int32((c.sub >> 3) & 3)
			case "sub3":
				k[i] = int32((c.sub >> 5) & 3)
			case "sub4":
				k[i] = 0
			case "sub5":
				k[i] = int32(cp.partner)
			}
		}
		return k
	}
	lo, hi := s.convRange(from, to)
	for i := lo; i < hi; i++ {
		ci := uint32(i)
		if f.any && !s.matchConv(f, ci) {
			continue
		}
		c := &s.convs[ci]
		row := get(keyOf(c.created, c.camp, c))
		add := func(b *statBucket) {
			b.count++
			b.revenue += int64(c.payout)
			b.charge += int64(c.revenue)
			if c.payout == 0 {
				b.null++
			}
		}
		add(&row.actions[0])
		if bk := statusBucket[c.status]; bk > 0 {
			add(&row.actions[bk])
		}
	}
	if traffic {
		h0 := int32(floorDiv(from, 3600))
		a := sort.Search(len(s.agg), func(i int) bool { return s.agg[i].hour >= h0 })
		for i := a; i < len(s.agg) && int64(s.agg[i].hour)*3600 < to; i++ {
			e := &s.agg[i]
			if f.any && !s.matchCamp(f, e.camp) {
				continue
			}
			row := get(keyOf(int64(e.hour)*3600, e.camp, nil))
			row.raw += int64(e.raw)
			row.uniq += int64(e.uniq)
		}
	}
	s.mu.RUnlock()

	list := make([]*statRow, 0, len(rows))
	for _, row := range rows {
		list = append(list, row)
	}
	slices.SortFunc(list, func(a, b *statRow) int {
		for i := range sl {
			if a.key[i] != b.key[i] {
				if a.key[i] < b.key[i] {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	b := make([]byte, 0, 256+min(len(list), r.limit)*700)
	return r.writePage(b, "stats", len(list), func(b []byte, p int) []byte {
		return s.appendStatRow(b, sl, list[p])
	}), nil
}

func (s *Sim) appendStatRow(b []byte, sl []string, row *statRow) []byte {
	b = append(b, `{"slice":{`...)
	for i, x := range sl {
		if i > 0 {
			b = append(b, ',')
		}
		k := row.key[i]
		switch x {
		case "day":
			y, m, d := civil(int64(k))
			b = append(b, `"year":`...)
			b = appendInt(b, y)
			b = append(b, `,"month":`...)
			b = appendInt(b, int64(m))
			b = append(b, `,"day":`...)
			b = appendInt(b, int64(d))
		case "month":
			b = append(b, `"year":`...)
			b = appendInt(b, int64(k/12))
			b = append(b, `,"month":`...)
			b = appendInt(b, int64(k%12+1))
		case "year", "hour":
			b = appendStr(b, x)
			b = append(b, ':')
			b = appendInt(b, int64(k))
		case "offer":
			o := &s.offers[k]
			b = append(b, `"offer":`...)
			b = appendRef(b, o.id, o.title)
			b = append(b, '}')
		case "affiliate", "partner":
			p := &s.partners[k]
			b = appendStr(b, x)
			b = append(b, ':')
			b = appendRef(b, p.id, p.email)
			b = append(b, '}')
		case "advertiser":
			b = append(b, `"advertiser":`...)
			b = s.advObj(b, int(k))
		default:
			b = appendStr(b, x)
			b = append(b, ':')
			b = appendStr(b, s.sliceString(x, k))
		}
	}
	b = append(b, `},"traffic":{"raw":"`...)
	b = appendInt(b, row.raw)
	b = append(b, `","uniq":"`...)
	b = appendInt(b, row.uniq)
	b = append(b, `"},"actions":{`...)
	for i, a := range row.actions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(b, bucketNames[i])
		b = append(b, `:{"revenue":`...)
		b = appendMoney(b, a.revenue)
		b = append(b, `,"charge":`...)
		b = appendMoney(b, a.charge)
		b = append(b, `,"earning":`...)
		b = appendMoney(b, a.charge-a.revenue)
		b = append(b, `,"null":`...)
		b = appendInt(b, a.null)
		b = append(b, `,"count":`...)
		b = appendInt(b, a.count)
		b = append(b, '}')
	}
	return append(b, `}}`...)
}

// sliceString renders the value of a string slice. Offer-dependent values
// (goal) are resolved generically; city is by country-less index.
func (s *Sim) sliceString(x string, k int32) string {
	switch x {
	case "country":
		return countries[k].code
	case "os":
		return devices[k].os
	case "device":
		return deviceTypes[k]
	case "goal":
		return strconv.Itoa(int(k) + 1)
	case "sub1":
		return sub1Pool[k]
	case "sub2":
		return sub2Pool[k]
	case "sub3":
		return sub3Pool[k]
	case "sub4":
		return ""
	case "sub5":
		return "p" + strconv.Itoa(int(k)+1)
	case "city":
		return countries[k/8].cities[k%8].name
	}
	return ""
}

var deviceTypes = []string{"desktop", "mobile", "tablet"}

func deviceTypeIdx(t string) int { return slices.Index(deviceTypes, t) }
