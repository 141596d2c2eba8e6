package models

import (
	"time"

	"github.com/syncd/syncd/plan"
)

// affiliate_postbacks: GET /3.0/stats/affiliatepostbacks, key id (_id.$id).
const (
	apID = iota
	apDate
	apPID
	apLeadID
	apHTTPCode
	apOfferID
	apGoal
	apStatus
	apPostbackURL
)

var affiliatePostbacksTable = newTable("affiliate_postbacks",
	[]column{
		apID:          {name: "id", typ: tString, notNull: true},
		apDate:        {name: "date", typ: tTimestamp},
		apPID:         {name: "pid", typ: tInt64},
		apLeadID:      {name: "lead_id", typ: tString},
		apHTTPCode:    {name: "http_code", typ: tInt32},
		apOfferID:     {name: "offer_id", typ: tInt64},
		apGoal:        {name: "goal", typ: tString},
		apStatus:      {name: "status", typ: tInt32},
		apPostbackURL: {name: "postback_url", typ: tString},
	},
	[]string{"id"}, "date",
	[]string{"_id", "date", "pid", "lead_id", "http_code", "offer_id", "offer", "goal", "status", "postback_url"},
	affiliatePostbackRow)

// AffiliatePostbacks is the affiliate_postbacks table (key id, day column date).
func AffiliatePostbacks() Model { return affiliatePostbacksTable }

func affiliatePostbacksStream() *Stream {
	return &Stream{
		Name: "affiliate_postbacks", Endpoint: "/3.0/stats/affiliatepostbacks", ListKey: "postbacks",
		Planner: plan.Days{}, Zone: ZoneUTC, Mode: Upsert,
		Defaults: Defaults{Schedule: "@every 1h", Lookback: 48 * time.Hour},
		table:    fixed(affiliatePostbacksTable),
	}
}

func affiliatePostbackRow(r *rowState) {
	r.mongoID(apID, r.val("_id"))
	r.unixDate(apDate, "date", r.val("date"))
	r.int(apPID, "pid", r.val("pid"))
	r.str(apLeadID, "lead_id", r.val("lead_id"))
	r.int(apHTTPCode, "http_code", r.val("http_code"))
	r.int(apOfferID, "offer_id", first(r.val("offer_id"), idOf(r.val("offer"))))
	r.str(apGoal, "goal", r.val("goal"))
	r.int(apStatus, "status", r.val("status"))
	r.str(apPostbackURL, "postback_url", r.val("postback_url"))
}
