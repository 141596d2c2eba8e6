package models

import (
	"slices"

	"github.com/syncd/syncd/plan"
)

// clicks: one row per click, over closed hours within Affise's retention.
// The ip is not stored as a column (personal data; it stays in raw like
// every field).
func clicksStream() *Stream {
	return &Stream{
		Name: "clicks", Endpoint: "/3.0/stats/clicks", ListKey: "clicks",
		Planner: plan.ClickHours{}, Zone: ZoneUTC, Mode: Upsert,
		Defaults: Defaults{Schedule: "@every 1h"},
		Key:      []string{"id"}, Day: "created_at",
		columns: slices.Concat([]column{
			{name: "id", typ: tString},
			{name: "offer_id", typ: tInt64, from: either(at("offer_id"), idAt("offer"))},
			{name: "partner_id", typ: tInt64, from: either(at("partner_id"), idAt("partner"))},
			{name: "country", typ: tString},
			{name: "os", typ: tString},
			{name: "device_type", typ: tString},
			{name: "browser", typ: tString},
		}, subColumns(), []column{
			{name: "created_at", typ: tTimestamp},
			{name: "has_conversions", typ: tBool},
			{name: "conversion_id", typ: tString},
		}, clickDetails()),
	}
}

// clickDetails are the fields each click sends besides the columns above,
// typed so that raw does not repeat them per row (see conversionDetails):
// loose, the nested offer, partner, landing and prelanding as json
// columns.
func clickDetails() []column {
	return slices.Concat(
		looseStrings("click_id", "cbid", "ua", "country_name", "city", "region_name", "isp_code",
			"device", "device_fullname", "device_model", "os_version", "os_fullname", "browser_version",
			"browser_fullname", "connection_type", "referrer", "idfa", "smart_id", "ref_id", "os_id",
			"user_id", "ext1", "ext2", "ext3", "unid", "supplier_manager_id"),
		[]column{
			{name: "city_id", typ: tInt64, loose: true},
			{name: "region_id", typ: tInt64, loose: true},
			{name: "isp", typ: tInt64, loose: true},
		},
		jsonColumns("offer", "partner", "landing", "prelanding"),
	)
}

// Clicks is the clicks table.
func Clicks() Model { return declaredTable(clicksStream()) }
