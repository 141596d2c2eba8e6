package models

import (
	"time"

	"github.com/syncd/syncd/plan"
)

// conversions: GET /3.0/stats/conversions, one row per conversion, key id.
const (
	cvID = iota
	cvStatus
	cvOfferID
	cvPartnerID
	cvAdvertiserID
	cvGoal
	cvCurrency
	cvRevenue
	cvPayouts
	cvEarnings
	cvCountry
	cvCity
	cvOS
	cvDevice
	cvBrowser
	cvClickID
	cvActionID
	cvSub1
	cvSub2
	cvSub3
	cvSub4
	cvSub5
	cvSub6
	cvSub7
	cvSub8
	cvCreatedAt
	cvClickTime
	cvUpdatedAt
	cvPaymentStatus
)

var conversionsTable = newTable("conversions",
	[]column{
		cvID:            {name: "id", typ: tString, notNull: true},
		cvStatus:        {name: "status", typ: tString},
		cvOfferID:       {name: "offer_id", typ: tInt64},
		cvPartnerID:     {name: "partner_id", typ: tInt64},
		cvAdvertiserID:  {name: "advertiser_id", typ: tString},
		cvGoal:          {name: "goal", typ: tString},
		cvCurrency:      {name: "currency", typ: tString},
		cvRevenue:       {name: "revenue", typ: tDecimal},
		cvPayouts:       {name: "payouts", typ: tDecimal},
		cvEarnings:      {name: "earnings", typ: tDecimal},
		cvCountry:       {name: "country", typ: tString},
		cvCity:          {name: "city", typ: tString},
		cvOS:            {name: "os", typ: tString},
		cvDevice:        {name: "device", typ: tString},
		cvBrowser:       {name: "browser", typ: tString},
		cvClickID:       {name: "clickid", typ: tString},
		cvActionID:      {name: "action_id", typ: tString},
		cvSub1:          {name: "sub1", typ: tString},
		cvSub2:          {name: "sub2", typ: tString},
		cvSub3:          {name: "sub3", typ: tString},
		cvSub4:          {name: "sub4", typ: tString},
		cvSub5:          {name: "sub5", typ: tString},
		cvSub6:          {name: "sub6", typ: tString},
		cvSub7:          {name: "sub7", typ: tString},
		cvSub8:          {name: "sub8", typ: tString},
		cvCreatedAt:     {name: "created_at", typ: tTimestamp},
		cvClickTime:     {name: "click_time", typ: tTimestamp},
		cvUpdatedAt:     {name: "updated_at", typ: tTimestamp},
		cvPaymentStatus: {name: "payment_status", typ: tString},
	},
	[]string{"id"}, "created_at",
	append([]string{"id", "status", "offer_id", "offer", "partner_id", "partner", "advertiser",
		"supplier_id", "goal", "currency", "revenue", "payouts", "earnings", "country",
		"city", "os", "device", "browser", "clickid", "action_id",
		"created_at", "click_time", "updated_at", "payment_status"}, subNames[:]...),
	conversionRow)

// Conversions is the conversions table (key id, day column created_at).
func Conversions() Model { return conversionsTable }

func conversionsStream() *Stream {
	return &Stream{
		Name: "conversions", Endpoint: "/3.0/stats/conversions", ListKey: "conversions",
		Planner: plan.UpdateHours{}, Zone: ZoneUTC, Mode: Upsert,
		Defaults: Defaults{Schedule: "@every 15m", Lookback: 6 * time.Hour},
		table:    fixed(conversionsTable),
	}
}

var subNames = [8]string{"sub1", "sub2", "sub3", "sub4", "sub5", "sub6", "sub7", "sub8"}

func conversionRow(r *rowState) {
	r.reqStr(cvID, "id", r.val("id"))
	r.str(cvStatus, "status", r.val("status"))
	// offer_id is an int in data, a string in docs examples, and absent or
	// null when the offer was deleted (offer is null then too): fall back to
	// offer.id, else NULL.
	r.int(cvOfferID, "offer_id", first(r.val("offer_id"), idOf(r.val("offer"))))
	r.int(cvPartnerID, "partner_id", first(r.val("partner_id"), idOf(r.val("partner"))))
	r.str(cvAdvertiserID, "advertiser.id", first(idOf(r.val("advertiser")), r.val("supplier_id")))
	r.str(cvGoal, "goal", r.val("goal"))
	r.str(cvCurrency, "currency", r.val("currency"))
	r.dec(cvRevenue, "revenue", r.val("revenue"))
	r.dec(cvPayouts, "payouts", r.val("payouts"))
	r.dec(cvEarnings, "earnings", r.val("earnings"))
	r.str(cvCountry, "country", r.val("country"))
	r.str(cvCity, "city", r.val("city"))
	r.str(cvOS, "os", r.val("os"))
	r.str(cvDevice, "device", r.val("device"))
	r.str(cvBrowser, "browser", r.val("browser"))
	r.str(cvClickID, "clickid", r.val("clickid"))
	r.str(cvActionID, "action_id", r.val("action_id"))
	for i, name := range subNames {
		r.str(cvSub1+i, name, r.val(name))
	}
	r.ts(cvCreatedAt, "created_at", r.val("created_at"))
	r.ts(cvClickTime, "click_time", r.val("click_time"))
	r.ts(cvUpdatedAt, "updated_at", r.val("updated_at"))
	r.str(cvPaymentStatus, "payment_status", r.val("payment_status"))
}
