//go:build duckdb_arrow

package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"
)

// Every model's DDL runs in DuckDB and its records load through an Arrow
// view with SelectList, giving plain UTC TIMESTAMPs even when the session
// time zone is not UTC, and exact decimals.
func TestDuckDBLoad(t *testing.T) {
	ctx := context.Background()
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer connector.Close()
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET TimeZone = 'America/New_York'"); err != nil {
		t.Fatal(err)
	}

	stats, _ := StatsDaily([]string{"day", "offer", "partner", "country"})
	type load struct {
		m     Model
		file  string
		list  string
		query string
		want  string
	}
	for _, l := range []load{
		{Conversions(), "3.0.stats.conversions@get.json", "conversions",
			`SELECT id, offer_id, created_at::VARCHAR, payouts::VARCHAR, typeof(created_at), json_extract_string(raw, '$.offer.title') FROM conversions WHERE id = '5fa8e834134ed082008b4578'`,
			"5fa8e834134ed082008b4578|81|2020-11-09 08:56:52|0.0285|TIMESTAMP|"},
		{Clicks(), "3.0.stats.clicks@get.json", "clicks",
			`SELECT count(*), min(created_at)::VARCHAR, bool_or(has_conversions) FROM clicks`, ""},
		{ServerPostbacks(), "3.0.stats.serverpostbacks@get.json", "postbacks",
			`SELECT id, date::VARCHAR, offer_id, partner_id FROM server_postbacks`,
			"59359e1d7e28feb7568b4569|2017-06-05 18:08:29.035|934|610"},
		{AffiliatePostbacks(), "3.0.stats.affiliatepostbacks@get.json", "postbacks",
			`SELECT id, date::VARCHAR, http_code FROM affiliate_postbacks`,
			"5a1d248f1bfa2441008b4567|2017-11-28 08:55:43.662|200"},
		{stats, "3.0.stats.custom@get.json", "stats",
			`SELECT day::VARCHAR, offer_id, partner_id, country, clicks_raw, total_charge::VARCHAR, hold_count FROM stats_daily`,
			"2017-03-01|0|0||1607530|1352.5200|0"},
		{Offers(), "3.0.offers@get.json", "offers", `SELECT id, currency, created_at::VARCHAR FROM offers`, "331|usd|2018-11-05 10:08:19"},
		{Partners(), "3.0.admin.partners@get.json", "partners",
			`SELECT count(*), count(manager_id), bool_or(contains(raw, 'api_key')) FROM partners`, "2|1|false"},
		{Advertisers(), "3.0.admin.advertisers@get.json", "advertisers", `SELECT id, created_at FROM advertisers`, "505998ea5caf25a003000000|"},
	} {
		rec := build(t, l.m, berlin, fixtureList(t, l.file, l.list)...)
		if _, err := conn.ExecContext(ctx, l.m.DDL()); err != nil {
			t.Fatalf("%s DDL: %v\n%s", l.m.Table(), err, l.m.DDL())
		}
		// The view must stay registered until the INSERT has run.
		var release func()
		var rr array.RecordReader
		err := conn.Raw(func(dc any) error {
			ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
			if err != nil {
				return err
			}
			if rr, err = array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec}); err != nil {
				return err
			}
			release, err = ar.RegisterView(rr, "staging")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		q := "INSERT INTO " + quoteIdent(l.m.Table()) + " SELECT " + SelectList(l.m) + " FROM staging"
		_, err = conn.ExecContext(ctx, q)
		release()
		rr.Release()
		if err != nil {
			t.Fatalf("%s: %v\n%s", l.m.Table(), err, q)
		}
		rows, err := conn.QueryContext(ctx, l.query)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		var got []string
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			s := make([]string, len(cols))
			for i, v := range vals {
				s[i] = v.String
			}
			got = append(got, strings.Join(s, "|"))
		}
		rows.Close()
		t.Logf("%s: %v", l.m.Table(), got)
		if l.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], l.want)) {
			t.Errorf("%s: got %v, want %q", l.m.Table(), got, l.want)
		}
		var n int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(l.m.Table())).Scan(&n); err != nil || n != rec.NumRows() {
			t.Errorf("%s: %d rows loaded, want %d (%v)", l.m.Table(), n, rec.NumRows(), err)
		}
		var synced string
		if err := conn.QueryRowContext(ctx, "SELECT max(_synced_at)::VARCHAR FROM "+quoteIdent(l.m.Table())).Scan(&synced); err != nil || synced != "2026-11-25 12:00:00" {
			t.Errorf("%s: _synced_at %q (%v)", l.m.Table(), synced, err)
		}
	}
}
