package models

import (
	"time"

	"github.com/syncd/syncd/plan"
)

// currency_rates: Affise's exchange rates (admin keys), quotes per USD as
// GET /3.0/admin/currency serves them now, snapshotted once a UTC day:
// each pass replaces today's rows, past days keep theirs. Affise keeps no
// history, so the first day is the day syncd first read it.
func currencyRatesStream() *Stream {
	return &Stream{
		Name: "currency_rates", Endpoint: "/3.0/admin/currency", ListKey: "quotes",
		Planner: plan.Daily{}, Zone: ZoneUTC, Mode: ReplaceDays, AdminOnly: true,
		Defaults:  Defaults{Schedule: "@every 6h", AdminDefault: true},
		StampsDay: "date",
		Key:       []string{"date", "currency"}, Day: "date",
		columns: []column{
			{name: "date", typ: tDate, dec: (*rowState).isoDate},
			// The quotes come as {"RUB": 59.31, ...}: each member a row
			// {"key", "value"} (see extract's decodePage).
			{name: "currency", typ: tString, from: at("key")},
			{name: "rate_per_usd", typ: tFloat, from: at("value")},
		},
	}
}

// CurrencyRates is the currency_rates table.
func CurrencyRates() Model { return declaredTable(currencyRatesStream()) }

// isoDate decodes a "YYYY-MM-DD" date.
func (r *rowState) isoDate(col int, field string, v []byte) {
	s, ok, err := textOf(v)
	if err == nil && !ok {
		err = errNull
	}
	if err != nil {
		r.fail(field, err)
		return
	}
	t, err := time.Parse(time.DateOnly, string(s))
	if err != nil {
		r.fail(field, err)
		return
	}
	r.cells[col] = cell{i: t.Unix() / 86400}
}
