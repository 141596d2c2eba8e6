package models

import (
	"time"

	"github.com/syncd/syncd/plan"
)

// server_postbacks: GET /3.0/stats/serverpostbacks, key id (from _id.$id).
const (
	spID = iota
	spDate
	spClickID
	spOfferID
	spPartnerID
	spConversionID
)

var serverPostbacksTable = newTable("server_postbacks",
	[]column{
		spID:           {name: "id", typ: tString, notNull: true},
		spDate:         {name: "date", typ: tTimestamp},
		spClickID:      {name: "click_id", typ: tString},
		spOfferID:      {name: "offer_id", typ: tInt64},
		spPartnerID:    {name: "partner_id", typ: tInt64},
		spConversionID: {name: "conversion_id", typ: tString},
	},
	[]string{"id"}, "date",
	[]string{"_id", "date", "track", "_get", "conversion_id"},
	serverPostbackRow)

// ServerPostbacks is the server_postbacks table (key id, day column date).
func ServerPostbacks() Model { return serverPostbacksTable }

func serverPostbacksStream() *Stream {
	return &Stream{
		Name: "server_postbacks", Endpoint: "/3.0/stats/serverpostbacks", ListKey: "postbacks",
		Planner: plan.Days{}, Zone: ZoneUTC, Mode: Upsert,
		Defaults: Defaults{Schedule: "@every 1h", Lookback: 48 * time.Hour},
		table:    fixed(serverPostbacksTable),
	}
}

func serverPostbackRow(r *rowState) {
	r.mongoID(spID, r.val("_id"))
	r.unixDate(spDate, "date", r.val("date"))
	track := r.val("track")
	r.str(spClickID, "track.click_id", first(member(track, "click_id"), path(r.val("_get"), "clickid")))
	// track.offer_id is a string ("934") in real responses.
	r.int(spOfferID, "track.offer.id", first(idOf(member(track, "offer")), member(track, "offer_id")))
	// track.partner.id is a string ("610") in real responses.
	r.int(spPartnerID, "track.partner.id", first(idOf(member(track, "partner")), member(track, "partner_id")))
	r.str(spConversionID, "track.conversion_id", first(member(track, "conversion_id"), r.val("conversion_id")))
}
