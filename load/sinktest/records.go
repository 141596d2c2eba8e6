package sinktest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/models"
)

// The suite loads the real models, fed with objects shaped like the API's
// replies (see /work/shared/fixtures/affise-responses), so a sink is tested
// on the column types, nullability and key shapes it meets in production.

// conversion is one element of GET /3.0/stats/conversions. created and
// updated are the API's naive "YYYY-MM-DD hh:mm:ss" (the suite builds in
// UTC); updated "" sends null, as Affise does for never-updated rows.
func conversion(id, status, created, updated string) string {
	upd := "null"
	if updated != "" {
		upd = fmt.Sprintf("%q", updated)
	}
	return fmt.Sprintf(`{"id":%[1]q,"action_id":"a-%[1]s","status":%[2]q,"conversion_id":%[1]q,
		"currency":"USD","offer":{"id":71,"title":"luogosegreto CPL DOI IT","offer_id":"5f58ad83134ed08c008b4569"},
		"offer_id":71,"goal":"1","ip":"109.52.50.14","country":"IT","country_name":"Italy","city":"Roma — Città",
		"browser":"Samsung Browser 12.0","os":"Android 10.0","device":"mobile",
		"sub1":"","sub2":"s2","sub3":"","sub4":"","sub5":"sohel","sub6":"","sub7":"","sub8":"",
		"custom_field_1":"","comment":"","created_at":%[3]q,"click_time":"2025-01-01 00:00:01",
		"updated_at":%[4]s,"clickid":"c-%[1]s",
		"partner":{"id":12,"title":"fffff@gmail.com","manager_id":"5f9008bfafd0ba5d88c4dee8"},
		"supplier_id":"5f059c53d346519b154f20d4","partner_id":12,"goal_value":"1","sum":0,
		"revenue":4.5,"payouts":3,"earnings":"1.5","advertiser":{"id":"5f059c53d346519b154f20d4","title":"Admolly"},
		"payment_type":"fixed","payment_status":"pending","is_paid":"3"}`, id, status, created, upd)
}

// statsDaily is the stats_daily model the suite uses: slices day and
// offer, so its key (day, offer_id) has two columns and its day column is
// a DATE.
func statsDaily(t *testing.T) models.Model {
	t.Helper()
	m, err := models.ByName("stats_daily", []string{"day", "offer"})
	if err != nil {
		t.Fatalf("stats_daily model: %v", err)
	}
	return m
}

// stat is one element of GET /3.0/stats/custom with slice[]=day and
// slice[]=offer; clicks tells versions of the same row apart.
func stat(t *testing.T, day string, offer, clicks int) string {
	t.Helper()
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		t.Fatalf("sinktest: bad day %q", day)
	}
	return fmt.Sprintf(`{"slice":{"year":%d,"month":%d,"day":%d,"offer":{"id":%d,"title":"Offer %d"}},
		"traffic":{"raw":"%d","uniq":"%d"},
		"actions":{"total":{"revenue":1252,"charge":1352.52,"earning":100.52,"null":825,"count":%d},
		"confirmed":{"revenue":12.5,"charge":13.0001,"earning":0.5001,"count":3}}}`,
		d.Year(), int(d.Month()), d.Day(), offer, offer, clicks, clicks-1, clicks/10)
}

// offer is one element of GET /3.0/offers (a snapshot stream, integer key,
// no version column).
func offer(id int, title string) string {
	return fmt.Sprintf(`{"id":%d,"offer_id":"5bdffa7339f65625008b%04d","title":%q,
		"advertiser":"5bc9d7c16d73e41c008b4567","status":"active","privacy":"public",
		"payments":[{"countries":["kz"],"revenue":500,"currency":"usd","type":"fixed","total":1000}],
		"created_at":"2018-11-05 11:08:19"}`, id, id, title)
}

// model returns a stream's model by name, as the pipeline gets it.
func model(t *testing.T, stream string) models.Model {
	t.Helper()
	m, err := models.ByName(stream, nil)
	if err != nil {
		t.Fatalf("model %s: %v", stream, err)
	}
	return m
}

// build decodes objs with m's builder into one record of the default
// network's rows, owned by the caller.
func build(t *testing.T, mem memory.Allocator, m models.Model, objs ...string) arrow.RecordBatch {
	t.Helper()
	return buildFor(t, mem, m, models.DefaultNetwork, objs...)
}

// buildFor is build for network's rows.
func buildFor(t *testing.T, mem memory.Allocator, m models.Model, network string, objs ...string) arrow.RecordBatch {
	t.Helper()
	// A fixed _synced_at, so rows read back compare exactly.
	b := m.NewBuilder(mem, network, time.UTC, time.Date(2025, 2, 1, 6, 0, 0, 0, time.UTC))
	defer b.Release()
	for i, o := range objs {
		if err := b.Append(json.RawMessage(o)); err != nil {
			t.Fatalf("sinktest: %s object %d does not decode: %v\n%s", m.Table(), i, err, strings.TrimSpace(o))
		}
	}
	return b.NewRecord()
}
