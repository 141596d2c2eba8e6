package models

import "github.com/syncd/syncd/plan"

// clicks: GET /3.0/stats/clicks, one row per click, key id. The ip is not
// stored as a column (personal data; it stays in raw like every field).
const (
	ckID = iota
	ckOfferID
	ckPartnerID
	ckCountry
	ckOS
	ckDeviceType
	ckBrowser
	ckSub1
	ckSub2
	ckSub3
	ckSub4
	ckSub5
	ckSub6
	ckSub7
	ckSub8
	ckCreatedAt
	ckHasConversions
	ckConversionID
)

var clicksTable = newTable("clicks",
	[]column{
		ckID:             {name: "id", typ: tString, notNull: true},
		ckOfferID:        {name: "offer_id", typ: tInt64},
		ckPartnerID:      {name: "partner_id", typ: tInt64},
		ckCountry:        {name: "country", typ: tString},
		ckOS:             {name: "os", typ: tString},
		ckDeviceType:     {name: "device_type", typ: tString},
		ckBrowser:        {name: "browser", typ: tString},
		ckSub1:           {name: "sub1", typ: tString},
		ckSub2:           {name: "sub2", typ: tString},
		ckSub3:           {name: "sub3", typ: tString},
		ckSub4:           {name: "sub4", typ: tString},
		ckSub5:           {name: "sub5", typ: tString},
		ckSub6:           {name: "sub6", typ: tString},
		ckSub7:           {name: "sub7", typ: tString},
		ckSub8:           {name: "sub8", typ: tString},
		ckCreatedAt:      {name: "created_at", typ: tTimestamp},
		ckHasConversions: {name: "has_conversions", typ: tBool},
		ckConversionID:   {name: "conversion_id", typ: tString},
	},
	[]string{"id"}, "created_at",
	append([]string{"id", "offer", "offer_id", "partner", "partner_id", "country", "os",
		"device_type", "browser", "created_at", "has_conversions", "conversion_id"}, subNames[:]...),
	clickRow)

// Clicks is the clicks table (key id, day column created_at).
func Clicks() Model { return clicksTable }

func clicksStream() *Stream {
	return &Stream{
		Name: "clicks", Endpoint: "/3.0/stats/clicks", ListKey: "clicks",
		Planner: plan.ClickHours{}, Zone: ZoneUTC, Mode: Upsert,
		Defaults: Defaults{Schedule: "@every 1h"},
		table:    fixed(clicksTable),
	}
}

func clickRow(r *rowState) {
	r.reqStr(ckID, "id", r.val("id"))
	r.int(ckOfferID, "offer_id", first(r.val("offer_id"), idOf(r.val("offer"))))
	r.int(ckPartnerID, "partner_id", first(r.val("partner_id"), idOf(r.val("partner"))))
	r.str(ckCountry, "country", r.val("country"))
	r.str(ckOS, "os", r.val("os"))
	r.str(ckDeviceType, "device_type", r.val("device_type"))
	r.str(ckBrowser, "browser", r.val("browser"))
	for i, name := range subNames {
		r.str(ckSub1+i, name, r.val(name))
	}
	r.ts(ckCreatedAt, "created_at", r.val("created_at"))
	r.boolean(ckHasConversions, "has_conversions", r.val("has_conversions"))
	r.str(ckConversionID, "conversion_id", r.val("conversion_id"))
}
