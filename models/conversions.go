package models

import (
	"slices"
	"time"

	"github.com/syncd/syncd/plan"
)

// conversions: one row per conversion. With an admin key, windows select
// by update time, so status changes land on the conversion's row.
func conversionsStream() *Stream {
	return &Stream{
		RecordsChanges: ChangedConversions,
		Name:           "conversions", Endpoint: "/3.0/stats/conversions", ListKey: "conversions",
		Planner: plan.UpdateHours{}, Zone: ZoneUTC, Mode: Upsert,
		Defaults: Defaults{Schedule: "@every 15m", Lookback: 6 * time.Hour, SettleWindow: 60 * 24 * time.Hour},
		Key:      []string{"id"}, Version: "updated_at", Day: "created_at",
		columns: slices.Concat([]column{
			{name: "id", typ: tString},
			{name: "status", typ: tString},
			// offer_id is an int in data, a string in docs examples, and
			// absent or null when the offer was deleted (offer is null then
			// too): fall back to offer.id, else NULL.
			{name: "offer_id", typ: tInt64, from: either(at("offer_id"), idAt("offer"))},
			{name: "partner_id", typ: tInt64, from: either(at("partner_id"), idAt("partner"))},
			{name: "advertiser_id", typ: tString, from: either(idAt("advertiser"), at("supplier_id"))},
			{name: "goal", typ: tString},
			{name: "currency", typ: tString},
			{name: "revenue", typ: tDecimal},
			{name: "payouts", typ: tDecimal},
			{name: "earnings", typ: tDecimal},
			{name: "country", typ: tString},
			{name: "city", typ: tString},
			{name: "os", typ: tString},
			{name: "device", typ: tString},
			{name: "browser", typ: tString},
			{name: "clickid", typ: tString},
			{name: "action_id", typ: tString},
		}, subColumns(), []column{
			{name: "created_at", typ: tTimestamp},
			{name: "click_time", typ: tTimestamp},
			{name: "updated_at", typ: tTimestamp},
			{name: "payment_status", typ: tString},
		}, conversionDetails()),
	}
}

// conversionDetails are the fields each conversion sends besides the
// columns above, typed so that raw does not repeat them per row (a
// conversion took ~790 bytes of a DuckDB file with them in raw, ~250
// without): loose, so a drifting value stays in raw and never fails the
// row. The nested offer, partner and advertiser (and the fraud_type
// list) are json columns: they repeat across rows, which DuckDB stores
// once per segment.
func conversionDetails() []column {
	return slices.Concat(
		looseStrings("conversion_id", "cbid", "ip", "ua", "country_name", "isp_code", "device_type",
			"goal_value", "payment_type", "is_paid", "fraud_risk_level", "decline_reason", "supplier_id",
			"referrer", "ref_id", "comment"),
		[]column{
			{name: "city_id", typ: tInt64, loose: true},
			{name: "landing_id", typ: tInt64, loose: true},
			{name: "prelanding_id", typ: tInt64, loose: true},
			{name: "sum", typ: tDecimal, loose: true},
		},
		looseStrings("custom_field_1", "custom_field_2", "custom_field_3", "custom_field_4",
			"custom_field_5", "custom_field_6", "custom_field_7"),
		jsonColumns("offer", "partner", "advertiser", "fraud_type"),
	)
}

// Conversions is the conversions table.
func Conversions() Model { return declaredTable(conversionsStream()) }

// subColumns are sub1..sub8, the partner's tracking values, as sent.
func subColumns() []column {
	cols := make([]column, 8)
	for i := range cols {
		cols[i] = column{name: "sub" + string(rune('1'+i)), typ: tString}
	}
	return cols
}
