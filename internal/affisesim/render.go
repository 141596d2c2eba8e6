package affisesim

import (
	"math"
	"strconv"
	"time"
)

// localizer renders unix times as "YYYY-MM-DD HH:MM:SS" in a zone, caching
// the zone offset between transitions so rendering a page is cheap.
type localizer struct {
	loc         *time.Location
	lo, hi, off int64
}

func newLocalizer(loc *time.Location) *localizer {
	return &localizer{loc: loc, lo: 1, hi: 0}
}

func (l *localizer) offset(ts int64) int64 {
	if ts >= l.lo && ts < l.hi {
		return l.off
	}
	t := time.Unix(ts, 0).In(l.loc)
	_, off := t.Zone()
	a, b := t.ZoneBounds()
	l.lo, l.hi = math.MinInt64, math.MaxInt64
	if !a.IsZero() {
		l.lo = a.Unix()
	}
	if !b.IsZero() {
		l.hi = b.Unix()
	}
	l.off = int64(off)
	return l.off
}

// local returns ts shifted to wall-clock seconds of the zone.
func (l *localizer) local(ts int64) int64 { return ts + l.offset(ts) }

const secsPerHour, secsPerDay = 3600, 86400

// instant is the first instant whose wall clock in the zone reads wall or
// later. Affise filters by the wall-clock text it renders, so a bound in a
// repeated hour is its first occurrence (hour=2 on a fall-back day spans
// both 02:xx hours) and a bound in a skipped hour is the jump past it
// (hour=2 on a spring-forward day is empty). Going through time.Date
// instead would pick one occurrence by the zone's sign and lose or repeat
// an hour.
func (l *localizer) instant(wall int64) int64 {
	// An offset is under a day, so every instant reading wall lies within a
	// day of it, and the zone changes at most once in that span.
	before, after := wall-l.offset(wall-secsPerDay), wall-l.offset(wall+secsPerDay)
	first, found := int64(0), false
	for _, c := range [...]int64{before, after} {
		if l.local(c) == wall && (!found || c < first) {
			first, found = c, true
		}
	}
	if found {
		return first
	}
	// A skipped wall time: the clock jumps past it where the zone changes.
	_, end := time.Unix(min(before, after), 0).In(l.loc).ZoneBounds()
	return end.Unix()
}

func (l *localizer) appendTS(b []byte, ts int64) []byte {
	local := l.local(ts)
	days := floorDiv(local, 86400)
	secs := local - days*86400
	y, m, d := civil(days)
	b = append4(b, int(y))
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, ' ')
	b = append2(b, int(secs/3600))
	b = append(b, ':')
	b = append2(b, int(secs/60%60))
	b = append(b, ':')
	b = append2(b, int(secs%60))
	return b
}

func (l *localizer) appendQTS(b []byte, ts int64) []byte {
	b = append(b, '"')
	b = l.appendTS(b, ts)
	return append(b, '"')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date.
func civil(z int64) (y int64, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return
}

// appendStr appends s as a JSON string.
func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			clean = false
			break
		}
	}
	if clean {
		b = append(b, s...)
		return append(b, '"')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexdigits[c>>4], hexdigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendMoney renders cents as Affise does: an int when whole, else a
// float with at most 2 decimals (4 -> 4, 680 -> 6.8, 5 -> 0.05).
func appendMoney(b []byte, cents int64) []byte {
	if cents < 0 {
		b = append(b, '-')
		cents = -cents
	}
	b = strconv.AppendInt(b, cents/100, 10)
	f := cents % 100
	if f == 0 {
		return b
	}
	b = append(b, '.', byte('0'+f/10))
	if f%10 != 0 {
		b = append(b, byte('0'+f%10))
	}
	return b
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

func (s *Sim) appendID(b []byte, kind, n uint64) []byte {
	b = append(b, '"')
	b = appendMongoID(b, s.idSeed, kind, n)
	return append(b, '"')
}

func (s *Sim) appendIP(b []byte, h uint64) []byte {
	b = append(b, '"')
	b = strconv.AppendUint(b, 11+h%200, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (h>>8)%256, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (h>>16)%256, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, 1+(h>>24)%254, 10)
	return append(b, '"')
}

// appendRef opens an Affise reference object: {"id":id,"title":title
// (the caller adds further fields and the closing brace).
func appendRef(b []byte, id int, title string) []byte {
	b = append(b, `{"id":`...)
	b = appendInt(b, int64(id))
	b = append(b, `,"title":`...)
	return appendStr(b, title)
}

// appendSubs renders the sub1..sub5 fields shared by conversions, clicks
// and server postbacks; sub5 carries the partner as "p<id>".
func appendSubs(b []byte, s1, s2, s3 string, pid int) []byte {
	b = append(b, `"sub1":`...)
	b = appendStr(b, s1)
	b = append(b, `,"sub2":`...)
	b = appendStr(b, s2)
	b = append(b, `,"sub3":`...)
	b = appendStr(b, s3)
	b = append(b, `,"sub4":"","sub5":"p`...)
	b = appendInt(b, int64(pid))
	return append(b, '"')
}

// convHash is the per-conversion hash its ip, fraud fields and click derive from.
func (s *Sim) convHash(ci uint32) uint64 { return mix(s.seed ^ uint64(ci)<<8 ^ 0x77) }

func (s *Sim) offerObj(b []byte, oi int) []byte {
	o := &s.offers[oi]
	b = appendRef(b, o.id, o.title)
	b = append(b, `,"offer_id":`...)
	b = appendStr(b, o.offerID)
	b = append(b, `,"url":`...)
	b = appendStr(b, o.url)
	b = append(b, `,"external_id":`...)
	if o.externalID == "" {
		b = append(b, "false"...)
	} else {
		b = appendStr(b, o.externalID)
	}
	return append(b, '}')
}

func (s *Sim) partnerObj(b []byte, pi int) []byte {
	p := &s.partners[pi]
	b = appendRef(b, p.id, p.email)
	b = append(b, `,"email":`...)
	b = appendStr(b, p.email)
	b = append(b, `,"login":`...)
	b = appendStr(b, p.login)
	b = append(b, `,"name":""`...)
	if p.manager < 0 {
		b = append(b, `,"manager":null,"manager_id":null}`...)
		return b
	}
	m := &s.managers[p.manager]
	b = append(b, `,"manager":{"id":`...)
	b = appendStr(b, m.id)
	b = append(b, `,"title":`...)
	b = appendStr(b, m.first+" "+m.last)
	b = append(b, `,"first_name":"","last_name":""},"manager_id":`...)
	b = appendStr(b, m.id)
	return append(b, '}')
}

func (s *Sim) advObj(b []byte, ai int) []byte {
	a := &s.advs[ai]
	b = append(b, `{"id":`...)
	b = appendStr(b, a.id)
	b = append(b, `,"title":`...)
	b = appendStr(b, a.title)
	return append(b, '}')
}

var declineReasons = []string{"Duplicate", "Fraud", "Not qualified", "Advertiser rejected"}

// appendConv renders conversion ci like /3.0/stats/conversions does.
func (s *Sim) appendConv(b []byte, ci uint32, lz *localizer, affiliate bool) []byte {
	c := &s.convs[ci]
	cp := s.camps[c.camp]
	o := &s.offers[cp.offer]
	p := &s.partners[cp.partner]
	cty := &countries[cp.country]
	ct := &cty.cities[int(c.city)%len(cty.cities)]
	dv := &devices[c.dev]
	g := &o.goals[c.goal]
	h := s.convHash(ci)
	s1, s2, s3 := c.subs()

	b = append(b, `{"id":`...)
	b = s.appendID(b, kindConv, uint64(ci))
	b = append(b, `,"action_id":`...)
	b = s.appendID(b, kindConvClick, uint64(ci))
	b = append(b, `,"status":"`...)
	b = append(b, statusNames[c.status]...)
	b = append(b, `","conversion_id":`...)
	b = s.appendID(b, kindConv, uint64(ci))
	b = append(b, `,"cbid":`...)
	b = s.appendID(b, kindConvClick, uint64(ci))
	b = append(b, `,"currency":`...)
	b = appendStr(b, s.curs[c.cur].code)
	b = append(b, `,"offer":`...)
	b = s.offerObj(b, int(cp.offer))
	b = append(b, `,"offer_id":`...)
	b = appendInt(b, int64(o.id))
	b = append(b, `,"goal":`...)
	b = appendStr(b, g.title)
	b = append(b, `,"hold_date_expire":`...)
	if c.status == stHold && o.holdPeriod > 0 {
		b = lz.appendQTS(b, c.created+int64(o.holdPeriod)*86400)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"ip":`...)
	b = s.appendIP(b, h)
	b = append(b, `,"country":"`...)
	b = append(b, cty.code...)
	b = append(b, `","country_name":`...)
	b = appendStr(b, cty.name)
	b = append(b, `,"district":null,"city":`...)
	b = appendStr(b, ct.name)
	b = append(b, `,"city_id":`...)
	b = appendInt(b, int64(ct.id))
	b = append(b, `,"isp_code":`...)
	b = appendStr(b, cty.isp)
	b = append(b, `,"ua":`...)
	b = appendStr(b, dv.ua)
	b = append(b, `,"browser":`...)
	b = appendStr(b, dv.browser)
	b = append(b, `,"os":`...)
	b = appendStr(b, dv.os)
	b = append(b, `,"device":"`...)
	b = append(b, dv.device...)
	b = append(b, `","device_type":"`...)
	b = append(b, dv.deviceType...)
	b = append(b, `",`...)
	b = appendSubs(b, s1, s2, s3, p.id)
	b = append(b, `,"sub6":"","sub7":"","sub8":"","custom_field_1":"","custom_field_2":"","custom_field_3":"","custom_field_4":"","custom_field_5":"","custom_field_6":"","custom_field_7":"","comment":"","created_at":`...)
	b = lz.appendQTS(b, c.created)
	b = append(b, `,"click_time":`...)
	b = lz.appendQTS(b, c.created-int64(c.clickDt))
	b = append(b, `,"referrer":"","landing_id":0,"prelanding_id":0,"ref_id":"","clickid":`...)
	b = s.appendID(b, kindConvClick, uint64(ci))
	b = append(b, `,"partner":`...)
	b = s.partnerObj(b, int(cp.partner))
	if !affiliate {
		b = append(b, `,"supplier_id":`...)
		b = appendStr(b, s.advs[o.adv].id)
	}
	b = append(b, `,"partner_id":`...)
	b = appendInt(b, int64(p.id))
	b = append(b, `,"goal_value":`...)
	b = appendStr(b, g.value)
	if !affiliate {
		b = append(b, `,"sum":`...)
		if g.percent {
			b = appendMoney(b, int64(c.revenue))
		} else {
			b = append(b, '0')
		}
		b = append(b, `,"revenue":`...)
		b = appendMoney(b, int64(c.revenue))
	}
	b = append(b, `,"payouts":`...)
	b = appendMoney(b, int64(c.payout))
	if !affiliate {
		b = append(b, `,"earnings":`...)
		b = appendMoney(b, int64(c.revenue-c.payout))
		b = append(b, `,"advertiser":`...)
		b = s.advObj(b, o.adv)
	}
	b = append(b, `,"payment_type":`...)
	if g.percent {
		b = append(b, `"percent"`...)
	} else {
		b = append(b, `"fixed"`...)
	}
	b = append(b, `,"payment_status":`...)
	paid := c.status == stConfirmed && c.created < s.anchor.Unix()-14*86400
	if paid {
		b = append(b, `"paid","is_paid":"1"`...)
	} else {
		b = append(b, `"opened","is_paid":"3"`...)
	}
	b = append(b, `,"updated_at":`...)
	b = lz.appendQTS(b, c.updated)
	b = append(b, `,"fraud_risk_level":`...)
	switch {
	case c.status == stDeclined && h%3 == 0:
		b = append(b, `"high","decline_reason":`...)
		b = appendStr(b, declineReasons[(h>>40)%uint64(len(declineReasons))])
		b = append(b, `,"fraud_type":["ip_blacklist"]`...)
	case c.status == stDeclined:
		b = append(b, `"low","decline_reason":`...)
		b = appendStr(b, declineReasons[(h>>40)%uint64(len(declineReasons))])
		b = append(b, `,"fraud_type":[]`...)
	default:
		b = append(b, `"low","decline_reason":"","fraud_type":[]`...)
	}
	return append(b, '}')
}

// appendClick renders a retained click like /3.0/stats/clicks does.
func (s *Sim) appendClick(b []byte, cl *click, lz *localizer) []byte {
	cp := s.camps[cl.camp]
	o := &s.offers[cp.offer]
	p := &s.partners[cp.partner]
	cty := &countries[cp.country]
	ct := &cty.cities[int(cl.city)%len(cty.cities)]
	dv := &devices[cl.dev]
	var h uint64
	idKind, idN := kindClick, uint64(cl.serial)
	if cl.conv >= 0 {
		idKind, idN = kindConvClick, uint64(cl.conv)
		h = s.convHash(uint32(cl.conv))
	} else {
		h = mix(s.seed ^ uint64(cl.serial)<<8 ^ 0x99)
	}
	s1, s2, s3 := sub1Pool[cl.sub&7], sub2Pool[(cl.sub>>3)&3], sub3Pool[(cl.sub>>5)&3]
	b = append(b, `{"id":`...)
	b = s.appendID(b, idKind, idN)
	b = append(b, `,"ip":`...)
	b = s.appendIP(b, h)
	b = append(b, `,"ua":`...)
	b = appendStr(b, dv.ua)
	b = append(b, `,"country":"`...)
	b = append(b, cty.code...)
	b = append(b, `","country_name":`...)
	b = appendStr(b, cty.name)
	b = append(b, `,"city":`...)
	b = appendStr(b, ct.name)
	b = append(b, `,"city_id":`...)
	b = appendInt(b, int64(ct.id))
	b = append(b, `,"click_id":`...)
	b = s.appendID(b, idKind, idN)
	b = append(b, `,"region_id":`...)
	b = appendInt(b, int64(ct.id%100000))
	b = append(b, `,"region_name":`...)
	b = appendStr(b, ct.name)
	b = append(b, `,"device":`...)
	b = appendStr(b, dv.model)
	b = append(b, `,"device_type":"`...)
	b = append(b, dv.deviceType...)
	b = append(b, `","device_fullname":"","device_model":`...)
	b = appendStr(b, dv.model)
	b = append(b, `,"os":`...)
	b = appendStr(b, dv.osName)
	b = append(b, `,"os_version":`...)
	b = appendStr(b, dv.osVer)
	b = append(b, `,"os_fullname":`...)
	b = appendStr(b, dv.os)
	b = append(b, `,"browser":`...)
	b = appendStr(b, dv.browserName)
	b = append(b, `,"browser_version":`...)
	b = appendStr(b, dv.browserVer)
	b = append(b, `,"browser_fullname":`...)
	b = appendStr(b, dv.browser)
	b = append(b, `,"connection_type":`...)
	if dv.deviceType == "desktop" {
		b = append(b, `"broadband"`...)
	} else {
		b = append(b, `"cellular"`...)
	}
	b = append(b, `,"offer":`...)
	b = s.offerObj(b, int(cp.offer))
	b = append(b, `,"referrer":"",`...)
	b = appendSubs(b, s1, s2, s3, p.id)
	b = append(b, `,"sub6":"","sub7":"","sub8":"","landing":{"id":0,"url":"undefined","title":""},"prelanding":{"id":0,"url":"undefined","title":""},"conversion_id":`...)
	if cl.conv >= 0 {
		b = s.appendID(b, kindConv, uint64(cl.conv))
		b = append(b, `,"has_conversions":true,"cbid":`...)
		b = s.appendID(b, kindConvClick, uint64(cl.conv))
	} else {
		b = append(b, `"","has_conversions":false,"cbid":""`...)
	}
	b = append(b, `,"idfa":"","created_at":`...)
	b = lz.appendQTS(b, cl.created)
	b = append(b, `,"isp":0,"isp_code":`...)
	b = appendStr(b, cty.isp)
	b = append(b, `,"smart_id":"","uniq":`...)
	b = strconv.AppendBool(b, cl.uniq)
	b = append(b, `,"ref_id":"","os_id":"","user_id":"","ext1":"","ext2":"","ext3":"","unid":"","partner_id":`...)
	b = appendInt(b, int64(p.id))
	b = append(b, `,"partner":`...)
	b = s.partnerObj(b, int(cp.partner))
	b = append(b, `,"supplier_manager_id":`...)
	b = appendStr(b, s.managers[o.adv%len(s.managers)].id)
	return append(b, '}')
}

// Postbacks derive from conversions: one server postback per conversion at
// its creation, an affiliate postback (a few seconds later) for most.
func (s *Sim) pbHash(ci uint32) uint64 { return mix(s.seed ^ uint64(ci)<<8 ^ 0x55) }

func (s *Sim) hasAffPB(ci uint32) bool { return s.pbHash(ci)%100 < 88 }

func (s *Sim) affPBTime(ci uint32) int64 { return s.convs[ci].created + 1 + int64(s.pbHash(ci)>>8%20) }

// affPBCode is the HTTP code the affiliate's server answered postback ci with.
func (s *Sim) affPBCode(ci uint32) int {
	switch s.pbHash(ci) >> 32 % 50 {
	case 0:
		return 404
	case 1:
		return 500
	}
	return 200
}

const maxAffPBDelay = 21

func (s *Sim) appendServerPB(b []byte, ci uint32, lz *localizer) []byte {
	c := &s.convs[ci]
	cp := s.camps[c.camp]
	o := &s.offers[cp.offer]
	p := &s.partners[cp.partner]
	cty := &countries[cp.country]
	ct := &cty.cities[int(c.city)%len(cty.cities)]
	dv := &devices[c.dev]
	h := s.pbHash(ci)
	clickID := appendMongoID(nil, s.idSeed, kindConvClick, uint64(ci))
	s1, s2, s3 := c.subs()
	b = append(b, `{"_id":{"$id":`...)
	b = s.appendID(b, kindServerPB, uint64(ci))
	b = append(b, `},"_get":{"clickid":"`...)
	b = append(b, clickID...)
	b = append(b, `","goal":`...)
	b = appendStr(b, o.goals[c.goal].value)
	b = append(b, `},"_post":[],"date":{"sec":`...)
	b = appendInt(b, c.created)
	b = append(b, `,"usec":`...)
	b = appendInt(b, int64(h%1000)*1000)
	b = append(b, `},"get":`...)
	b = appendStr(b, `{"clickid":"`+string(clickID)+`","goal":"`+o.goals[c.goal].value+`"}`)
	b = append(b, `,"post":"[]","server":"203.0.113.`...)
	b = appendInt(b, int64(o.adv+10))
	b = append(b, `","response":"{\n    \"status\": 1\n}","track":{"id":"`...)
	b = append(b, clickID...)
	b = append(b, `","ip":`...)
	b = s.appendIP(b, s.convHash(ci))
	b = append(b, `,"ua":`...)
	b = appendStr(b, dv.ua)
	b = append(b, `,"country":"`...)
	b = append(b, cty.code...)
	b = append(b, `","city":`...)
	b = appendStr(b, ct.name)
	b = append(b, `,"device":`...)
	b = appendStr(b, dv.deviceType)
	b = append(b, `,"os":`...)
	b = appendStr(b, dv.os)
	b = append(b, `,"browser":`...)
	b = appendStr(b, dv.browser)
	b = append(b, `,"offer":{"id":`...)
	b = appendInt(b, int64(o.id))
	b = append(b, `,"offer_id":`...)
	b = appendStr(b, o.offerID)
	b = append(b, `,"title":`...)
	b = appendStr(b, o.title)
	b = append(b, `,"preview_url":`...)
	b = appendStr(b, o.preview)
	b = append(b, `},"referrer":"","click_id":"`...)
	b = append(b, clickID...)
	b = append(b, `",`...)
	b = appendSubs(b, s1, s2, s3, p.id)
	b = append(b, `,"offer_id":"`...)
	b = appendInt(b, int64(o.id))
	b = append(b, `","conversion_id":null,"ios_idfa":null,"android_id":null,"created_at":`...)
	b = lz.appendQTS(b, c.created-int64(c.clickDt))
	b = append(b, `,"uniq":1,"cbid":null,"partner":{"id":"`...)
	b = appendInt(b, int64(p.id))
	b = append(b, `","login":`...)
	b = appendStr(b, p.login)
	b = append(b, `,"email":`...)
	b = appendStr(b, p.email)
	return append(b, `}}}`...)
}

var apiStatus = [...]int{1, 2, 3, 4, 5}

func (s *Sim) appendAffPB(b []byte, ci uint32) []byte {
	c := &s.convs[ci]
	cp := s.camps[c.camp]
	o := &s.offers[cp.offer]
	p := &s.partners[cp.partner]
	h := s.pbHash(ci)
	b = append(b, `{"_id":{"$id":`...)
	b = s.appendID(b, kindAffPB, uint64(ci))
	b = append(b, `},"_get":null,"_post":null,"date":{"sec":`...)
	b = appendInt(b, s.affPBTime(ci))
	b = append(b, `,"usec":`...)
	b = appendInt(b, int64(h>>16%1000)*1000)
	b = append(b, `},"pid":`...)
	b = appendInt(b, int64(p.id))
	b = append(b, `,"lead_id":`...)
	b = s.appendID(b, kindConvClick, uint64(ci))
	b = append(b, `,"http_code":`...)
	b = appendInt(b, int64(s.affPBCode(ci)))
	b = append(b, `,"postback_url":`...)
	b = appendStr(b, "https://postback.affiliate"+strconv.Itoa(p.id)+".example/pb?clickid={sub1}&payout={sum}")
	b = append(b, `,"offer_id":`...)
	b = appendInt(b, int64(o.id))
	b = append(b, `,"job_id":`...)
	b = s.appendID(b, kindJob, uint64(ci))
	b = append(b, `,"goal":`...)
	b = appendStr(b, o.goals[c.goal].value)
	b = append(b, `,"status":`...)
	b = appendInt(b, int64(apiStatus[c.status]))
	return append(b, '}')
}
