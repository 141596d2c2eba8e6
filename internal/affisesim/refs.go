package affisesim

import (
	"encoding/json"
	"fmt"
	"strings"
)

func (s *Sim) tsOrNull(lz *localizer, ts int64) any {
	if ts == 0 {
		return nil
	}
	return string(lz.appendTS(nil, ts))
}

func money(cents int64) json.RawMessage { return appendMoney(nil, cents) }

func (s *Sim) offerJSON(oi int, lz *localizer) []byte {
	o := &s.offers[oi]
	var payments []any
	for _, g := range o.goals {
		var cc []string
		for _, c := range o.countries {
			cc = append(cc, strings.ToLower(countries[c].code))
		}
		typ, rev, total := "fixed", money(int64(g.payout)), money(int64(g.revenue))
		if g.percent {
			typ, rev, total = "percent", json.RawMessage(fmt.Sprint(g.payout)), json.RawMessage("100")
		}
		title := g.title
		if title == "" {
			title = "goal" + g.value
		}
		payments = append(payments, map[string]any{
			"countries": cc, "cities": []any{}, "devices": []any{}, "os": []any{},
			"goal": g.value, "revenue": rev, "currency": strings.ToLower(o.currency), "title": title,
			"type": typ, "country_exclude": false, "total": total, "with_regions": false, "url": nil,
		})
	}
	allowDeny := func() map[string]any { return map[string]any{"allow": []any{}, "deny": []any{}} }
	a := &s.advs[o.adv]
	m := map[string]any{
		"id": o.id, "offer_id": o.offerID, "advertiser": a.id, "external_offer_id": "", "bundle_id": "",
		"hide_payments": false, "title": o.title, "macro_url": "", "url": o.url,
		"cross_postback_url": "", "url_preview": o.preview, "preview_url": o.preview, "domain_url": "",
		"trafficback_url": "", "use_https": true, "use_http": true,
		"description_lang": map[string]any{"en": "Offer " + o.title, "ru": "Оффер " + o.title},
		"sources":          []any{map[string]any{"id": "51f531f53b7d9b1e0382f6d9", "title": "Web sites", "allowed": 1}},
		"logo":             "", "logo_source": "", "status": o.status, "tags": []any{}, "privacy": "public", "is_top": 0,
		"payments": payments, "partner_payments": []any{},
		"landings":         []any{map[string]any{"id": 1, "title": "Main", "url": o.preview, "url_preview": o.preview, "type": "landing"}},
		"strictly_country": 0, "strictly_os": []any{}, "strictly_brands": []any{}, "strictly_connection_type": nil,
		"restriction_isp": nil,
		"targeting": []any{map[string]any{
			"country": allowDeny(), "region": allowDeny(), "city": allowDeny(), "os": allowDeny(), "isp": allowDeny(),
			"ip": allowDeny(), "browser": allowDeny(), "brand": allowDeny(), "device_type": []any{}, "connection": []any{},
			"affiliate_id": []any{}, "sub": map[string]any{"allow": []any{}, "deny": []any{}, "deny_groups": []any{}},
		}},
		"is_redirect_overcap": false, "notice_percent_overcap": 0, "hold_period": o.holdPeriod,
		"categories":      []any{"Dating"},
		"full_categories": []any{map[string]any{"id": "5368afb23b7d9b4d5d505342", "title": "Dating"}},
		"cr":              0, "epc": 0, "notes": "", "allowed_ip": "", "disallowed_ip": "", "hash_password": "",
		"allow_deeplink": 0, "hide_referer": 0, "start_at": string(lz.appendTS(nil, o.created)), "stop_at": "",
		"auto_offer_connect": 0, "required_approval": false, "is_cpi": false, "creatives": []any{}, "creatives_zip": nil,
		"created_at":   string(lz.appendTS(nil, o.created)),
		"sub_accounts": map[string]any{"1": map[string]any{"value": "", "except": false}, "2": map[string]any{"value": "", "except": false}},
		"kpi":          map[string]any{"en": "", "ru": "", "es": "", "ka": "", "vi": ""}, "strictly_isp": []any{},
		// Affise's caps quirk: goals is an object keyed by goal, or [] when empty.
		"caps": []any{map[string]any{"period": "day", "type": "conversions", "value": 1000, "goal_type": "exact",
			"goals": map[string]any{"1": "goal1"}, "affiliate_type": "all", "affiliates": []any{}},
			map[string]any{"period": "month", "type": "budget", "value": 50000, "goal_type": "all",
				"goals": []any{}, "affiliate_type": "all", "affiliates": []any{}}},
		"commission_tiers":  []any{},
		"updated_at":        string(lz.appendTS(nil, o.updated)),
		"allow_impressions": false, "smartlink_categories": []any{}, "uniq_ip_only": false, "reject_not_uniq_ip": false,
	}
	b, _ := json.Marshal(m)
	return b
}

func (s *Sim) partnerJSON(pi int, lz *localizer) []byte {
	p := &s.partners[pi]
	var mgr any
	if p.manager >= 0 {
		m := &s.managers[p.manager]
		mgr = map[string]any{"id": m.id, "first_name": m.first, "last_name": m.last, "work_hours": "10:00 - 19:00",
			"email": m.email, "skype": nil, "api_key": hex32(s.seed, kindManager, uint64(p.manager)), "roles": []any{"ROLE_MANAGER_AFFILIATE"}, "type": "affiliate_manager", "avatar": nil,
			"updated_at": string(lz.appendTS(nil, s.anchor.Unix()-86400*30)), "created_at": string(lz.appendTS(nil, s.anchor.Unix()-86400*400)),
			"last_login_at": string(lz.appendTS(nil, s.anchor.Unix()-86400))}
	}
	offersCount := 0
	for _, c := range s.camps {
		if int(c.partner) == pi {
			offersCount++
		}
	}
	m := map[string]any{
		"id": p.id, "created_at": string(lz.appendTS(nil, p.created)), "updated_at": string(lz.appendTS(nil, p.updated)),
		"email": p.email, "login": p.login, "ref_percent": "0", "name": nil, "notes": "", "manager": mgr,
		"status": p.status, "level": 0, "payment_systems": []any{},
		"customFields": []any{map[string]any{"name": "Company Name", "value": fmt.Sprintf("Traffic Co %d", p.id), "label": fmt.Sprintf("Traffic Co %d", p.id), "id": 4}},
		"balance":      map[string]any{"USD": map[string]any{"balance": money(p.balance), "hold": 0, "available": money(p.balance)}},
		"offersCount":  offersCount, "api_key": p.apiKey, "address_1": nil, "address_2": nil, "city": nil,
		"country": p.country, "zip_code": nil, "phone": nil, "ref": "0",
		"sub_accounts":  map[string]any{"1": map[string]any{"value": "", "except": 0}, "2": map[string]any{"value": "", "except": 0}},
		"contactPerson": nil, "tags": []any{},
	}
	if p.manager >= 0 { // older accounts (partner 1) have these unset
		m["address_1"] = fmt.Sprintf("%d Main Street", p.id)
		m["city"] = "Springfield"
		m["contactPerson"] = "contact@" + strings.SplitN(p.email, "@", 2)[1]
	}
	b, _ := json.Marshal(m)
	return b
}

func (s *Sim) advertiserJSON(ai int, lz *localizer) []byte {
	a := &s.advs[ai]
	n := 0
	for _, o := range s.offers {
		if o.adv == ai {
			n++
		}
	}
	m := map[string]any{
		"id": a.id, "title": a.title, "contact": nil, "email": a.email, "url": "https://" + strings.ToLower(strings.ReplaceAll(a.title, " ", "")) + ".example",
		"manager": "", "manager_obj": nil, "allowed_ip": []any{}, "skype": nil, "note": nil, "hash_password": nil,
		"offers": fmt.Sprint(n), "has_user": false, "address_1": "", "address_2": "", "city": a.city, "country": a.country,
		"zip_code": "", "vat_code": "", "updated_at": s.tsOrNull(lz, a.updated), "created_at": s.tsOrNull(lz, a.created),
	}
	b, _ := json.Marshal(m)
	return b
}

func (s *Sim) handleOffers(r *request) ([]byte, *apiError) {
	want := r.arr("status")
	if len(want) == 0 {
		want = []string{"active"}
	}
	for _, w := range want {
		if w != "active" && w != "stopped" && w != "suspended" {
			return nil, &apiError{400, "status must be one of active, stopped, suspended"}
		}
	}
	ids := r.arr("ids")
	s.mu.RLock()
	defer s.mu.RUnlock()
	var sel []int
	for i, o := range s.offers {
		ok := false
		for _, w := range want {
			ok = ok || o.status == w
		}
		if len(ids) > 0 {
			in := false
			for _, id := range ids {
				in = in || id == fmt.Sprint(o.id) || id == o.offerID
			}
			ok = ok && in
		}
		if ok {
			sel = append(sel, i)
		}
	}
	return r.writePage(nil, "offers", len(sel), func(b []byte, p int) []byte {
		return append(b, s.offerJSON(sel[p], r.lz)...)
	}), nil
}

func (s *Sim) handlePartners(r *request) ([]byte, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return r.writePage(nil, "partners", len(s.partners), func(b []byte, p int) []byte {
		return append(b, s.partnerJSON(p, r.lz)...)
	}), nil
}

func (s *Sim) handleAdvertisers(r *request) ([]byte, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return r.writePage(nil, "advertisers", len(s.advs), func(b []byte, p int) []byte {
		return append(b, s.advertiserJSON(p, r.lz)...)
	}), nil
}

// writeTruth calls emit with every row of a stream, timestamps in UTC.
func (s *Sim) writeTruth(stream string, emit func([]byte) error) error {
	var truth func(*Sim) (int, truthRow)
	for _, e := range endpoints() {
		if e.stream == stream && e.truth != nil {
			truth = e.truth
		}
	}
	if truth == nil {
		return fmt.Errorf("unknown stream %q", stream)
	}
	lz := newLocalizer(utc)
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, row := truth(s)
	var buf []byte
	for i := 0; i < n; i++ {
		if b := row(buf[:0], i, lz); b != nil {
			buf = b
			if err := emit(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// The data sets: s.mu is held.

func (s *Sim) conversionsTruth() (int, truthRow) {
	return len(s.convs), func(b []byte, i int, lz *localizer) []byte { return s.appendConv(b, uint32(i), lz, false) }
}

func (s *Sim) clicksTruth() (int, truthRow) {
	retain := s.now().Add(-s.cfg.Retention).Unix()
	return len(s.clicks), func(b []byte, i int, lz *localizer) []byte {
		if s.clicks[i].created < retain {
			return nil
		}
		return s.appendClick(b, &s.clicks[i], lz)
	}
}

func (s *Sim) serverPostbacksTruth() (int, truthRow) {
	return len(s.convs), func(b []byte, i int, lz *localizer) []byte { return s.appendServerPB(b, uint32(i), lz) }
}

func (s *Sim) affiliatePostbacksTruth() (int, truthRow) {
	return len(s.convs), func(b []byte, i int, _ *localizer) []byte {
		if !s.hasAffPB(uint32(i)) {
			return nil
		}
		return s.appendAffPB(b, uint32(i))
	}
}

func (s *Sim) offersTruth() (int, truthRow) {
	return len(s.offers), func(_ []byte, i int, lz *localizer) []byte { return s.offerJSON(i, lz) }
}

func (s *Sim) partnersTruth() (int, truthRow) {
	return len(s.partners), func(_ []byte, i int, lz *localizer) []byte { return s.partnerJSON(i, lz) }
}

func (s *Sim) advertisersTruth() (int, truthRow) {
	return len(s.advs), func(_ []byte, i int, lz *localizer) []byte { return s.advertiserJSON(i, lz) }
}
