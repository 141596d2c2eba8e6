package sinktest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// NetworksAreApart: two networks' views of one warehouse hold the same ids
// as different rows, and neither's loads, replaces, cursors, runs, changed
// hours, first day, currencies or money reach the other's; a row of the
// wrong network fails the Tx; everything reads back after a reopen.
func networksAreApart(e *env) {
	s, dir := e.open("")
	view := func(s *sink, network string) *sink {
		e.t.Helper()
		v := e.h.ForNetwork(s.Sink, network)
		if v == nil || v.Network() != network {
			e.t.Fatalf("ForNetwork(%q) returned %v", network, v)
		}
		// The suite closes s only; the view shares its storage.
		return &sink{Sink: v}
	}
	if got := s.Network(); got != models.DefaultNetwork {
		e.t.Fatalf("an opened sink's Network() = %q, want %q", got, models.DefaultNetwork)
	}
	alpha, beta := view(s, "alpha"), view(s, "beta")
	conv, offers, st := model(e.t, "conversions"), model(e.t, "offers"), statsDaily(e.t)
	in := func(id, status, cur string) string {
		return strings.Replace(conversion(id, status, "2025-01-01 09:00:00", "2025-01-01 10:00:00"), `"currency":"USD"`, `"currency":"`+cur+`"`, 1)
	}
	loadAs := func(v *sink, network string, tg load.Target, cur *checkpoints.Cursor, objs ...string) (load.Committed, error) {
		e.t.Helper()
		tx := e.begin(v, tg)
		rec := buildFor(e.t, e.mem, tg.Model, network, objs...)
		err := tx.Write(e.ctx, rec)
		rec.Release()
		if err != nil {
			_ = tx.Rollback()
			return load.Committed{}, err
		}
		return tx.Commit(e.ctx, cur)
	}
	mustLoad := func(v *sink, tg load.Target, cur *checkpoints.Cursor, objs ...string) load.Committed {
		e.t.Helper()
		n, err := loadAs(v, v.Network(), tg, cur, objs...)
		if err != nil {
			e.t.Fatalf("load %s into %s: %v", tg.Model.Table(), v.Network(), err)
		}
		return n
	}

	// One id in both networks: two rows, each inserted.
	changes := load.Target{Model: conv, Mode: models.Upsert, Changes: "conversions"}
	if n := mustLoad(alpha, changes, cursorAt(e.t, "conversions", "2025-01-02T00:00:00Z"), in("c1", "pending", "USD")); n.Inserted != 1 {
		e.t.Errorf("alpha's first c1: %+v, want 1 inserted", n)
	}
	if n := mustLoad(beta, upsert(conv), cursorAt(e.t, "conversions", "2025-01-05T00:00:00Z"), in("c1", "confirmed", "EUR"), in("c2", "pending", "EUR")); n.Inserted != 2 {
		e.t.Errorf("beta's c1 and c2: %+v, want 2 inserted, whatever alpha holds", n)
	}
	if n := mustLoad(alpha, upsert(conv), nil, in("c1", "declined", "USD")); n.Updated != 1 {
		e.t.Errorf("alpha's c1 again: %+v, want 1 updated", n)
	}
	wantConv := []string{"alpha|c1|declined|USD", "beta|c1|confirmed|EUR", "beta|c2|pending|EUR"}
	e.expect("conversions of both networks", e.rows(s, conv, models.NetworkColumn, "id", "status", "currency"), wantConv)

	// A row of another network fails the Tx, and nothing of it lands.
	if _, err := loadAs(alpha, "beta", upsert(conv), cursorAt(e.t, "conversions", "2025-03-01T00:00:00Z"), in("c9", "pending", "USD")); err == nil {
		e.t.Error("alpha's Tx took a row of network beta")
	}
	e.expect("after a row of the wrong network", e.rows(s, conv, models.NetworkColumn, "id", "status", "currency"), wantConv)

	// Replacing one network's table or days leaves the other's.
	mustLoad(alpha, wholeTable(offers), nil, offer(1, "alpha one"), offer(2, "alpha two"))
	mustLoad(beta, wholeTable(offers), nil, offer(1, "beta one"))
	mustLoad(alpha, wholeTable(offers), nil, offer(3, "alpha three"))
	e.expect("offers after alpha's second snapshot", e.rows(s, offers, models.NetworkColumn, "id", "title"),
		[]string{"alpha|3|alpha three", "beta|1|beta one"})
	mustLoad(alpha, days(e.t, st, "2025-01-01", "2025-01-02"), nil, stat(e.t, "2025-01-01", 71, 10))
	mustLoad(beta, days(e.t, st, "2025-01-01", "2025-01-02"), nil, stat(e.t, "2025-01-01", 71, 20))
	mustLoad(alpha, days(e.t, st, "2025-01-01", "2025-01-02"), nil)
	e.expect("stats_daily after alpha emptied its day", e.rows(s, st, models.NetworkColumn, "day", "offer_id", "clicks_raw"),
		[]string{"beta|2025-01-01|71|20"})

	// Cursors, runs, changed hours, first day, currencies, money: each its own.
	check := func(v *sink, label string) {
		e.t.Helper()
		var curs []string
		for _, c := range e.cursors(v) {
			curs = append(curs, c.Stream+"@"+c.Position.UTC().Format(time.RFC3339))
		}
		var hours []string
		hs, err := v.ChangedHours(e.ctx, "conversions")
		if err != nil {
			e.t.Fatalf("%s ChangedHours: %v", label, err)
		}
		for _, h := range hs {
			hours = append(hours, h.UTC().Format(time.RFC3339))
		}
		cs, err := v.Currencies(e.ctx)
		if err != nil {
			e.t.Fatalf("%s Currencies: %v", label, err)
		}
		first, found, err := v.FirstDay(e.ctx, conv)
		if err != nil {
			e.t.Fatalf("%s FirstDay: %v", label, err)
		}
		money, _, err := v.DailyMoney(e.ctx, e.dayOf("2025-01-01"), e.dayOf("2025-01-02"))
		if err != nil {
			e.t.Fatalf("%s DailyMoney: %v", label, err)
		}
		var conversions int64
		for _, m := range money {
			conversions += m.Conversions
		}
		runs, err := v.LastRuns(e.ctx)
		if err != nil {
			e.t.Fatalf("%s LastRuns: %v", label, err)
		}
		var runNames []string
		for _, r := range runs {
			runNames = append(runNames, r.Network+"/"+r.Stream)
		}
		got := []string{
			"cursors " + strings.Join(curs, ","),
			"hours " + strings.Join(hours, ","),
			"currencies " + strings.Join(cs, ","),
			fmt.Sprintf("first %v %s", found, first.Format(time.DateOnly)),
			fmt.Sprintf("conversions %d", conversions),
			"runs " + strings.Join(sorted(runNames), ","),
		}
		var want []string
		switch v.Network() {
		case "alpha":
			want = []string{"cursors conversions@2025-01-02T00:00:00Z", "hours 2025-01-01T09:00:00Z", "currencies USD",
				"first true 2025-01-01", "conversions 1", "runs alpha/conversions"}
		case "beta":
			want = []string{"cursors conversions@2025-01-05T00:00:00Z", "hours ", "currencies EUR",
				"first true 2025-01-01", "conversions 2", "runs beta/offers"}
		default:
			want = []string{"cursors ", "hours ", "currencies ", "first false 0001-01-01", "conversions 0", "runs "}
		}
		e.expect(label, got, want)
	}
	h := at(e.t, "2025-02-03T01:00:00Z")
	if err := alpha.RecordRun(e.ctx, load.Run{Network: "beta", Stream: "conversions", Kind: "sync", StartedAt: h, FinishedAt: h.Add(time.Minute)}); err != nil {
		e.t.Fatalf("RecordRun: %v", err)
	}
	if err := beta.RecordRun(e.ctx, load.Run{Stream: "offers", Kind: "sync", StartedAt: h, FinishedAt: h.Add(time.Minute)}); err != nil {
		e.t.Fatalf("RecordRun: %v", err)
	}
	check(alpha, "alpha")
	check(beta, "beta")
	check(s, "default")

	// Moving one network's cursor by hand leaves the other's.
	if err := alpha.DeleteCursor(e.ctx, "conversions"); err != nil {
		e.t.Fatalf("DeleteCursor: %v", err)
	}
	if err := alpha.SetCursor(e.ctx, checkpoints.Cursor{Stream: "conversions", Position: at(e.t, "2025-01-02T00:00:00Z")}); err != nil {
		e.t.Fatalf("SetCursor: %v", err)
	}
	if c, ok, err := beta.Cursor(e.ctx, "conversions"); err != nil || !ok || !c.Position.Equal(at(e.t, "2025-01-05T00:00:00Z")) {
		e.t.Errorf("beta's cursor after alpha's was moved by hand: %v %v %v", c.Position, ok, err)
	}

	e.close(s)
	s2, _ := e.open(dir)
	e.expect("conversions after a reopen", e.rows(s2, conv, models.NetworkColumn, "id", "status", "currency"), wantConv)
	check(view(s2, "alpha"), "alpha after a reopen")
	check(view(s2, "beta"), "beta after a reopen")
	check(s2, "default after a reopen")
}

// networksLoadAtOnce: two networks' first loads of tables not created yet,
// upserts and snapshots, from goroutines at once (as `syncd sync` runs
// them): a sink may make one wait for the other's end (DuckDB creates a
// table in the Tx, and two creating it would conflict), and all land.
func networksLoadAtOnce(e *env) {
	s, _ := e.open("")
	alpha, beta := &sink{Sink: e.h.ForNetwork(s.Sink, "alpha")}, &sink{Sink: e.h.ForNetwork(s.Sink, "beta")}
	conv, offers := model(e.t, "conversions"), model(e.t, "offers")
	errs := make(chan error, 6)
	for _, v := range []*sink{alpha, beta} {
		for _, id := range []string{"c1", "c2"} {
			rec := buildFor(e.t, e.mem, conv, v.Network(), conversion(id, v.Network(), "2025-01-01 09:00:00", "2025-01-01 10:00:00"))
			go func() {
				errs <- loadOne(e.ctx, v, upsert(conv), rec, cursorAt(e.t, "conversions", "2025-01-02T00:00:00Z"))
			}()
		}
		rec := buildFor(e.t, e.mem, offers, v.Network(), offer(1, v.Network()))
		go func() { errs <- loadOne(e.ctx, v, wholeTable(offers), rec, nil) }()
	}
	for range 6 {
		if err := <-errs; err != nil {
			e.t.Errorf("two networks loading new tables at once: %v", err)
		}
	}
	e.expect("conversions", e.rows(s, conv, models.NetworkColumn, "id", "status"),
		[]string{"alpha|c1|alpha", "alpha|c2|alpha", "beta|c1|beta", "beta|c2|beta"})
	e.expect("offers", e.rows(s, offers, models.NetworkColumn, "id", "title"), []string{"alpha|1|alpha", "beta|1|beta"})
}

// networksReplaceOneTableAtOnce: Txs of two networks replacing their part
// of one table (ReplaceTable, ReplaceDays) are independent, as Txs on
// different tables are: open at once, their writes interleaved, each
// commits or rolls back its own rows and cursor, so one network's long
// stats_daily pass never holds up another's.
func networksReplaceOneTableAtOnce(e *env) {
	s, _ := e.open("")
	alpha, beta := &sink{Sink: e.h.ForNetwork(s.Sink, "alpha")}, &sink{Sink: e.h.ForNetwork(s.Sink, "beta")}
	offers, st := model(e.t, "offers"), statsDaily(e.t)
	targets := []load.Target{wholeTable(offers), days(e.t, st, "2025-01-01", "2025-01-02")}
	objs := func(v *sink, i int) []string {
		if i == 0 {
			return []string{offer(1, v.Network())}
		}
		return []string{stat(e.t, "2025-01-01", 71, len(v.Network()))}
	}
	// Each table exists: alpha loaded it once.
	for i, tg := range targets {
		if err := loadOne(e.ctx, alpha, tg, buildFor(e.t, e.mem, tg.Model, "alpha", objs(alpha, i)...), nil); err != nil {
			e.t.Fatalf("alpha's first %s: %v", tg.Model.Table(), err)
		}
	}
	// Every Tx of both networks open at once, from one goroutine: a Begin
	// waiting for the other network's Tx would never return, so each gets
	// a deadline and fails the case instead.
	begin := func(v *sink, tg load.Target) load.Tx {
		e.t.Helper()
		ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
		defer cancel()
		tx, err := v.Begin(ctx, tg)
		if err != nil {
			e.t.Fatalf("Begin %s of network %s while the other network's Tx on it is open: %v", tg.Model.Table(), v.Network(), err)
		}
		e.t.Cleanup(func() { _ = tx.Rollback() })
		return tx
	}
	txs := map[string][]load.Tx{}
	for i, tg := range targets {
		for _, v := range []*sink{alpha, beta} {
			txs[v.Network()] = append(txs[v.Network()], begin(v, tg))
			rec := buildFor(e.t, e.mem, tg.Model, v.Network(), objs(v, i)...)
			err := txs[v.Network()][i].Write(e.ctx, rec)
			rec.Release()
			if err != nil {
				e.t.Fatalf("Write %s of network %s: %v", tg.Model.Table(), v.Network(), err)
			}
		}
	}
	// alpha rolls back its offers, beta commits its own; then the days,
	// beta's first.
	if err := txs["alpha"][0].Rollback(); err != nil {
		e.t.Fatalf("Rollback: %v", err)
	}
	e.commit(txs["beta"][0], cursorAt(e.t, "offers", "2025-01-04T00:00:00Z"))
	e.commit(txs["beta"][1], cursorAt(e.t, "stats_daily", "2025-01-05T00:00:00Z"))
	e.commit(txs["alpha"][1], cursorAt(e.t, "stats_daily", "2025-01-03T00:00:00Z"))

	e.expect("offers after alpha's rollback", e.rows(s, offers, models.NetworkColumn, "id", "title"), []string{"alpha|1|alpha", "beta|1|beta"})
	e.expect("stats_daily", e.rows(s, st, models.NetworkColumn, "day", "offer_id", "clicks_raw"), []string{"alpha|2025-01-01|71|5", "beta|2025-01-01|71|4"})
	e.noCursor(alpha, "offers")
	e.wantCursor(beta, "offers", at(e.t, "2025-01-04T00:00:00Z"), "")
	e.wantCursor(alpha, "stats_daily", at(e.t, "2025-01-03T00:00:00Z"), "")
	e.wantCursor(beta, "stats_daily", at(e.t, "2025-01-05T00:00:00Z"), "")
}
