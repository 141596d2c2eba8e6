package affisesim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Conversion statuses as stored (index into statusNames). The numeric
// values of the API's status[] filter are statusAPI[i].
const (
	stConfirmed uint8 = iota
	stPending
	stDeclined
	stNotFound
	stHold
)

var statusNames = [...]string{"confirmed", "pending", "declined", "not_found", "hold"}

// statusByAPI maps the status[] filter value (1..5) to the stored status.
var statusByAPI = map[int]uint8{1: stConfirmed, 2: stPending, 3: stDeclined, 4: stNotFound, 5: stHold}

// id kinds, mixed into the Mongo-style ids so every stream has its own ids.
const (
	kindConv uint64 = iota + 1
	kindClick
	kindConvClick
	kindServerPB
	kindAffPB
	kindOffer
	kindAdvertiser
	kindManager
	kindJob
	kindPartnerKey
)

// conv is one conversion, kept compact: 1M of them take ~48 MB.
// Its index in Sim.convs is its serial number; ids derive from it.
type conv struct {
	created int64 // unix seconds
	updated int64
	revenue int32 // advertiser revenue (charge), cents
	payout  int32 // affiliate payout, cents
	clickDt uint16
	camp    uint16 // campaign index (partner, offer, country)
	city    uint8
	dev     uint8
	goal    uint8 // 0 or 1: index into offer goals
	status  uint8
	sub     uint8
	cur     uint8 // index into Sim.curs: revenue and payout are in it
	_       [2]uint8
}

// click is one retained click (the last Retention of them).
type click struct {
	created int64
	conv    int32  // index of the conversion it led to, or -1
	serial  uint32 // serial of a non-converting click (id source)
	camp    uint16
	city    uint8
	dev     uint8
	sub     uint8
	uniq    bool
}

// aggEntry counts clicks of one campaign in one UTC hour (for custom stats
// traffic of every day, including those whose clicks are gone).
type aggEntry struct {
	hour int32 // unix hour
	camp uint16
	raw  uint32
	uniq uint32
}

type campaign struct {
	offer, partner, country uint8
	weight                  float64
}

type advertiser struct {
	id, title, email, city, country string
	created, updated                int64
}

type manager struct {
	id, first, last, email string
}

type goalPay struct {
	value   string // goal_value "1", "2"
	title   string // goal title ("" for the default goal, as Affise shows it)
	percent bool
	revenue int32 // fixed revenue in cents (percent: average sale)
	payout  int32 // fixed payout in cents; percent: payout percent of revenue
}

type offer struct {
	id         int
	offerID    string
	title      string
	status     string
	adv        int
	url        string
	preview    string
	goals      []goalPay
	created    int64
	updated    int64
	countries  []uint8
	currency   string
	holdPeriod int
	externalID string // "" renders as false (Affise's quirk)
}

type partner struct {
	id               int
	email, login     string
	status           string
	manager          int // -1: none
	apiKey           string
	created, updated int64
	country          string
	balance          int64 // cents
}

type country struct {
	code, name string
	cities     []city
	isp        string
}

type city struct {
	name string
	id   int
}

type device struct {
	os, osName, osVer, browser, browserName, browserVer, device, deviceType, model, ua string
}

var countries = []country{
	{"US", "United States", []city{{"New York", 5128581}, {"Los Angeles", 5368361}, {"Chicago", 4887398}}, "Comcast"},
	{"GB", "United Kingdom", []city{{"London", 2643743}, {"Manchester", 2643123}}, "BT"},
	{"DE", "Germany", []city{{"Berlin", 2950159}, {"Munich", 2867714}}, "Deutsche Telekom"},
	{"FR", "France", []city{{"Paris", 2988507}, {"Lyon", 2996944}}, "Orange"},
	{"IT", "Italy", []city{{"Rome", 1731}, {"Milan", 3173435}}, "Tim"},
	{"ES", "Spain", []city{{"Madrid", 3117735}, {"Barcelona", 3128760}}, "Movistar"},
	{"CA", "Canada", []city{{"Toronto", 6167865}, {"Vancouver", 6173331}}, "Rogers"},
	{"AU", "Australia", []city{{"Sydney", 2147714}, {"Springvale", 64680}}, "Telstra"},
	{"IN", "India", []city{{"Mumbai", 1275339}, {"Delhi", 1273294}}, "Jio"},
	{"BR", "Brazil", []city{{"Sao Paulo", 3448439}, {"Rio de Janeiro", 3451190}}, "Vivo"},
	{"MX", "Mexico", []city{{"Mexico City", 3530597}}, "Telcel"},
	{"PL", "Poland", []city{{"Warsaw", 756135}}, "Orange Polska"},
	{"NL", "Netherlands", []city{{"Amsterdam", 2759794}}, "KPN"},
	{"SE", "Sweden", []city{{"Stockholm", 2673730}}, "Telia"},
	{"JP", "Japan", []city{{"Tokyo", 1850147}}, "NTT"},
	{"KR", "South Korea", []city{{"Seoul", 1835848}}, "SK Telecom"},
	{"TR", "Turkey", []city{{"Istanbul", 745044}}, "Turkcell"},
	{"ZA", "South Africa", []city{{"Johannesburg", 993800}}, "Vodacom"},
	{"ID", "Indonesia", []city{{"Jakarta", 1642911}}, "Telkomsel"},
	{"TH", "Thailand", []city{{"Bangkok", 1609350}}, "AIS"},
}

var devices = []device{
	{"Android 10.0", "Android", "10.0", "Chrome Mobile 84", "Chrome Mobile", "84", "mobile", "mobile", "Galaxy S9", "Mozilla/5.0 (Linux; Android 10; SM-G960F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/84.0.4147.111 Mobile Safari/537.36"},
	{"Android 11.0", "Android", "11.0", "Samsung Browser 12.0", "Samsung Browser", "12.0", "mobile", "mobile", "Galaxy S20", "Mozilla/5.0 (Linux; Android 11; SAMSUNG SM-G981B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/12.0 Chrome/79.0.3945.136 Mobile Safari/537.36"},
	{"Android 9.0", "Android", "9.0", "Chrome Mobile 86", "Chrome Mobile", "86", "mobile", "mobile", "Redmi Note 7", "Mozilla/5.0 (Linux; Android 9; Redmi Note 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.110 Mobile Safari/537.36"},
	{"iOS 14.0", "iOS", "14.0", "Mobile Safari 14.0", "Mobile Safari", "14.0", "mobile", "mobile", "iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 14_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0 Mobile/15E148 Safari/604.1"},
	{"iOS 14.1", "iOS", "14.1", "Mobile Safari 14.0", "Mobile Safari", "14.0", "tablet", "tablet", "iPad", "Mozilla/5.0 (iPad; CPU OS 14_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0 Mobile/15E148 Safari/604.1"},
	{"Windows 10", "Windows", "10", "Chrome 86.0.4240", "Chrome", "86", "desktop", "desktop", "", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.183 Safari/537.36"},
	{"Windows 8.1", "Windows", "8.1", "Firefox 82.0", "Firefox", "82", "desktop", "desktop", "", "Mozilla/5.0 (Windows NT 6.3; Win64; x64; rv:82.0) Gecko/20100101 Firefox/82.0"},
	{"Mac OS X 10.15", "Mac OS X", "10.15", "Safari 14.0", "Safari", "14.0", "desktop", "desktop", "", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0 Safari/605.1.15"},
}

var deviceWeights = []float64{25, 18, 10, 15, 4, 16, 5, 7}

var (
	sub1Pool = []string{"", "fb", "google", "tiktok", "push", "native", "email", "pops"}
	sub2Pool = []string{"", "campaign_a", "campaign_b", "retarget"}
	sub3Pool = []string{"", "v1", "v2", "v3"}
)

func (c *conv) subs() (s1, s2, s3 string) {
	return sub1Pool[c.sub&7], sub2Pool[(c.sub>>3)&3], sub3Pool[(c.sub>>5)&3]
}

var advTitles = []string{"Admolly", "Lemonad", "Fintrack", "GameHub", "Datesy", "NutraPro", "Cryptex", "Travelio", "ShopMax", "VPNly", "Betwise", "Learnio"}

var offerWords1 = []string{"RomanceTicket", "luogosegreto", "WinCasino", "SlimFast", "CryptoBoom", "TravelDeals", "VPN Shield", "LoanNow", "Sweepstake", "GameQuest", "DatingPro", "ShopBonus"}
var offerWords2 = []string{"CPL SOI", "CPL DOI", "CPA", "CPI", "CPS", "RevShare"}
var offerWords3 = []string{"WEB", "MOB", "WEB/MOB", "iOS", "Android", "WEB/TAB/MOB"}

// mix is splitmix64: a bijection, so ids derived from distinct inputs differ.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

const hexdigits = "0123456789abcdef"

// appendMongoID appends a 24-hex Mongo-style ObjectId unique per (seed, kind, n).
func appendMongoID(b []byte, seed uint64, kind uint64, n uint64) []byte {
	// 4 bytes "timestamp" (0x5f.. like 2020 ids, varies with n), 8 bytes of hash.
	ts := uint32(0x5f000000 + uint32(kind)<<22 + uint32(n>>12))
	h := mix(seed ^ kind<<56 ^ n)
	for i := 7; i >= 0; i-- {
		b = append(b, hexdigits[(ts>>(uint(i)*4))&15])
	}
	for i := 15; i >= 0; i-- {
		b = append(b, hexdigits[(h>>(uint(i)*4))&15])
	}
	return b
}

func (s *Sim) mongoID(kind uint64, n uint64) string {
	return string(appendMongoID(nil, s.idSeed, kind, n))
}

func hex32(seed, kind, n uint64) string {
	a, b := mix(seed^kind<<56^n), mix(seed^kind<<56^n^0xffff)
	return fmt.Sprintf("%016x%016x", a, b)
}

// generate builds the reference data and the history for the configured
// seed, sizes and anchor time.
func (s *Sim) generate() {
	cfg := &s.cfg
	rng := rand.New(rand.NewPCG(s.seed, 0xaff15e))
	anchor := s.anchor.Unix()
	start := anchor - int64(cfg.Days)*86400

	// Managers.
	mgrNames := [][2]string{{"Iren", "Fsgdfddws"}, {"Oleg", "Petrov"}, {"Maria", "Lopez"}}
	for i, n := range mgrNames {
		s.managers = append(s.managers, manager{id: s.mongoID(kindManager, uint64(i)), first: n[0], last: n[1],
			email: fmt.Sprintf("%s.%s@network.example", lower(n[0]), lower(n[1]))})
	}
	// Advertisers.
	for i := 0; i < cfg.Advertisers; i++ {
		t := advTitles[i%len(advTitles)]
		if i >= len(advTitles) {
			t = fmt.Sprintf("%s %d", t, i/len(advTitles)+1)
		}
		cr := start - int64(30+rng.IntN(700))*86400 - int64(rng.IntN(86400))
		s.advs = append(s.advs, advertiser{id: s.mongoID(kindAdvertiser, uint64(i)), title: t,
			email: fmt.Sprintf("ads%d@%s.example", i+1, lower(t[:3])), created: cr, updated: cr + int64(rng.IntN(200))*86400,
			city: countries[i%len(countries)].cities[0].name, country: countries[i%len(countries)].code})
	}
	// Offers: ids 1..N; ~15% stopped, ~5% suspended.
	for i := 0; i < cfg.Offers; i++ {
		o := offer{id: i + 1, offerID: s.mongoID(kindOffer, uint64(i)), adv: rng.IntN(len(s.advs)), currency: "USD"}
		w1 := offerWords1[rng.IntN(len(offerWords1))]
		ncty := 1 + rng.IntN(3)
		for j := 0; j < ncty; j++ {
			c := uint8(rng.IntN(len(countries)))
			if j == 0 && rng.IntN(2) == 0 {
				c = 0 // US heavy
			}
			if !slices.Contains(o.countries, c) {
				o.countries = append(o.countries, c)
			}
		}
		var cc []string
		for _, c := range o.countries {
			cc = append(cc, countries[c].code)
		}
		o.title = fmt.Sprintf("%s %s %s %s", w1, offerWords2[rng.IntN(len(offerWords2))], joinStr(cc, ", "), offerWords3[rng.IntN(len(offerWords3))])
		o.status = "active"
		switch r := rng.IntN(100); {
		case r < 15:
			o.status = "stopped"
		case r < 20:
			o.status = "suspended"
		}
		o.url = fmt.Sprintf("https://trk%d.example.com/click?o=%d&clickid={clickid}&pid={pid}", o.adv+1, o.id)
		o.preview = fmt.Sprintf("https://landing%d.example.com/", o.id)
		if rng.IntN(3) == 0 {
			rev := int32(100 + rng.IntN(4000))
			o.goals = []goalPay{{value: "1", title: "", percent: true, revenue: rev, payout: int32(70 + rng.IntN(25))}}
		} else {
			rev := int32(50 + rng.IntN(1200))
			if rng.IntN(2) == 0 {
				rev = rev / 100 * 100 // whole dollars: rendered as ints, as Affise does
			}
			pay := rev * int32(80+rng.IntN(16)) / 100
			o.goals = []goalPay{{value: "1", title: "", revenue: rev, payout: pay}}
		}
		if rng.IntN(3) == 0 {
			rev := int32(500 + rng.IntN(5000))
			o.goals = append(o.goals, goalPay{value: "2", title: "deposit", revenue: rev, payout: rev * 85 / 100})
		}
		o.holdPeriod = []int{0, 0, 7, 14}[rng.IntN(4)]
		if rng.IntN(4) == 0 {
			o.externalID = fmt.Sprintf("ext-%d", 1000+rng.IntN(9000))
		}
		o.created = start - int64(rng.IntN(400))*86400 - int64(rng.IntN(86400))
		o.updated = o.created + int64(rng.IntN(100))*86400
		if o.updated > anchor {
			o.updated = anchor
		}
		s.offers = append(s.offers, o)
	}
	// Partners: ids 1..N.
	for i := 0; i < cfg.Partners; i++ {
		p := partner{id: i + 1, status: "active", manager: i % len(s.managers)}
		p.email = fmt.Sprintf("affiliate%d@traffic%d.example", i+1, i%7)
		if i%3 == 0 {
			p.login = p.email
		}
		if i == 0 {
			p.manager = -1
		}
		if i > 2 && rng.IntN(10) == 0 {
			p.status = []string{"banned", "not_active", "on_moderation"}[rng.IntN(3)]
		}
		p.apiKey = hex32(s.seed, kindPartnerKey, uint64(i))
		p.created = start - int64(rng.IntN(500))*86400 - int64(rng.IntN(86400))
		p.updated = p.created + int64(rng.IntN(200))*86400
		if p.updated > anchor {
			p.updated = anchor
		}
		p.country = countries[rng.IntN(len(countries))].code
		p.balance = int64(rng.IntN(5000000))
		s.partners = append(s.partners, p)
	}
	// Campaigns: each partner runs a few offers in some of their countries;
	// weights are Zipf-like so a few campaigns dominate, as in real networks.
	for pi := range s.partners {
		n := 2 + rng.IntN(6)
		for k := 0; k < n; k++ {
			oi := rng.IntN(len(s.offers))
			o := &s.offers[oi]
			for _, c := range o.countries {
				if rng.IntN(3) == 0 && len(o.countries) > 1 {
					continue
				}
				w := 1 / float64(1+rng.IntN(20))
				if s.partners[pi].status != "active" {
					w /= 10
				}
				if o.status != "active" {
					w /= 4
				}
				s.camps = append(s.camps, campaign{offer: uint8(oi), partner: uint8(pi), country: c, weight: w})
			}
		}
	}
	s.campCum = make([]float64, len(s.camps))
	tot := 0.0
	for i, c := range s.camps {
		tot += c.weight
		s.campCum[i] = tot
	}
	s.devCum = make([]float64, len(deviceWeights))
	tot = 0
	for i, w := range deviceWeights {
		tot += w
		s.devCum[i] = tot
	}

	// Conversions, sorted by creation.
	n := cfg.Conversions
	times := make([]int64, n)
	span := anchor - start
	for i := range times {
		times[i] = start + diurnal(rng, span)
	}
	slices.Sort(times)
	s.convs = make([]conv, n, n+n/8+16)
	for i := range s.convs {
		s.convs[i] = s.newConv(rng, times[i], anchor)
		s.priceConv(&s.convs[i], uint32(i))
	}
	s.rebuildUpdIndex()

	// Clicks: every conversion's click plus (ClicksPerConversion-1) per
	// conversion of non-converting ones; retained ones in detail, all in aggregates.
	retainFrom := s.now().Add(-cfg.Retention).Unix()
	s.clickSerial = 0
	nc := int(float64(n) * (cfg.ClicksPerConversion - 1))
	if nc < 0 {
		nc = 0
	}
	agg := map[uint64]*aggEntry{}
	addAgg := func(ts int64, camp uint16, uniq bool) {
		h := int32(floorDiv(ts, 3600))
		k := uint64(uint32(h))<<16 | uint64(camp)
		e := agg[k]
		if e == nil {
			e = &aggEntry{hour: h, camp: camp}
			agg[k] = e
		}
		e.raw++
		if uniq {
			e.uniq++
		}
	}
	for i := 0; i < nc; i++ {
		ts := start + diurnal(rng, span)
		cl := s.newClick(rng, ts)
		addAgg(ts, cl.camp, cl.uniq)
		if ts >= retainFrom {
			s.clicks = append(s.clicks, cl)
		}
	}
	for i := range s.convs {
		c := &s.convs[i]
		ts := c.created - int64(c.clickDt)
		addAgg(ts, c.camp, true)
		if ts >= retainFrom {
			s.clicks = append(s.clicks, s.convClick(i))
		}
	}
	slices.SortFunc(s.clicks, cmpClick)
	s.agg = make([]aggEntry, 0, len(agg))
	for _, e := range agg {
		s.agg = append(s.agg, *e)
	}
	slices.SortFunc(s.agg, cmpAgg)
}

func cmpClick(a, b click) int {
	if a.created != b.created {
		if a.created < b.created {
			return -1
		}
		return 1
	}
	ka, kb := int64(a.serial), int64(b.serial)
	if a.conv >= 0 {
		ka = -1 - int64(a.conv)
	}
	if b.conv >= 0 {
		kb = -1 - int64(b.conv)
	}
	switch {
	case ka < kb:
		return -1
	case ka > kb:
		return 1
	}
	return 0
}

func cmpAgg(a, b aggEntry) int {
	if a.hour != b.hour {
		return int(a.hour - b.hour)
	}
	return int(a.camp) - int(b.camp)
}

// diurnal returns an offset in [0, span) with more traffic in the afternoon
// and a slight growth over the period.
func diurnal(rng *rand.Rand, span int64) int64 {
	for {
		off := rng.Int64N(span)
		hod := (off / 3600) % 24
		w := 0.35 + 0.65*float64(12-abs64(hod-15)%12)/12
		w *= 0.7 + 0.3*float64(off)/float64(span)
		if rng.Float64() < w {
			return off
		}
	}
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (s *Sim) pickCamp(rng *rand.Rand) uint16 {
	x := rng.Float64() * s.campCum[len(s.campCum)-1]
	return uint16(sort.SearchFloat64s(s.campCum, x))
}

func (s *Sim) pickDev(rng *rand.Rand) uint8 {
	x := rng.Float64() * s.devCum[len(s.devCum)-1]
	return uint8(sort.SearchFloat64s(s.devCum, x))
}

func (s *Sim) newClick(rng *rand.Rand, ts int64) click {
	camp := s.pickCamp(rng)
	cty := &countries[s.camps[camp].country]
	cl := click{created: ts, conv: -1, serial: s.clickSerial, camp: camp, city: uint8(rng.IntN(len(cty.cities))),
		dev: s.pickDev(rng), sub: uint8(rng.IntN(256)), uniq: rng.IntN(100) < 85}
	s.clickSerial++
	return cl
}

func (s *Sim) convClick(i int) click {
	c := &s.convs[i]
	return click{created: c.created - int64(c.clickDt), conv: int32(i), camp: c.camp, city: c.city, dev: c.dev, sub: c.sub, uniq: true}
}

// newConv draws one conversion created at ts; its status and updated_at
// depend on its age relative to now.
func (s *Sim) newConv(rng *rand.Rand, ts, now int64) conv {
	camp := s.pickCamp(rng)
	cp := s.camps[camp]
	o := &s.offers[cp.offer]
	cty := &countries[cp.country]
	c := conv{created: ts, camp: camp, city: uint8(rng.IntN(len(cty.cities))), dev: s.pickDev(rng), sub: uint8(rng.IntN(256))}
	c.clickDt = uint16(5 + rng.IntN(2*3600))
	if len(o.goals) > 1 && rng.IntN(4) == 0 {
		c.goal = 1
	}
	g := o.goals[c.goal]
	if g.percent {
		sale := int64(g.revenue/2) + rng.Int64N(int64(g.revenue)+1)
		c.revenue = int32(sale)
		c.payout = int32(sale * int64(g.payout) / 100)
	} else {
		c.revenue, c.payout = g.revenue, g.payout
	}
	age := now - ts
	odds := &settledStatusMix
	if age < 2*86400 {
		odds = &freshStatusMix
	}
	c.status = odds.pick(rng.IntN(100))
	c.updated = ts
	if c.status != stPending || rng.IntN(5) == 0 {
		maxd := now - ts
		if maxd > 3*86400 {
			maxd = 3 * 86400
		}
		if maxd > 0 {
			c.updated = ts + rng.Int64N(maxd+1)
		}
	}
	return c
}

// statusMix holds cumulative percent cut-offs of a conversion's status:
// pending, confirmed, declined, hold; the rest are not_found.
type statusMix [4]int

var (
	freshStatusMix   = statusMix{45, 85, 93, 98} // younger than two days
	settledStatusMix = statusMix{10, 78, 91, 98}
)

var statusMixOrder = [...]uint8{stPending, stConfirmed, stDeclined, stHold}

// pick maps r in 0..99 to a status.
func (m *statusMix) pick(r int) uint8 {
	for i, cut := range m {
		if r < cut {
			return statusMixOrder[i]
		}
	}
	return stNotFound
}

// rebuildUpdIndex sorts all conversion indices by (updated, index).
func (s *Sim) rebuildUpdIndex() {
	s.byUpd = make([]uint32, len(s.convs), cap(s.convs))
	for i := range s.byUpd {
		s.byUpd[i] = uint32(i)
	}
	slices.SortFunc(s.byUpd, func(a, b uint32) int { return s.cmpUpd(a, b) })
	s.pending = s.pending[:0]
	for i := range s.convs {
		if s.convs[i].status == stPending {
			s.pending = append(s.pending, uint32(i))
		}
	}
}

func (s *Sim) cmpUpd(a, b uint32) int {
	ua, ub := s.convs[a].updated, s.convs[b].updated
	switch {
	case ua < ub:
		return -1
	case ua > ub:
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func joinStr(a []string, sep string) string {
	out := ""
	for i, s := range a {
		if i > 0 {
			out += sep
		}
		out += s
	}
	return out
}

// churn applies n changes: about half status changes of pending
// conversions (updated_at = now), half new conversions created now (with
// their click and postbacks). Caller holds the write lock.
func (s *Sim) churnLocked(n int) (changed, created int) {
	now := s.churnNow()
	var newPending []uint32 // joined after the batch: a new row changes no earlier than the next batch
	defer func() { s.pending = append(s.pending, newPending...) }()
	for k := 0; k < n; k++ {
		if s.churnRng.IntN(2) == 0 && len(s.pending) > 0 {
			j := s.churnRng.IntN(len(s.pending))
			ci := s.pending[j]
			s.pending[j] = s.pending[len(s.pending)-1]
			s.pending = s.pending[:len(s.pending)-1]
			c := &s.convs[ci]
			// Remove from the updated index, set the new status, append.
			pos, found := slices.BinarySearchFunc(s.byUpd, ci, func(e, t uint32) int { return s.cmpUpd(e, t) })
			if found {
				s.byUpd = slices.Delete(s.byUpd, pos, pos+1)
			}
			if s.churnRng.IntN(100) < 75 {
				c.status = stConfirmed
			} else {
				c.status = stDeclined
			}
			c.updated = now
			s.byUpd = append(s.byUpd, ci)
			changed++
			continue
		}
		c := s.newConv(s.churnRng, now, now)
		// Its click happens now too: a click that appears in an hour a
		// client already closed would be an artefact of the simulator, not
		// something Affise does.
		c.clickDt = 0
		c.status = stPending
		if s.churnRng.IntN(3) == 0 {
			c.status = stConfirmed
		}
		c.updated = now
		ci := uint32(len(s.convs))
		s.priceConv(&c, ci)
		s.convs = append(s.convs, c)
		s.byUpd = append(s.byUpd, ci)
		if c.status == stPending {
			newPending = append(newPending, ci)
		}
		cl := s.convClick(int(ci))
		pos, _ := slices.BinarySearchFunc(s.clicks, cl, cmpClick)
		s.clicks = slices.Insert(s.clicks, pos, cl)
		s.addAggLocked(cl.created, cl.camp, true)
		// a few non-converting clicks come with it
		for j := 0; j < int(s.cfg.ClicksPerConversion-1+0.5); j++ {
			ncl := s.newClick(s.churnRng, now)
			pos, _ := slices.BinarySearchFunc(s.clicks, ncl, cmpClick)
			s.clicks = slices.Insert(s.clicks, pos, ncl)
			s.addAggLocked(ncl.created, ncl.camp, ncl.uniq)
		}
		created++
	}
	// Appending keeps byUpd ordered only while every append is later
	// than the rest; two batches within one second tie on updated, and a
	// changed old conversion (a low index) must then sort before the
	// batch's new ones, or paging by update time would shift rows.
	slices.SortFunc(s.byUpd, s.cmpUpd)
	s.version++
	return changed, created
}

// churnNow is the time churn stamps: the clock, but never before the
// newest creation or update, so a clock set back cannot make rows change
// in the past of what clients have already read. Caller holds the lock.
func (s *Sim) churnNow() int64 {
	now := s.now().Unix()
	if len(s.convs) > 0 {
		if last := s.convs[len(s.convs)-1].created; now < last {
			now = last
		}
	}
	if len(s.byUpd) > 0 {
		if last := s.convs[s.byUpd[len(s.byUpd)-1]].updated; now < last {
			now = last
		}
	}
	return now
}

// churnAgedLocked settles up to n pending or hold conversions created
// between maxAge and minAge before now (confirmed or declined, updated_at
// now), as advertisers do when a hold period of weeks or months ends. It
// creates nothing, so the only changes are to old rows: the ones a sync
// that re-reads only recent days would miss. Caller holds the write lock.
func (s *Sim) churnAgedLocked(n int, minAge, maxAge time.Duration) int {
	if n <= 0 {
		return 0
	}
	now := s.churnNow()
	from, to := int64(math.MinInt64/2), now-int64(minAge/time.Second)
	if maxAge < math.MaxInt64 {
		from = now - int64(maxAge/time.Second)
	}
	lo, hi := s.convRange(from, to+1)
	var cand []uint32
	for i := lo; i < hi; i++ {
		if st := s.convs[i].status; st == stPending || st == stHold {
			cand = append(cand, uint32(i))
		}
	}
	k := min(n, len(cand))
	for j := 0; j < k; j++ {
		r := j + s.churnRng.IntN(len(cand)-j)
		cand[j], cand[r] = cand[r], cand[j]
	}
	chosen := make(map[uint32]bool, k)
	for _, ci := range cand[:k] {
		chosen[ci] = true
	}
	s.byUpd = slices.DeleteFunc(s.byUpd, func(ci uint32) bool { return chosen[ci] })
	for _, ci := range cand[:k] {
		c := &s.convs[ci]
		c.status = stConfirmed
		if s.churnRng.IntN(100) >= 75 {
			c.status = stDeclined
		}
		c.updated = now
		s.byUpd = append(s.byUpd, ci)
	}
	slices.SortFunc(s.byUpd, s.cmpUpd)
	s.pending = slices.DeleteFunc(s.pending, func(ci uint32) bool { return chosen[ci] })
	s.version++
	return k
}

func (s *Sim) addAggLocked(ts int64, camp uint16, uniq bool) {
	e := aggEntry{hour: int32(floorDiv(ts, 3600)), camp: camp}
	pos, found := slices.BinarySearchFunc(s.agg, e, cmpAgg)
	if !found {
		s.agg = slices.Insert(s.agg, pos, e)
	}
	s.agg[pos].raw++
	if uniq {
		s.agg[pos].uniq++
	}
}
