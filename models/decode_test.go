package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestTypeDriftConversions(t *testing.T) {
	m := Conversions()
	cases := []struct {
		name, obj string
		check     func(t *testing.T, r *recView)
	}{
		{"revenue int", `{"id":"a","revenue":4}`, func(t *testing.T, r *recView) { eq(t, "revenue", r.dec("revenue"), "4.0000") }},
		{"revenue string", `{"id":"a","revenue":"4"}`, func(t *testing.T, r *recView) { eq(t, "revenue", r.dec("revenue"), "4.0000") }},
		{"revenue float", `{"id":"a","revenue":4.5}`, func(t *testing.T, r *recView) { eq(t, "revenue", r.dec("revenue"), "4.5000") }},
		{"revenue float string", `{"id":"a","revenue":" 4.5 "}`, func(t *testing.T, r *recView) { eq(t, "revenue", r.dec("revenue"), "4.5000") }},
		{"revenue exponent", `{"id":"a","revenue":1.5E2}`, func(t *testing.T, r *recView) { eq(t, "revenue", r.dec("revenue"), "150.0000") }},
		{"revenue rounds half away", `{"id":"a","revenue":191190.40796039,"payouts":-0.00005,"earnings":0.00004}`, func(t *testing.T, r *recView) {
			eq(t, "revenue", r.dec("revenue"), "191190.4080")
			eq(t, "payouts", r.dec("payouts"), "-0.0001")
			eq(t, "earnings", r.dec("earnings"), "0.0000")
		}},
		{"revenue null and empty", `{"id":"a","revenue":null,"payouts":"","earnings":false}`, func(t *testing.T, r *recView) {
			eq(t, "revenue", r.dec("revenue"), "NULL")
			eq(t, "payouts", r.dec("payouts"), "NULL")
			eq(t, "earnings", r.dec("earnings"), "NULL")
		}},
		{"exact beyond float64", `{"id":"a","revenue":12345678901234.5678}`, func(t *testing.T, r *recView) {
			eq(t, "revenue", r.dec("revenue"), "12345678901234.5678")
		}},
		{"offer null, no offer_id", `{"id":"a","offer":null}`, func(t *testing.T, r *recView) { eq(t, "offer_id null", r.isNull("offer_id"), true) }},
		{"offer null, offer_id string", `{"id":"a","offer":null,"offer_id":"71"}`, func(t *testing.T, r *recView) { eq(t, "offer_id", r.i64("offer_id"), 71) }},
		{"offer_id from offer.id", `{"id":"a","offer":{"id":"72","external_id":false}}`, func(t *testing.T, r *recView) { eq(t, "offer_id", r.i64("offer_id"), 72) }},
		{"offer_id integral float", `{"id":"a","offer_id":71.0}`, func(t *testing.T, r *recView) { eq(t, "offer_id", r.i64("offer_id"), 71) }},
		{"offer as []", `{"id":"a","offer":[],"partner":[]}`, func(t *testing.T, r *recView) { eq(t, "offer_id null", r.isNull("offer_id"), true) }},
		{"external_id false", `{"id":"a","offer":{"id":1,"external_id":false},"external_id":"x"}`, func(t *testing.T, r *recView) {
			eq(t, "offer_id", r.i64("offer_id"), 1)
			eq(t, "offer", r.str("offer"), `{"id":1,"external_id":false}`)
			if !strings.Contains(r.str("raw"), `"external_id":"x"`) {
				t.Error("raw lost external_id")
			}
		}},
		{"advertiser from supplier_id", `{"id":"a","advertiser":null,"supplier_id":"s1"}`, func(t *testing.T, r *recView) { eq(t, "advertiser_id", r.str("advertiser_id"), "s1") }},
		{"missing updated_at", `{"id":"a","created_at":"2020-01-02 03:04:05"}`, func(t *testing.T, r *recView) {
			eq(t, "updated_at", r.ts("updated_at"), "NULL")
			eq(t, "created_at", r.ts("created_at"), "2020-01-02 03:04:05")
		}},
		{"zero dates", `{"id":"a","created_at":"0000-00-00 00:00:00","click_time":"","updated_at":null}`, func(t *testing.T, r *recView) {
			eq(t, "created_at", r.ts("created_at"), "NULL")
			eq(t, "click_time", r.ts("click_time"), "NULL")
			eq(t, "updated_at", r.ts("updated_at"), "NULL")
		}},
		{"time variants", `{"id":"a","created_at":"2020-01-02T03:04:05","click_time":"2020-01-02 03:04:05.25Z","updated_at":"2020-01-02 03:04:05+02:00"}`, func(t *testing.T, r *recView) {
			eq(t, "created_at", r.ts("created_at"), "2020-01-02 03:04:05")
			eq(t, "click_time", r.ts("click_time"), "2020-01-02 03:04:05.25")
			eq(t, "updated_at", r.ts("updated_at"), "2020-01-02 01:04:05")
		}},
		{"loose columns: drift stays in raw", `{"id":"a","city_id":"x","sum":[1],"ua":{"a":1},"offer":{ "id" : 1 },"partner":null}`, func(t *testing.T, r *recView) {
			eq(t, "city_id null", r.isNull("city_id"), true)
			eq(t, "sum null", r.isNull("sum"), true)
			eq(t, "ua null", r.isNull("ua"), true)
			eq(t, "partner null", r.isNull("partner"), true)
			eq(t, "offer", r.str("offer"), `{"id":1}`)
			eq(t, "raw", r.str("raw"), `{"city_id":"x","sum":[1],"ua":{"a":1},"partner":null}`)
		}},
		{"numeric id, goal null, number as text", `{"id":123,"goal":null,"sub1":42,"city":"K\u00f6ln"}`, func(t *testing.T, r *recView) {
			eq(t, "id", r.str("id"), "123")
			eq(t, "goal null", r.isNull("goal"), true)
			eq(t, "sub1", r.str("sub1"), "42")
			eq(t, "city", r.str("city"), "Köln")
		}},
		{"new fields kept in raw", `{"id":"a","fraud_risk_level":"low","fraud_type":["x"],"decline_reason":null,"brand_new":{"deep":[1,2.50,"s"]}}`, func(t *testing.T, r *recView) {
			eq(t, "raw", r.str("raw"), `{"decline_reason":null,"brand_new":{"deep":[1,2.50,"s"]}}`)
			eq(t, "fraud_type", r.str("fraud_type"), `["x"]`)
			eq(t, "whole", whole(t, m, r.rec, 0), canon(t, `{"id":"a","fraud_risk_level":"low","fraud_type":["x"],"decline_reason":null,"brand_new":{"deep":[1,2.50,"s"]}}`))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, &recView{t: t, rec: buildOne(t, m, c.obj)})
		})
	}
}

func TestTypeDriftClicks(t *testing.T) {
	for obj, want := range map[string]string{
		`{"id":"a","has_conversions":true}`:  "true",
		`{"id":"a","has_conversions":1}`:     "true",
		`{"id":"a","has_conversions":"0"}`:   "false",
		`{"id":"a","has_conversions":null}`:  "(null)",
		`{"id":"a","has_conversions":false}`: "false",
	} {
		rec := buildOne(t, Clicks(), obj)
		eq(t, obj, col(t, rec, "has_conversions").ValueStr(0), want)
	}
}

type recView struct {
	t   *testing.T
	rec arrow.RecordBatch
}

func (r *recView) dec(name string) string { return dec(r.t, r.rec, name, 0) }
func (r *recView) ts(name string) string  { return ts(r.t, r.rec, name, 0) }
func (r *recView) str(name string) string {
	s, _ := str(r.t, r.rec, name, 0)
	return s
}
func (r *recView) i64(name string) int64 {
	n, ok := i64(r.t, r.rec, name, 0)
	if !ok {
		r.t.Errorf("%s is NULL", name)
	}
	return n
}
func (r *recView) isNull(name string) bool { return col(r.t, r.rec, name).IsNull(0) }

func TestRawCredentials(t *testing.T) {
	obj := `{
	  "id": 7, "api_key": "SECRET1", "hash_password": "SECRET2", "password": "SECRET3",
	  "Token": "SECRET4", "secret": "SECRET5", "postback_password": "SECRET6",
	  "partner_key": "SECRET7", "refresh_token": "SECRET8", "client_secret": "SECRET9",
	  "apiKey": "SECRET10", "api-key": "SECRET11", "api\u005fkey": "SECRET12",
	  "manager": {"id": "m1", "api_key": "SECRET13", "nested": [{"token": "SECRET14", "keep": 1}]},
	  "monkey": "kept", "keys": ["kept"], "key": "kept", "token_count": 3,
	  "unknown_new_field": {"a": [true, null, -1.5e3]}
	}`
	rec := buildOne(t, Partners(), obj)
	raw, _ := str(t, rec, "raw", 0)
	if strings.Contains(raw, "SECRET") {
		t.Fatalf("raw keeps a credential: %s", raw)
	}
	want := `{"id":7,"manager":{"id":"m1","nested":[{"keep":1}]},"monkey":"kept","keys":["kept"],"key":"kept","token_count":3,"unknown_new_field":{"a":[true,null,-1.5e3]}}`
	eq(t, "whole", whole(t, Partners(), rec, 0), canon(t, want))
	s, _ := str(t, rec, "manager_id", 0)
	eq(t, "manager_id", s, "m1")
	if !json.Valid([]byte(raw)) {
		t.Error("raw is not valid JSON")
	}
}

func TestRawRepairsUTF8(t *testing.T) {
	obj := []byte("{\"id\":\"a\",\"city\":\"bad \xff byte\"}")
	rec := build(t, Conversions(), time.UTC, obj)
	eq(t, "whole", whole(t, Conversions(), rec, 0), canon(t, "{\"id\":\"a\",\"city\":\"bad \ufffd byte\"}"))
	city, _ := str(t, rec, "city", 0)
	eq(t, "city", city, "bad \ufffd byte")
}

func TestErrors(t *testing.T) {
	cases := []struct {
		m    Model
		obj  string
		want []string
	}{
		{Conversions(), `{"id":{"x":"api_key-value"}}`, []string{"conversions", `"id"`, "object"}},
		{Conversions(), `{"revenue":1}`, []string{"conversions", `"id"`, "missing"}},
		{Conversions(), `{"id":""}`, []string{`"id"`}},
		{Conversions(), `{"id":"a","revenue":"abc"}`, []string{"conversions", `"revenue"`, "abc"}},
		{Conversions(), `{"id":"a","revenue":true}`, []string{`"revenue"`}},
		{Conversions(), `{"id":"a","revenue":1e30}`, []string{`"revenue"`, "DECIMAL(18,4)"}},
		{Conversions(), `{"id":"a","offer_id":"seventy"}`, []string{`"offer_id"`, "seventy"}},
		{Conversions(), `{"id":"a","offer_id":99999999999999999999}`, []string{`"offer_id"`, "range"}},
		{Conversions(), `{"id":"a","offer_id":7.5}`, []string{`"offer_id"`, "integer"}},
		{Conversions(), `{"id":"a","offer":{"id":[1]}}`, []string{`"offer_id"`, "array"}},
		{Conversions(), `{"id":"a","created_at":"yesterday"}`, []string{`"created_at"`, "YYYY-MM-DD"}},
		{Conversions(), `{"id":"a","created_at":"2020-02-30 00:00:00"}`, []string{`"created_at"`}},
		{Conversions(), `{"id":"a","created_at":1604931321}`, []string{`"created_at"`}},
		{Conversions(), `{"id":"a","status":["confirmed"]}`, []string{`"status"`, "array"}},
		{Conversions(), `["id"]`, []string{"conversions", "not a JSON object"}},
		{Conversions(), `"id"`, []string{"conversions", "not a JSON object"}},
		{Conversions(), `null`, []string{"conversions", "not a JSON object"}},
		{Conversions(), ``, []string{"conversions", "not a JSON object"}},
		{Conversions(), `{"id":"a",}`, []string{"conversions", "invalid JSON"}},
		{Conversions(), `{"id":"a"} {}`, []string{"conversions", "trailing"}},
		{Conversions(), `{"id":"a","x":tru}`, []string{"invalid JSON"}},
		{Conversions(), `{"id":"a","x":01}`, []string{"invalid JSON"}},
		{Conversions(), "{\"id\":\"a\nb\"}", []string{"invalid JSON"}},
		{Clicks(), `{"id":"a","has_conversions":"maybe"}`, []string{"clicks", `"has_conversions"`}},
		{ServerPostbacks(), `{"_id":{"$oid":"x"}}`, []string{"server_postbacks", `"_id.$id"`}},
		{ServerPostbacks(), `{"_id":{"$id":"x"},"date":{"sec":"soon"}}`, []string{`"date.sec"`}},
		{ServerPostbacks(), `{"_id":{"$id":"x"},"track":{"partner":{"id":"p-610"}}}`, []string{`"track.partner.id"`}},
		{AffiliatePostbacks(), `{"_id":{"$id":"x"},"http_code":3000000000}`, []string{"affiliate_postbacks", `"http_code"`, "INTEGER"}},
		{Offers(), `{"id":"abc"}`, []string{"offers", `"id"`}},
		{Partners(), `{"id":null}`, []string{"partners", `"id"`}},
		{Advertisers(), `{"id":"a","created_at":{}}`, []string{"advertisers", `"created_at"`}},
	}
	for _, c := range cases {
		err := appendErr(c.m, c.obj)
		wantErr(t, err, c.want...)
		if err != nil && strings.Contains(err.Error(), "api_key-value") {
			t.Errorf("error quotes an object's content: %v", err)
		}
	}
	var fe *FieldError
	if err := appendErr(Conversions(), `{"id":"a","revenue":"x"}`); !errors.As(err, &fe) || fe.Field != "revenue" || fe.Stream != "conversions" {
		t.Errorf("want a *FieldError for revenue, got %#v", err)
	}
}

// A failed Append leaves no partial row behind.
func TestAppendErrorKeepsBuilderConsistent(t *testing.T) {
	b := Conversions().NewBuilder(memory.DefaultAllocator, DefaultNetwork, time.UTC, syncedAt)
	defer b.Release()
	if err := b.Append(json.RawMessage(`{"id":"a","status":"ok","revenue":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(json.RawMessage(`{"id":"b","status":"set before the error","revenue":"bad"}`)); err == nil {
		t.Fatal("want an error")
	}
	if err := b.Append(json.RawMessage(`{"id":"c"}`)); err != nil {
		t.Fatal(err)
	}
	eq(t, "Len", b.Len(), 2)
	rec := b.NewRecord()
	defer rec.Release()
	for i := 0; i < int(rec.NumCols()); i++ {
		eq(t, rec.ColumnName(i)+" len", rec.Column(i).Len(), 2)
	}
	_, ok := str(t, rec, "status", 1)
	eq(t, "status of row c is NULL, not a leftover", ok, false)
	// The builder is reusable after NewRecord.
	if err := b.Append(json.RawMessage(`{"id":"d"}`)); err != nil {
		t.Fatal(err)
	}
	rec2 := b.NewRecord()
	defer rec2.Release()
	eq(t, "rows of second record", rec2.NumRows(), int64(1))
}

func TestParseDec4(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0.0000", "-0": "0.0000", "1": "1.0000", "1352.52": "1352.5200", "0.0285": "0.0285",
		"-4.5": "-4.5000", "1e-4": "0.0001", "1E+3": "1000.0000", "0.00005": "0.0001",
		"0.000049999": "0.0000", "-0.00005": "-0.0001", "99999999999999.99994": "99999999999999.9999",
		"1.": "1.0000", ".5": "0.5000", "+2": "2.0000", "1e-400": "0.0000", "0e400": "0.0000",
		"15.173841901617": "15.1738", "339894.05859619": "339894.0586",
	} {
		got, err := parseDec4([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		eq(t, in, formatDec4(got), want)
	}
	for _, in := range []string{"", "-", ".", "1..2", "abc", "1e", "1e+", "NaN", "Infinity", "0x10",
		"100000000000000", "99999999999999.99995", "1e400", "1,5"} {
		if got, err := parseDec4([]byte(in)); err == nil {
			t.Errorf("%q: want an error, got %s", in, formatDec4(got))
		}
	}
}

// Ties at the fifth decimal round away from zero whatever their nearest
// binary value; arrow's decimal128.FromString rounds each of these toward
// zero (see parseDec4).
func TestParseDec4Ties(t *testing.T) {
	for in, want := range map[string]string{
		"2.00005": "2.0001", "-2.00005": "-2.0001", "85.73115": "85.7312", "555.95045": "555.9505",
	} {
		got, err := parseDec4([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		eq(t, in, formatDec4(got), want)
	}
}

// Inputs arrow's decimal128.FromString accepts (1p3 as 8) or panics on
// (Inf) are refused with an error (see parseDec4).
func TestParseDec4Refuses(t *testing.T) {
	for _, in := range []string{"1p3", "Inf", "-inf", "+Inf", "1_0"} {
		if got, err := parseDec4([]byte(in)); err == nil {
			t.Errorf("%q: want an error, got %s", in, formatDec4(got))
		}
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "-7": -7, "9223372036854775807": 9223372036854775807,
		"-9223372036854775808": -9223372036854775808, "12.0": 12, "1e3": 1000, "+5": 5} {
		got, err := parseInt([]byte(in))
		if err != nil || got != want {
			t.Errorf("%s: got %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"9223372036854775808", "1.5", "x", "", "1e20"} {
		if _, err := parseInt([]byte(in)); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

func TestCredentialKeys(t *testing.T) {
	for _, k := range []string{"api_key", "API_KEY", "hash_password", "password", "token", "secret",
		"postback_password", "partner_api_key", "x_token", "aws_secret", "apiKey", "accessToken", "clientSecret", "Api-Key"} {
		if !isCredentialKey([]byte(k), false) {
			t.Errorf("%s should be dropped", k)
		}
	}
	for _, k := range []string{"id", "key", "keys", "monkey", "token_count", "secretary", "tokens", "offer_id", "hash", "keyword"} {
		if isCredentialKey([]byte(k), false) {
			t.Errorf("%s should be kept", k)
		}
	}
}

// FuzzScan checks the scanner against encoding/json: same validity, and for
// objects without credential keys, the copy == json.Compact(input); and a
// conversion built from the input comes back whole from raw and its folded
// columns.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":[1,{"b":null}],"c":"\u00e9\n"}`, `{"a":-0.5e-3}`,
		`[1]`, `{"a":}`, `{"a":"\x01"}`, `{"a" : { } , "b" : [ ] }`, `{"a":1}x`, `{"a":"\ud800"}`,
		`{"id":"a","revenue":1.5,"payouts":"2","earnings":1.50,"created_at":"2020-01-02 03:04:05","offer_id":7,"city":"x","ci\u0074y":"y","sub1":null}`,
		`{"id":7,"status":"s","status":"t","api_key":"k","updated_at":"2020-01-02T03:04:05","revenue":-0.0001,"offer":{"id":3}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := scanner{data: data, emit: true}
		err := sc.scanTop(nil)
		trimmed := bytes.TrimSpace(data)
		isObj := len(trimmed) > 0 && trimmed[0] == '{'
		valid := json.Valid(data)
		if (err == nil) != (valid && isObj) {
			t.Fatalf("scanner err=%v, json.Valid=%v, object=%v for %q", err, valid, isObj, data)
		}
		if err != nil {
			return
		}
		if !json.Valid(sc.out) {
			t.Fatalf("output not valid JSON: %q -> %q", data, sc.out)
		}
		// An object a table takes comes back whole from raw and its
		// folded columns (fold.go).
		m := Conversions()
		b := m.NewBuilder(memory.NewGoAllocator(), DefaultNetwork, time.UTC, syncedAt)
		if b.Append(data) == nil {
			rec := b.NewRecord()
			if got, want := whole(t, m, rec, 0), canon(t, string(sc.out)); got != want {
				t.Fatalf("rebuilt %s\nwant    %s", got, want)
			}
			rec.Release()
		}
		b.Release()
		if bytes.Contains(bytes.ToLower(data), []byte("key")) || bytes.Contains(bytes.ToLower(data), []byte("token")) ||
			bytes.Contains(bytes.ToLower(data), []byte("secret")) || bytes.Contains(bytes.ToLower(data), []byte("password")) ||
			bytes.Contains(data, []byte(`\`)) || !utf8Valid(data) {
			return
		}
		var want bytes.Buffer
		_ = json.Compact(&want, data)
		if !bytes.Equal(sc.out, want.Bytes()) {
			t.Fatalf("raw %q != compact %q", sc.out, want.Bytes())
		}
	})
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "") == string(b) }

// The builder remembers each member position's name from the objects
// before: objects that order their members otherwise, or name other ones
// there, still put each value in its own column.
func TestMemberOrderVaries(t *testing.T) {
	rec := build(t, Conversions(), time.UTC,
		json.RawMessage(`{"id":"a","status":"1","country":"DE","offer_id":1}`),
		json.RawMessage(`{"country":"FR","id":"b","offer_id":2,"status":"2"}`),
		json.RawMessage(`{"sub1":"x","id":"c","country":"IT"}`),
		json.RawMessage(`{"id":"d","status":"3","country":"ES","offer_id":4}`),
		json.RawMessage(`{"id":"e","st\u0061tus":"5","country":"PL"}`))
	for i, want := range [][3]string{{"a", "1", "DE"}, {"b", "2", "FR"}, {"c", "", "IT"}, {"d", "3", "ES"}, {"e", "5", "PL"}} {
		for j, name := range []string{"id", "status", "country"} {
			got, _ := str(t, rec, name, i)
			if got != want[j] {
				t.Errorf("row %d %s = %q, want %q", i, name, got, want[j])
			}
		}
	}
}

// Credential names are matched in any case and with '-' for '_', whole
// or as a suffix, and nothing else is.
func TestCredentialKeysFolded(t *testing.T) {
	for _, k := range []string{"APIKEY", "ApiKey", "PassWord", "TOKEN", "Secret", "x-token", "X_SECRET", "my-Password", "postback-password"} {
		if !isCredentialKey([]byte(k), false) {
			t.Errorf("%s should be dropped", k)
		}
	}
	for _, k := range []string{"apikeys", "passwords", "_token_", "xsecret", "tokenid", "secret_id", "password_set", "api-keyword"} {
		if isCredentialKey([]byte(k), false) {
			t.Errorf("%s should be kept", k)
		}
	}
}
