package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/syncd/syncd/internal/fixtures"
	"github.com/syncd/syncd/models"
)

// createTable for every stream's table (stats_daily in two configurations):
// one line per schema field in schema order, typed as documented, key
// columns NOT NULL, and no PRIMARY KEY.
func TestCreateTable(t *testing.T) {
	var ms []models.Model
	for _, s := range models.Registry() {
		m, err := s.Model([]string{"day", "offer"})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	for _, sl := range [][]string{
		{"country", "partner", "day", "offer"},
		{"day", "affiliate", "advertiser", "manager", "city", "os", "device", "goal", "browser", "sub1", "sub2", "sub3", "sub4", "sub5"},
	} {
		m, err := models.StatsDaily(sl)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	ddlTypes := map[arrow.Type]string{arrow.STRING: "VARCHAR", arrow.INT64: "BIGINT", arrow.INT32: "INTEGER",
		arrow.DECIMAL128: "DECIMAL(18,4)", arrow.TIMESTAMP: "TIMESTAMP", arrow.DATE32: "DATE", arrow.BOOL: "BOOLEAN"}
	for _, m := range ms {
		ddl, err := createTable(m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ddl, `CREATE TABLE IF NOT EXISTS "`+m.Table()+`" (`) {
			t.Errorf("%s: DDL starts %q", m.Table(), ddl)
		}
		if strings.Contains(strings.ToUpper(ddl), "PRIMARY KEY") {
			t.Errorf("%s: DDL has a PRIMARY KEY", m.Table())
		}
		lines := strings.Split(ddl, "\n")
		fields := m.Schema().Fields()
		if len(lines) != len(fields)+2 {
			t.Fatalf("%s: %d DDL lines for %d fields", m.Table(), len(lines), len(fields))
		}
		for i, f := range fields {
			want := `  "` + f.Name + `" ` + ddlTypes[f.Type.ID()]
			if !strings.HasPrefix(lines[i+1], want) {
				t.Errorf("%s: DDL line %q, want prefix %q", m.Table(), lines[i+1], want)
			}
		}
		for i, f := range fields {
			if notNull := strings.Contains(lines[i+1], " NOT NULL"); notNull != (!f.Nullable || slices.Contains(m.Key(), f.Name)) {
				t.Errorf("%s: DDL line %q for a field nullable=%v", m.Table(), lines[i+1], f.Nullable)
			}
		}
	}
}

// Every model's DDL runs in DuckDB and its records load through an Arrow
// view with selectList, giving plain UTC TIMESTAMPs even when the session
// time zone is not UTC, and exact decimals.
func TestEveryModelLoadsIntoDuckDB(t *testing.T) {
	ctx := context.Background()
	connector, err := duckdbdriver.NewConnector("", nil)
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

	stats, _ := models.StatsDaily([]string{"day", "offer", "partner", "country"})
	type load struct {
		m     models.Model
		file  string
		list  string
		query string
		want  string
	}
	for _, l := range []load{
		{models.Conversions(), "3.0.stats.conversions@get.json", "conversions",
			`SELECT id, offer_id, created_at::VARCHAR, payouts::VARCHAR, typeof(created_at), json_extract_string(raw, '$.offer.title') FROM conversions WHERE id = '5fa8e834134ed082008b4578'`,
			"5fa8e834134ed082008b4578|81|2020-11-09 08:56:52|0.0285|TIMESTAMP|"},
		{models.Clicks(), "3.0.stats.clicks@get.json", "clicks",
			`SELECT count(*), min(created_at)::VARCHAR, bool_or(has_conversions) FROM clicks`, ""},
		{models.ServerPostbacks(), "3.0.stats.serverpostbacks@get.json", "postbacks",
			`SELECT id, date::VARCHAR, offer_id, partner_id FROM server_postbacks`,
			"59359e1d7e28feb7568b4569|2017-06-05 18:08:29.035|934|610"},
		{models.AffiliatePostbacks(), "3.0.stats.affiliatepostbacks@get.json", "postbacks",
			`SELECT id, date::VARCHAR, http_code FROM affiliate_postbacks`,
			"5a1d248f1bfa2441008b4567|2017-11-28 08:55:43.662|200"},
		{stats, "3.0.stats.custom@get.json", "stats",
			`SELECT day::VARCHAR, offer_id, partner_id, country, clicks_raw, total_charge::VARCHAR, hold_count FROM stats_daily`,
			"2017-03-01|0|0||1607530|1352.5200|0"},
		{models.Offers(), "3.0.offers@get.json", "offers", `SELECT id, currency, created_at::VARCHAR FROM offers`, "331|usd|2018-11-05 10:08:19"},
		{models.Partners(), "3.0.admin.partners@get.json", "partners",
			`SELECT count(*), count(manager_id), bool_or(contains(raw, 'api_key')) FROM partners`, "2|1|false"},
		{models.Advertisers(), "3.0.admin.advertisers@get.json", "advertisers", `SELECT id, created_at FROM advertisers`, "505998ea5caf25a003000000|"},
	} {
		rec := buildFixture(t, l.m, berlin, fixtures.AffiseList(t, l.file, l.list)...)
		ddl, err := createTable(l.m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, ddl); err != nil {
			t.Fatalf("%s DDL: %v\n%s", l.m.Table(), err, ddl)
		}
		// The view must stay registered until the INSERT has run.
		var release func()
		var rr array.RecordReader
		err = conn.Raw(func(dc any) error {
			ar, err := duckdbdriver.NewArrowFromConn(dc.(driver.Conn))
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
		q := "INSERT INTO " + quoteIdent(l.m.Table()) + " SELECT " + selectList(l.m) + " FROM staging"
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

// selectList is the column list for INSERT INTO <table> SELECT <list> FROM
// <arrow view>: every column quoted, in schema order, with timestamp columns
// converted from the Arrow timestamp[us, tz=UTC] (TIMESTAMPTZ in DuckDB) to
// a plain UTC TIMESTAMP without depending on the session time zone.
func selectList(m models.Model) string {
	var b strings.Builder
	for i, f := range m.Schema().Fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		q := quoteIdent(f.Name)
		if ts, ok := f.Type.(*arrow.TimestampType); ok && ts.TimeZone != "" {
			b.WriteString("make_timestamp(epoch_us(" + q + ")) AS " + q)
			continue
		}
		b.WriteString(q)
	}
	return b.String()
}

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// buildFixture decodes objs with m into one record, synced at
// 2026-11-25 12:00 UTC.
func buildFixture(t testing.TB, m models.Model, loc *time.Location, objs ...json.RawMessage) arrow.RecordBatch {
	t.Helper()
	b := m.NewBuilder(memory.DefaultAllocator, models.DefaultNetwork, loc, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	defer b.Release()
	for i, o := range objs {
		if err := b.Append(o); err != nil {
			t.Fatalf("%s: element %d: %v", m.Table(), i, err)
		}
	}
	rec := b.NewRecord()
	t.Cleanup(rec.Release)
	return rec
}
