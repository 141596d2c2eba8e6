package models

// affiliate_postbacks: the postbacks Affise sent to partners, daily
// windows re-read over the lookback.
func affiliatePostbacksStream() *Stream {
	return postbacksStream("affiliate_postbacks", "/3.0/stats/affiliatepostbacks",
		column{name: "pid", typ: tInt64},
		column{name: "lead_id", typ: tString},
		column{name: "http_code", typ: tInt32},
		column{name: "offer_id", typ: tInt64, from: either(at("offer_id"), idAt("offer"))},
		column{name: "goal", typ: tString},
		column{name: "status", typ: tInt32},
		column{name: "postback_url", typ: tString},
		// Typed so that raw does not repeat it per row.
		column{name: "job_id", typ: tString, loose: true},
	)
}

// AffiliatePostbacks is the affiliate_postbacks table.
func AffiliatePostbacks() Model { return declaredTable(affiliatePostbacksStream()) }
