package models

import (
	"time"

	"github.com/syncd/syncd/plan"
)

// affiliate_postbacks: the postbacks Affise sent to partners, daily
// windows re-read over the lookback.
func affiliatePostbacksStream() *Stream {
	return &Stream{
		Name: "affiliate_postbacks", Endpoint: "/3.0/stats/affiliatepostbacks", ListKey: "postbacks",
		Planner: plan.Days{}, Zone: ZoneUTC, Mode: Upsert,
		Defaults: Defaults{Schedule: "@every 1h", Lookback: 48 * time.Hour},
		Key:      []string{"id"}, Day: "date",
		columns: []column{
			{name: "id", typ: tString, from: at("_id"), dec: (*rowState).mongoID},
			{name: "date", typ: tTimestamp, dec: (*rowState).unixDate},
			{name: "pid", typ: tInt64},
			{name: "lead_id", typ: tString},
			{name: "http_code", typ: tInt32},
			{name: "offer_id", typ: tInt64, from: either(at("offer_id"), idAt("offer"))},
			{name: "goal", typ: tString},
			{name: "status", typ: tInt32},
			{name: "postback_url", typ: tString},
		},
	}
}

// AffiliatePostbacks is the affiliate_postbacks table.
func AffiliatePostbacks() Model { return declaredTable(affiliatePostbacksStream()) }
