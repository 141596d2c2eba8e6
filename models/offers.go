package models

import (
	"net/url"

	"github.com/syncd/syncd/plan"
)

// offers: a snapshot of every offer (active, stopped and suspended),
// replacing the table each pass. The key is the integer id; offer_id is
// Affise's string id.
func offersStream() *Stream {
	return &Stream{
		Name: "offers", Endpoint: "/3.0/offers", ListKey: "offers",
		Params:  url.Values{"status[]": {"active", "stopped", "suspended"}},
		Planner: plan.Snapshot{}, Zone: ZoneUTC, Mode: ReplaceTable,
		Defaults: Defaults{Schedule: "@every 6h"},
		Key:      []string{"id"},
		columns: []column{
			{name: "id", typ: tInt64},
			{name: "offer_id", typ: tString},
			{name: "title", typ: tString},
			// advertiser is the advertiser's hex id; tolerate an {id, title} object.
			{name: "advertiser_id", typ: tString, from: idAt("advertiser").named("advertiser")},
			{name: "status", typ: tString},
			{name: "privacy", typ: tString},
			// The currency of the first payment, as sent (Affise writes "usd" here).
			{name: "currency", typ: tString, from: at("payments", "[0]", "currency")},
			{name: "created_at", typ: tTimestamp},
		},
	}
}

// Offers is the offers table.
func Offers() Model { return declaredTable(offersStream()) }

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
