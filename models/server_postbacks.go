package models

import (
	"time"

	"github.com/syncd/syncd/plan"
)

// server_postbacks: the postbacks Affise sent to advertisers' servers,
// daily windows re-read over the lookback.
func serverPostbacksStream() *Stream {
	return &Stream{
		Name: "server_postbacks", Endpoint: "/3.0/stats/serverpostbacks", ListKey: "postbacks",
		Planner: plan.Days{}, Zone: ZoneUTC, Mode: Upsert,
		Defaults: Defaults{Schedule: "@every 1h", Lookback: 48 * time.Hour},
		Key:      []string{"id"}, Day: "date",
		columns: []column{
			{name: "id", typ: tString, from: at("_id"), dec: (*rowState).mongoID},
			{name: "date", typ: tTimestamp, dec: (*rowState).unixDate},
			{name: "click_id", typ: tString, from: either(at("track", "click_id"), at("_get", "clickid"))},
			// track.offer_id is a string ("934") in real responses.
			{name: "offer_id", typ: tInt64, from: either(idAt("track", "offer"), at("track", "offer_id"))},
			// track.partner.id is a string ("610") in real responses.
			{name: "partner_id", typ: tInt64, from: either(idAt("track", "partner"), at("track", "partner_id"))},
			{name: "conversion_id", typ: tString, from: either(at("track", "conversion_id"), at("conversion_id"))},
		},
	}
}

// ServerPostbacks is the server_postbacks table.
func ServerPostbacks() Model { return declaredTable(serverPostbacksStream()) }
