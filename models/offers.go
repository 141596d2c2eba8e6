package models

import (
	"net/url"

	"github.com/syncd/syncd/plan"
)

// offers: GET /3.0/offers, full snapshot, key id (the integer id; offer_id
// is Affise's string id).
const (
	ofID = iota
	ofOfferID
	ofTitle
	ofAdvertiserID
	ofStatus
	ofPrivacy
	ofCurrency
	ofCreatedAt
)

var offersTable = newTable("offers",
	[]column{
		ofID:           {name: "id", typ: tInt64, notNull: true},
		ofOfferID:      {name: "offer_id", typ: tString},
		ofTitle:        {name: "title", typ: tString},
		ofAdvertiserID: {name: "advertiser_id", typ: tString},
		ofStatus:       {name: "status", typ: tString},
		ofPrivacy:      {name: "privacy", typ: tString},
		ofCurrency:     {name: "currency", typ: tString},
		ofCreatedAt:    {name: "created_at", typ: tTimestamp},
	},
	[]string{"id"}, "",
	[]string{"id", "offer_id", "title", "advertiser", "status", "privacy", "payments", "created_at"},
	offerRow)

// Offers is the offers table (key id, no day column).
func Offers() Model { return offersTable }

func offersStream() *Stream {
	return &Stream{
		Name: "offers", Endpoint: "/3.0/offers", ListKey: "offers",
		Params:  url.Values{"status[]": {"active", "stopped", "suspended"}},
		Planner: plan.Snapshot{}, Zone: ZoneUTC, Mode: ReplaceTable,
		Defaults: Defaults{Schedule: "@every 6h"},
		table:    fixed(offersTable),
	}
}

func offerRow(r *rowState) {
	r.reqInt(ofID, "id", r.val("id"))
	r.str(ofOfferID, "offer_id", r.val("offer_id"))
	r.str(ofTitle, "title", r.val("title"))
	// advertiser is the advertiser's hex id; tolerate an {id, title} object.
	r.str(ofAdvertiserID, "advertiser", idOf(r.val("advertiser")))
	r.str(ofStatus, "status", r.val("status"))
	r.str(ofPrivacy, "privacy", r.val("privacy"))
	// The currency of the first payment, as sent (Affise writes "usd" here).
	r.str(ofCurrency, "payments[0].currency", member(firstElem(r.val("payments")), "currency"))
	r.ts(ofCreatedAt, "created_at", r.val("created_at"))
}

// firstElem returns the first element of a JSON array, nil when v is not a
// non-empty array.
func firstElem(v []byte) []byte {
	if len(v) == 0 || v[0] != '[' {
		return nil
	}
	sc := scanner{data: v, pos: 1}
	sc.skipSpace()
	if sc.pos >= len(v) || v[sc.pos] == ']' {
		return nil
	}
	start := sc.pos
	if err := sc.value(1); err != nil {
		return nil
	}
	return v[start:sc.pos]
}
