package models

import "slices"

// server_postbacks: the postbacks Affise sent to advertisers' servers,
// daily windows re-read over the lookback.
func serverPostbacksStream() *Stream {
	return postbacksStream("server_postbacks", "/3.0/stats/serverpostbacks", slices.Concat([]column{
		{name: "click_id", typ: tString, from: either(at("track", "click_id"), at("_get", "clickid"))},
		// track.offer_id is a string ("934") in real responses.
		{name: "offer_id", typ: tInt64, from: either(idAt("track", "offer"), at("track", "offer_id"))},
		// track.partner.id is a string ("610") in real responses.
		{name: "partner_id", typ: tInt64, from: either(idAt("track", "partner"), at("track", "partner_id"))},
		{name: "conversion_id", typ: tString, from: either(at("track", "conversion_id"), at("conversion_id"))},
	},
		// What Affise sent and got back, and the click it tracked: typed so
		// that raw does not repeat them per row (see conversionDetails).
		looseStrings("get", "post", "server", "response"),
		jsonColumns("_get", "_post", "track"),
	)...)
}

// ServerPostbacks is the server_postbacks table.
func ServerPostbacks() Model { return declaredTable(serverPostbacksStream()) }
