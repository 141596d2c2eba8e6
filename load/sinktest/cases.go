package sinktest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// cases is the suite. Each case states the part of the contract it holds
// a sink to; what it does not check, a sink may do as it likes.
func cases() []testCase {
	return []testCase{
		{"RoundTrip", roundTrip},
		{"DuplicateKeysInOneBatch", duplicateKeysInOneBatch},
		{"DuplicateKeysAcrossBatches", duplicateKeysAcrossBatches},
		{"DuplicateKeysAcrossTxs", duplicateKeysAcrossTxs},
		{"UpsertKeepsUntouchedRows", upsertKeepsUntouchedRows},
		{"ReplaceDays", replaceDays},
		{"ReplaceTable", replaceTable},
		{"CommitCounts", commitCounts},
		{"CursorCommitsWithData", cursorCommitsWithData},
		{"RollbackLeavesNothing", rollbackLeavesNothing},
		{"FailedWriteLeavesNothing", failedWriteLeavesNothing},
		{"FailedCommitLeavesNothing", failedCommitLeavesNothing},
		{"CrashBeforeCommit", crashBeforeCommit},
		{"ReopenReadsEverythingBack", reopenReadsEverythingBack},
		{"UpgradesPreviousRelease", upgradesPreviousRelease},
		{"CursorStore", cursorStore},
		{"BackfillBoundsReadBack", backfillBoundsReadBack},
		{"CommitRemovesCursor", commitRemovesCursor},
		{"DailyMoney", dailyMoney},
		{"LastRuns", lastRuns},
		{"FirstDay", firstDay},
		{"ChangedHours", changedHours},
		{"Currencies", currencies},
		{"TxIsSingleUse", txIsSingleUse},
		{"ConcurrentTxsOnDifferentTables", concurrentTxsOnDifferentTables},
		{"NetworksAreApart", networksAreApart},
		{"NetworksLoadAtOnce", networksLoadAtOnce},
		{"NetworksReplaceOneTableAtOnce", networksReplaceOneTableAtOnce},
	}
}

func upsert(m models.Model) load.Target { return load.Target{Model: m, Mode: models.Upsert} }

func wholeTable(m models.Model) load.Target { return load.Target{Model: m, Mode: models.ReplaceTable} }

func days(t *testing.T, m models.Model, from, to string) load.Target {
	t.Helper()
	return load.Target{Model: m, Mode: models.ReplaceDays, From: day(t, from), To: day(t, to)}
}

// day is a UTC midnight, as the pipeline passes ReplaceDays bounds.
func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatalf("sinktest: bad day %q", s)
	}
	return d
}

// at is a cursor position. The zone is not UTC on purpose: a sink stores
// the instant and hands it back in UTC.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	p, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("sinktest: bad time %q", s)
	}
	return p.In(time.FixedZone("UTC+3", 3*3600))
}

func cursorAt(t *testing.T, stream, pos string) *checkpoints.Cursor {
	t.Helper()
	return &checkpoints.Cursor{Stream: stream, Position: at(t, pos)}
}

// Every column a model has comes back as written: types, NULLs, decimals,
// UTC timestamps, dates, text beyond ASCII and the raw JSON.
func roundTrip(e *env) {
	check := func(e *env, tg load.Target, objs ...string) {
		s, _ := e.open("")
		rec := build(e.t, e.mem, tg.Model, objs...)
		want, err := canonicalRows([]arrow.RecordBatch{rec})
		if err != nil {
			rec.Release()
			e.t.Fatal(err)
		}
		tx := e.begin(s, tg)
		err = tx.Write(e.ctx, rec)
		rec.Release()
		if err != nil {
			e.t.Fatalf("Write: %v", err)
		}
		if n := e.commit(tx, nil).Rows(); n != int64(len(objs)) {
			e.t.Fatalf("Commit reported %d rows, wrote %d distinct keys", n, len(objs))
		}
		cols := make([]string, 0, tg.Model.Schema().NumFields())
		for _, f := range tg.Model.Schema().Fields() {
			cols = append(cols, f.Name)
		}
		var wantRows []string
		for _, r := range want {
			wantRows = append(wantRows, render(r, cols))
		}
		e.expect(tg.Model.Table()+" read back", e.rows(s, tg.Model, cols...), sorted(wantRows))
	}
	e.run("conversions", func(e *env) {
		check(e, upsert(model(e.t, "conversions")),
			conversion("5fa924c9134ed04c008b4576", "confirmed", "2025-01-01 14:15:21", "2025-01-02 08:00:00.123456"),
			conversion("5fa91b57134ed042008b457a", "declined", "2025-01-01 23:59:59", ""))
	})
	e.run("stats_daily", func(e *env) {
		check(e, days(e.t, statsDaily(e.t), "2025-01-01", "2025-01-03"),
			stat(e.t, "2025-01-01", 71, 1607530), stat(e.t, "2025-01-02", 71, 5), stat(e.t, "2025-01-02", 0, 0))
	})
	e.run("offers", func(e *env) {
		check(e, wholeTable(model(e.t, "offers")), offer(331, "blabla"), offer(332, `quotes " and \ backslash`))
	})
}

// Within one batch the row with the latest version (Model.Version) wins; of
// equal versions the last written; any version beats none. A model
// without a version column keeps the last written. One row per key.
func duplicateKeysInOneBatch(e *env) {
	e.run("by version", func(e *env) {
		s, _ := e.open("")
		conv := model(e.t, "conversions")
		n := e.load(s, upsert(conv), nil, []string{
			conversion("a", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00"),
			conversion("a", "confirmed", "2025-01-01 09:00:00", "2025-01-01 12:00:00"),
			conversion("a", "declined", "2025-01-01 09:00:00", "2025-01-01 11:00:00"), // written later, older
			conversion("b", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00"),
			conversion("b", "hold", "2025-01-01 09:00:00", "2025-01-01 10:00:00"), // same version, written later
			conversion("c", "confirmed", "2025-01-01 09:00:00", "2025-01-01 08:00:00"),
			conversion("c", "pending", "2025-01-01 09:00:00", ""), // no version, written later
		})
		if want := (load.Committed{Inserted: 3}); n != want {
			e.t.Errorf("Commit reported %+v, want %+v (one per key, all new)", n, want)
		}
		e.expect("conversions", e.rows(s, conv, "id", "status", conv.Version()), []string{
			"a|confirmed|2025-01-01T12:00:00Z",
			"b|hold|2025-01-01T10:00:00Z",
			"c|confirmed|2025-01-01T08:00:00Z",
		})
	})
	e.run("without version column", func(e *env) {
		s, _ := e.open("")
		offers := model(e.t, "offers")
		e.load(s, upsert(offers), nil, []string{offer(1, "first"), offer(2, "only"), offer(1, "second"), offer(1, "third")})
		e.expect("offers", e.rows(s, offers, "id", "title"), []string{"1|third", "2|only"})
	})
	e.run("composite key", func(e *env) {
		s, _ := e.open("")
		st := statsDaily(e.t)
		e.load(s, days(e.t, st, "2025-01-01", "2025-01-03"), nil, []string{
			stat(e.t, "2025-01-01", 71, 10), stat(e.t, "2025-01-01", 72, 20),
			stat(e.t, "2025-01-01", 71, 11), stat(e.t, "2025-01-02", 71, 30),
		})
		e.expect("stats_daily", e.rows(s, st, "day", "offer_id", "clicks_raw"), []string{
			"2025-01-01|71|11", "2025-01-01|72|20", "2025-01-02|71|30",
		})
	})
}

// The same rule holds across the Writes of one Tx as within one.
func duplicateKeysAcrossBatches(e *env) {
	s, _ := e.open("")
	conv := model(e.t, "conversions")
	n := e.load(s, upsert(conv), nil,
		[]string{
			conversion("a", "confirmed", "2025-01-01 09:00:00", "2025-01-01 12:00:00"),
			conversion("b", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00"),
		},
		[]string{
			conversion("a", "declined", "2025-01-01 09:00:00", "2025-01-01 11:00:00"),  // older: loses
			conversion("b", "confirmed", "2025-01-01 09:00:00", "2025-01-01 13:00:00"), // newer: wins
			conversion("c", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00"),
		},
		[]string{
			conversion("b", "hold", "2025-01-01 09:00:00", "2025-01-01 13:00:00"), // tie: last written wins
		},
	)
	if want := (load.Committed{Inserted: 3}); n != want {
		e.t.Errorf("Commit reported %+v, want %+v (one per key, all new)", n, want)
	}
	e.expect("conversions", e.rows(s, conv, "id", "status", conv.Version()), []string{
		"a|confirmed|2025-01-01T12:00:00Z",
		"b|hold|2025-01-01T13:00:00Z",
		"c|pending|2025-01-01T10:00:00Z",
	})
}

// Across Txs Upsert replaces the stored row by key (models.Upsert's
// contract): the later commit wins whatever its version, as it is the
// API's later answer; versions order only the copies of a key within one
// Tx. Never two rows for a key.
func duplicateKeysAcrossTxs(e *env) {
	s, _ := e.open("")
	conv := model(e.t, "conversions")
	e.load(s, upsert(conv), nil, []string{
		conversion("a", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00"),
		conversion("b", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00"),
	})
	e.load(s, upsert(conv), nil, []string{conversion("a", "confirmed", "2025-01-01 09:00:00", "2025-01-01 12:00:00")})
	e.expect("after a newer version", e.rows(s, conv, "id", "status", conv.Version()), []string{
		"a|confirmed|2025-01-01T12:00:00Z",
		"b|pending|2025-01-01T10:00:00Z",
	})
	e.load(s, upsert(conv), nil, []string{conversion("b", "declined", "2025-01-01 09:00:00", "2025-01-01 09:30:00")})
	e.expect("after an older version", e.rows(s, conv, "id", "status", conv.Version()), []string{
		"a|confirmed|2025-01-01T12:00:00Z",
		"b|declined|2025-01-01T09:30:00Z",
	})
	// The same reply loaded twice (a lookback re-read) changes nothing.
	before := e.all(s, conv)
	e.load(s, upsert(conv), nil, []string{conversion("b", "declined", "2025-01-01 09:00:00", "2025-01-01 09:30:00")})
	e.expect("after re-reading the same row", e.all(s, conv), before)
}

// Upsert touches only the keys it writes; an Upsert of nothing changes
// nothing.
func upsertKeepsUntouchedRows(e *env) {
	s, _ := e.open("")
	conv := model(e.t, "conversions")
	e.load(s, upsert(conv), nil, []string{
		conversion("a", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00"),
		conversion("b", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00"),
		conversion("c", "pending", "2025-01-02 09:00:00", "2025-01-02 10:00:00"),
	})
	before := e.all(s, conv)
	e.load(s, upsert(conv), nil, []string{
		conversion("b", "confirmed", "2025-01-01 09:00:00", "2025-01-03 10:00:00"),
		conversion("d", "pending", "2025-01-03 09:00:00", "2025-01-03 10:00:00"),
	})
	after := e.all(s, conv)
	e.expect("untouched a and c", []string{after[0], after[2]}, []string{before[0], before[2]})
	e.expect("conversions", e.rows(s, conv, "id", "status"), []string{"a|pending", "b|confirmed", "c|pending", "d|pending"})

	e.load(s, upsert(conv), nil)
	e.expect("after an empty upsert", e.all(s, conv), after)
}

// ReplaceDays deletes every row whose day is in [From, To) and inserts the
// Tx's rows: days outside stay as they were, a day with no new rows ends
// empty. A row outside the window would escape the next replace of its own
// day (and double its key), so it fails the Tx (at Write or Commit) and
// nothing changes.
func replaceDays(e *env) {
	e.run("date column", func(e *env) {
		s, _ := e.open("")
		st := statsDaily(e.t)
		var first []string
		for d := 1; d <= 5; d++ {
			first = append(first, stat(e.t, fmt.Sprintf("2025-01-0%d", d), 71, d), stat(e.t, fmt.Sprintf("2025-01-0%d", d), 72, d))
		}
		e.load(s, days(e.t, st, "2025-01-01", "2025-01-06"), nil, first)
		before := e.all(s, st)

		// Day 2 reloaded (its offer 72 gone, offer 73 new), day 3 has no rows.
		e.load(s, days(e.t, st, "2025-01-02", "2025-01-04"), nil,
			[]string{stat(e.t, "2025-01-02", 71, 100), stat(e.t, "2025-01-02", 73, 300)},
			[]string{stat(e.t, "2025-01-02", 71, 200)})
		e.expect("stats_daily after replacing days 2-3", e.rows(s, st, "day", "offer_id", "clicks_raw"), []string{
			"2025-01-01|71|1", "2025-01-01|72|1",
			"2025-01-02|71|200", "2025-01-02|73|300",
			"2025-01-04|71|4", "2025-01-04|72|4",
			"2025-01-05|71|5", "2025-01-05|72|5",
		})
		after := e.all(s, st)
		e.expect("days 1, 4 and 5 untouched", []string{after[0], after[1], after[4], after[5], after[6], after[7]},
			[]string{before[0], before[1], before[6], before[7], before[8], before[9]})

		// A replace of nothing empties its days.
		e.load(s, days(e.t, st, "2025-01-05", "2025-01-06"), cursorAt(e.t, "stats_daily", "2025-01-06T00:00:00Z"))
		e.expect("stats_daily after an empty replace of day 5", e.rows(s, st, "day", "offer_id"), []string{
			"2025-01-01|71", "2025-01-01|72", "2025-01-02|71", "2025-01-02|73", "2025-01-04|71", "2025-01-04|72",
		})
		e.wantCursor(s, "stats_daily", at(e.t, "2025-01-06T00:00:00Z"), "")

		// Day 4 written into a window of day 1.
		state := e.state(s, st)
		tx := e.begin(s, days(e.t, st, "2025-01-01", "2025-01-02"))
		err := e.write(tx, st, stat(e.t, "2025-01-01", 71, 7), stat(e.t, "2025-01-04", 71, 7))
		if err == nil {
			_, err = tx.Commit(e.ctx, cursorAt(e.t, "stats_daily", "2025-02-01T00:00:00Z"))
		}
		if err == nil {
			e.t.Fatal("a row outside [From, To) was committed")
		}
		_ = tx.Rollback()
		e.expect("state after a row outside the window", e.state(s, st), state)
	})
	e.run("timestamp column", func(e *env) {
		// A day is a UTC day of the timestamp: [00:00:00, 24:00:00).
		s, _ := e.open("")
		conv := model(e.t, "conversions")
		e.load(s, upsert(conv), nil, []string{
			conversion("d1-last", "pending", "2025-01-01 23:59:59.999999", ""),
			conversion("d2-first", "pending", "2025-01-02 00:00:00", ""),
			conversion("d2-last", "pending", "2025-01-02 23:59:59.999999", ""),
			conversion("d3-first", "pending", "2025-01-03 00:00:00", ""),
		})
		e.load(s, days(e.t, conv, "2025-01-02", "2025-01-03"), nil, []string{
			conversion("d2-new", "confirmed", "2025-01-02 12:00:00", ""),
		})
		e.expect("conversions", e.rows(s, conv, "id", "created_at"), []string{
			"d1-last|2025-01-01T23:59:59.999999Z",
			"d2-new|2025-01-02T12:00:00Z",
			"d3-first|2025-01-03T00:00:00Z",
		})
	})
}

// ReplaceTable swaps the whole table for the Tx's rows (de-duplicated by
// key); a snapshot of nothing leaves the table empty, as it does today.
func replaceTable(e *env) {
	s, _ := e.open("")
	offers := model(e.t, "offers")
	e.load(s, wholeTable(offers), nil, []string{offer(1, "a"), offer(2, "b"), offer(3, "c")})
	n := e.load(s, wholeTable(offers), nil, []string{offer(2, "b2"), offer(4, "d"), offer(4, "d2")})
	if want := (load.Committed{Inserted: 1, Updated: 1}); n != want {
		e.t.Errorf("Commit reported %+v, want %+v (4 new, 2 changed)", n, want)
	}
	e.expect("offers", e.rows(s, offers, "id", "title"), []string{"2|b2", "4|d2"})

	e.load(s, wholeTable(offers), cursorAt(e.t, "offers", "2025-01-02T03:04:05Z"))
	e.expect("offers after an empty snapshot", e.rows(s, offers, "id"), nil)
	e.wantCursor(s, "offers", at(e.t, "2025-01-02T03:04:05Z"), "")
}

// Rows and cursor become visible together at Commit, not before; a Commit
// without a cursor leaves the stored one; a Commit of no rows still moves
// the cursor (a window with nothing in it is done too); a cursor key need
// not be the table's (a backfill keeps its own, with its bounds in Meta).
func cursorCommitsWithData(e *env) {
	s, _ := e.open("")
	conv := model(e.t, "conversions")

	tx := e.begin(s, upsert(conv))
	e.mustWrite(tx, conv, conversion("a", "pending", "2025-01-01 09:00:00", ""))
	e.expect("rows before Commit", e.rows(s, conv, "id"), nil)
	e.noCursor(s, "conversions")
	e.commit(tx, cursorAt(e.t, "conversions", "2025-01-01T10:00:00Z"))
	e.expect("rows after Commit", e.rows(s, conv, "id"), []string{"a"})
	e.wantCursor(s, "conversions", at(e.t, "2025-01-01T10:00:00Z"), "")

	e.load(s, upsert(conv), nil, []string{conversion("b", "pending", "2025-01-01 09:00:00", "")})
	e.expect("rows after Commit(nil)", e.rows(s, conv, "id"), []string{"a", "b"})
	e.wantCursor(s, "conversions", at(e.t, "2025-01-01T10:00:00Z"), "")

	e.load(s, upsert(conv), cursorAt(e.t, "conversions", "2025-01-01T11:00:00Z"))
	e.expect("rows after an empty Commit", e.rows(s, conv, "id"), []string{"a", "b"})
	e.wantCursor(s, "conversions", at(e.t, "2025-01-01T11:00:00Z"), "")

	bf := &checkpoints.Cursor{Stream: checkpoints.BackfillKey("conversions"), Position: at(e.t, "2024-06-02T00:00:00Z"),
		Meta: `{"from":"2024-06-01","to":"2024-07-01"}`}
	e.load(s, upsert(conv), bf, []string{conversion("old", "confirmed", "2024-06-01 12:00:00", "")})
	e.wantCursor(s, bf.Stream, bf.Position, bf.Meta)
	e.wantCursor(s, "conversions", at(e.t, "2025-01-01T11:00:00Z"), "")
	e.expect("rows after the backfill's Commit", e.rows(s, conv, "id"), []string{"a", "b", "old"})
}

// Rollback leaves rows, cursors and tables as they were, and may be
// repeated.
func rollbackLeavesNothing(e *env) {
	s, _ := e.open("")
	conv, offers := model(e.t, "conversions"), model(e.t, "offers")
	e.load(s, upsert(conv), cursorAt(e.t, "conversions", "2025-01-01T10:00:00Z"),
		[]string{conversion("a", "pending", "2025-01-01 09:00:00", "2025-01-01 09:00:00")})
	state := e.state(s, conv, offers)

	tx := e.begin(s, upsert(conv))
	e.mustWrite(tx, conv, conversion("a", "confirmed", "2025-01-01 09:00:00", "2025-01-01 12:00:00"),
		conversion("b", "pending", "2025-01-01 09:00:00", ""))
	if err := tx.Rollback(); err != nil {
		e.t.Fatalf("Rollback: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		e.t.Fatalf("second Rollback: %v", err)
	}
	// A table first used by the rolled-back Tx.
	tx = e.begin(s, wholeTable(offers))
	e.mustWrite(tx, offers, offer(1, "a"))
	if err := tx.Rollback(); err != nil {
		e.t.Fatalf("Rollback: %v", err)
	}
	e.expect("state after Rollback", e.state(s, conv, offers), state)

	// Nothing of the rolled-back Txs surfaces in the next commit.
	e.load(s, upsert(conv), nil, []string{conversion("c", "pending", "2025-01-01 09:00:00", "")})
	e.expect("conversions", e.rows(s, conv, "id", "status"), []string{"a|pending", "c|pending"})
}

// A Write that fails (here a record of another model's schema) fails the
// Tx: whatever was staged before it, Commit then fails too and nothing
// changes. The pipeline rolls back after a failed Write: that Rollback
// must not fail.
func failedWriteLeavesNothing(e *env) {
	s, _ := e.open("")
	conv, offers := model(e.t, "conversions"), model(e.t, "offers")
	e.load(s, upsert(conv), cursorAt(e.t, "conversions", "2025-01-01T10:00:00Z"),
		[]string{conversion("a", "pending", "2025-01-01 09:00:00", "")})
	state := e.state(s, conv)

	tx := e.begin(s, upsert(conv))
	e.mustWrite(tx, conv, conversion("b", "pending", "2025-01-01 09:00:00", ""))
	bad := build(e.t, e.mem, offers, offer(1, "not a conversion"))
	errW := tx.Write(e.ctx, bad)
	bad.Release()
	_, errC := tx.Commit(e.ctx, cursorAt(e.t, "conversions", "2025-01-02T00:00:00Z"))
	switch {
	case errW == nil && errC == nil:
		e.t.Fatal("a record of another schema was written and committed")
	case errW != nil && errC == nil:
		e.t.Fatalf("Commit after a failed Write (%v) succeeded", errW)
	}
	if err := tx.Rollback(); err != nil {
		e.t.Errorf("Rollback after the failure: %v", err)
	}
	e.expect("state after a failed Write", e.state(s, conv), state)
}

// A Commit that fails (here: its context is canceled) changes nothing, and
// leaves nothing behind that stops the next Tx on the table.
func failedCommitLeavesNothing(e *env) {
	s, _ := e.open("")
	conv := model(e.t, "conversions")
	e.load(s, upsert(conv), cursorAt(e.t, "conversions", "2025-01-01T10:00:00Z"),
		[]string{conversion("a", "pending", "2025-01-01 09:00:00", "")})
	state := e.state(s, conv)

	tx := e.begin(s, upsert(conv))
	e.mustWrite(tx, conv, conversion("a", "confirmed", "2025-01-01 09:00:00", "2025-01-01 12:00:00"),
		conversion("b", "pending", "2025-01-01 09:00:00", ""))
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := tx.Commit(ctx, cursorAt(e.t, "conversions", "2025-01-02T00:00:00Z")); err == nil {
		e.t.Fatal("Commit with a canceled context succeeded")
	}
	_ = tx.Rollback()
	e.expect("state after a failed Commit", e.state(s, conv), state)

	e.load(s, upsert(conv), cursorAt(e.t, "conversions", "2025-01-03T00:00:00Z"),
		[]string{conversion("c", "pending", "2025-01-01 09:00:00", "")})
	e.expect("conversions", e.rows(s, conv, "id"), []string{"a", "c"})
	e.wantCursor(s, "conversions", at(e.t, "2025-01-03T00:00:00Z"), "")
}

// stagedRows is how many rows the crash case stages: more than a sink
// plausibly buffers in memory before writing to its staging area (DuckDB
// moves them into a staging table every 15,000), so the kill finds staged
// data on disk or in the database, not only in the Go heap.
const stagedRows = 25_000

// A process killed between staging and commit leaves exactly the state
// before the Tx; the restarted sink loads on (nothing left behind blocks
// the table).
func crashBeforeCommit(e *env) {
	s, dir := e.open("")
	conv, offers := model(e.t, "conversions"), model(e.t, "offers")
	e.load(s, upsert(conv), cursorAt(e.t, "conversions", "2025-01-01T10:00:00Z"), []string{
		conversion("a", "pending", "2025-01-01 09:00:00", ""),
		conversion("b", "pending", "2025-01-01 09:00:00", ""),
	})
	e.load(s, wholeTable(offers), cursorAt(e.t, "offers", "2025-01-01T10:00:00Z"), []string{offer(1, "a")})
	state := e.state(s, conv, offers)

	tx := e.begin(s, upsert(conv))
	e.mustWrite(tx, conv, conversion("a", "confirmed", "2025-01-01 09:00:00", "2025-01-01 12:00:00"))
	many := make([]string, stagedRows)
	for i := range many {
		many[i] = conversion("staged-"+strconv.Itoa(i), "pending", "2025-01-01 09:00:00", "")
	}
	e.mustWrite(tx, conv, many...)

	after := dir
	if e.h.Crash != nil {
		after = e.h.Crash(e.t, s.Sink, dir)
	}
	s2, _ := e.open(after)
	e.expect("state after the crash", e.state(s2, conv, offers), state)

	e.load(s2, upsert(conv), cursorAt(e.t, "conversions", "2025-01-02T00:00:00Z"),
		[]string{conversion("c", "pending", "2025-01-01 09:00:00", "")})
	e.expect("conversions loaded after the restart", e.rows(s2, conv, "id", "status"), []string{"a|pending", "b|pending", "c|pending"})
	e.wantCursor(s2, "conversions", at(e.t, "2025-01-02T00:00:00Z"), "")
}

// A sink closed and opened again holds every row and cursor it committed
// and stored, and loads on.
func reopenReadsEverythingBack(e *env) {
	s, dir := e.open("")
	conv, st := model(e.t, "conversions"), statsDaily(e.t)
	e.load(s, upsert(conv), cursorAt(e.t, "conversions", "2025-01-01T10:00:00Z"), []string{
		conversion("a", "pending", "2025-01-01 09:00:00", "2025-01-01 09:30:00"),
	})
	e.load(s, days(e.t, st, "2025-01-01", "2025-01-02"), cursorAt(e.t, "stats_daily", "2025-01-02T00:00:00Z"),
		[]string{stat(e.t, "2025-01-01", 71, 10)})
	bf := checkpoints.Cursor{Stream: checkpoints.BackfillKey("conversions"), Position: at(e.t, "2024-06-02T00:00:00Z"),
		Meta: `{"from":"2024-06-01","to":"2024-07-01"}`, UpdatedAt: at(e.t, "2025-01-01T12:00:00Z")}
	if err := s.SetCursor(e.ctx, bf); err != nil {
		e.t.Fatalf("SetCursor: %v", err)
	}
	state := e.state(s, conv, st)
	e.close(s)

	s2, _ := e.open(dir)
	e.expect("state after reopening", e.state(s2, conv, st), state)
	e.wantCursor(s2, "conversions", at(e.t, "2025-01-01T10:00:00Z"), "")
	e.wantCursor(s2, "stats_daily", at(e.t, "2025-01-02T00:00:00Z"), "")
	e.wantCursor(s2, bf.Stream, bf.Position, bf.Meta)
	if c, _ := e.cursor(s2, bf.Stream); !c.UpdatedAt.Equal(bf.UpdatedAt) {
		e.t.Errorf("UpdatedAt given to SetCursor = %v, read back %v", bf.UpdatedAt, c.UpdatedAt)
	}

	e.load(s2, upsert(conv), cursorAt(e.t, "conversions", "2025-01-01T11:00:00Z"), []string{
		conversion("a", "confirmed", "2025-01-01 09:00:00", "2025-01-01 10:30:00"),
	})
	e.expect("conversions after loading on", e.rows(s2, conv, "id", "status"), []string{"a|confirmed"})
	e.wantCursor(s2, "conversions", at(e.t, "2025-01-01T11:00:00Z"), "")
}

// A warehouse an earlier release wrote opens, upgraded in place, with its
// rows and cursors as they were, loads on, and opens again unchanged (the
// upgrade runs once). The suite cannot know the old rows, so it holds them
// to themselves: what the first open reads is what every later open reads,
// plus what was loaded.
func upgradesPreviousRelease(e *env) {
	if e.h.Previous == nil {
		e.t.Skip("this sink has no earlier release to upgrade")
	}
	dir := e.t.TempDir()
	e.h.Previous(e.t, dir)
	conv := model(e.t, "conversions")

	s, _ := e.open(dir)
	before := e.all(s, conv)
	cursors := e.cursors(s)
	if len(before) == 0 {
		e.t.Fatal("the previous release's warehouse reads as no conversions")
	}
	if _, ok := e.cursor(s, "conversions"); !ok {
		e.t.Fatalf("the previous release's conversions cursor is gone; cursors: %v", cursors)
	}
	e.close(s)

	s2, _ := e.open(dir)
	e.expect("conversions on a second open", e.all(s2, conv), before)
	if again := e.cursors(s2); !slices.EqualFunc(again, cursors, func(a, b checkpoints.Cursor) bool {
		return a.Stream == b.Stream && a.Position.Equal(b.Position)
	}) {
		e.t.Errorf("cursors moved between opens: %v, then %v", cursors, again)
	}
	e.load(s2, upsert(conv), nil, []string{
		conversion("upgraded-new", "pending", "2031-01-01 09:00:00", "2031-01-01 09:30:00"),
	})
	after := e.all(s2, conv)
	if len(after) != len(before)+1 {
		e.t.Fatalf("after loading one new conversion: %d rows, want %d", len(after), len(before)+1)
	}
	for _, r := range before {
		if !slices.Contains(after, r) {
			e.t.Fatalf("an old row changed or vanished after loading on: %s", r)
		}
	}
}

// The Store outside a load (syncd state, state reset, a finished
// backfill): a missing cursor is not an error; SetCursor replaces position
// and Meta (Meta is not kept when the new cursor has none) and keeps a
// given UpdatedAt, stamping one when it is zero; DeleteCursor removes one
// stream's cursor and is a no-op for a missing one.
func cursorStore(e *env) {
	s, _ := e.open("")
	if cs := e.cursors(s); len(cs) != 0 {
		e.t.Fatalf("a new sink has cursors %v", cs)
	}
	e.noCursor(s, "clicks")

	upd := at(e.t, "2025-03-01T08:00:00Z")
	set := func(c checkpoints.Cursor) {
		e.t.Helper()
		if err := s.SetCursor(e.ctx, c); err != nil {
			e.t.Fatalf("SetCursor(%s): %v", c.Stream, err)
		}
	}
	set(checkpoints.Cursor{Stream: "clicks", Position: at(e.t, "2025-01-01T10:00:00Z"), Meta: "m1", UpdatedAt: upd})
	e.wantCursor(s, "clicks", at(e.t, "2025-01-01T10:00:00Z"), "m1")
	if c, _ := e.cursor(s, "clicks"); !c.UpdatedAt.Equal(upd) {
		e.t.Errorf("UpdatedAt = %v, want the given %v", c.UpdatedAt, upd)
	}
	set(checkpoints.Cursor{Stream: "clicks", Position: at(e.t, "2024-12-01T00:00:00Z")}) // backwards: a reset --to
	e.wantCursor(s, "clicks", at(e.t, "2024-12-01T00:00:00Z"), "")
	set(checkpoints.Cursor{Stream: "conversions", Position: at(e.t, "2025-01-01T11:00:00Z")})

	cs := e.cursors(s)
	if len(cs) != 2 || cs[0].Stream != "clicks" || cs[1].Stream != "conversions" {
		e.t.Fatalf("Cursors = %v, want clicks and conversions", cs)
	}
	for _, stream := range []string{"clicks", "clicks", "never-set"} {
		if err := s.DeleteCursor(e.ctx, stream); err != nil {
			e.t.Fatalf("DeleteCursor(%s): %v", stream, err)
		}
	}
	e.noCursor(s, "clicks")
	e.wantCursor(s, "conversions", at(e.t, "2025-01-01T11:00:00Z"), "")
	if cs := e.cursors(s); len(cs) != 1 {
		e.t.Fatalf("Cursors after DeleteCursor = %v", cs)
	}
}

// A Tx is used once: after Commit or Rollback, Write and Commit fail and
// change nothing; Rollback after Commit is a no-op that undoes nothing (a
// deferred Rollback is the usual Go idiom).
func txIsSingleUse(e *env) {
	s, _ := e.open("")
	conv := model(e.t, "conversions")
	tx := e.begin(s, upsert(conv))
	e.mustWrite(tx, conv, conversion("a", "pending", "2025-01-01 09:00:00", ""))
	e.commit(tx, cursorAt(e.t, "conversions", "2025-01-01T10:00:00Z"))
	state := e.state(s, conv)

	if err := e.write(tx, conv, conversion("x", "pending", "2025-01-01 09:00:00", "")); err == nil {
		e.t.Error("Write after Commit succeeded")
	}
	if _, err := tx.Commit(e.ctx, cursorAt(e.t, "conversions", "2030-01-01T00:00:00Z")); err == nil {
		e.t.Error("second Commit succeeded")
	}
	if err := tx.Rollback(); err != nil {
		e.t.Errorf("Rollback after Commit: %v", err)
	}
	e.expect("state after reusing a committed Tx", e.state(s, conv), state)

	tx = e.begin(s, upsert(conv))
	e.mustWrite(tx, conv, conversion("b", "pending", "2025-01-01 09:00:00", ""))
	if err := tx.Rollback(); err != nil {
		e.t.Fatalf("Rollback: %v", err)
	}
	if err := e.write(tx, conv, conversion("y", "pending", "2025-01-01 09:00:00", "")); err == nil {
		e.t.Error("Write after Rollback succeeded")
	}
	if _, err := tx.Commit(e.ctx, cursorAt(e.t, "conversions", "2030-01-01T00:00:00Z")); err == nil {
		e.t.Error("Commit after Rollback succeeded")
	}
	e.expect("state after reusing a rolled-back Tx", e.state(s, conv), state)
}

// Txs on different tables are independent: open at once, from one
// goroutine or several, each commits or rolls back its own rows and
// cursor only. (For two Txs on one table see networksReplaceOneTableAtOnce;
// of one network, DuckDB and the lake make the second Begin wait.)
func concurrentTxsOnDifferentTables(e *env) {
	e.run("interleaved", func(e *env) {
		s, _ := e.open("")
		conv, offers, st := model(e.t, "conversions"), model(e.t, "offers"), statsDaily(e.t)
		a := e.begin(s, upsert(conv))
		b := e.begin(s, wholeTable(offers))
		c := e.begin(s, days(e.t, st, "2025-01-01", "2025-01-02"))
		e.mustWrite(a, conv, conversion("a", "pending", "2025-01-01 09:00:00", ""))
		e.mustWrite(b, offers, offer(1, "a"))
		e.mustWrite(c, st, stat(e.t, "2025-01-01", 71, 10))
		e.mustWrite(a, conv, conversion("b", "pending", "2025-01-01 09:00:00", ""))

		e.commit(b, cursorAt(e.t, "offers", "2025-01-01T10:00:00Z"))
		e.expect("offers", e.rows(s, offers, "id"), []string{"1"})
		e.expect("conversions while its Tx is open", e.rows(s, conv, "id"), nil)
		e.noCursor(s, "conversions")

		if err := c.Rollback(); err != nil {
			e.t.Fatalf("Rollback: %v", err)
		}
		e.commit(a, cursorAt(e.t, "conversions", "2025-01-01T11:00:00Z"))
		e.expect("conversions", e.rows(s, conv, "id"), []string{"a", "b"})
		e.expect("stats_daily after its Rollback", e.rows(s, st, "day"), nil)
		e.wantCursor(s, "offers", at(e.t, "2025-01-01T10:00:00Z"), "")
		e.wantCursor(s, "conversions", at(e.t, "2025-01-01T11:00:00Z"), "")
		e.noCursor(s, "stats_daily")
	})
	e.run("parallel", func(e *env) {
		s, _ := e.open("")
		type job struct {
			target load.Target
			recs   []arrow.RecordBatch
			cursor func(i int) *checkpoints.Cursor
		}
		const txs = 5
		conv, offers, st := model(e.t, "conversions"), model(e.t, "offers"), statsDaily(e.t)
		base := at(e.t, "2025-01-01T00:00:00Z")
		curs := func(stream string) func(int) *checkpoints.Cursor {
			return func(i int) *checkpoints.Cursor {
				return &checkpoints.Cursor{Stream: stream, Position: base.Add(time.Duration(i+1) * time.Hour)}
			}
		}
		// Records are built here: build may fail the test, which only
		// the test's goroutine may do.
		jobs := []job{
			{target: upsert(conv), cursor: curs("conversions")},
			{target: wholeTable(offers), cursor: curs("offers")},
			{target: days(e.t, st, "2025-01-01", "2025-01-06"), cursor: curs("stats_daily")},
		}
		for i := range txs {
			jobs[0].recs = append(jobs[0].recs, build(e.t, e.mem, conv,
				conversion("c"+strconv.Itoa(i), "pending", "2025-01-01 09:00:00", ""),
				conversion("shared", strconv.Itoa(i), "2025-01-01 09:00:00", "")))
			jobs[1].recs = append(jobs[1].recs, build(e.t, e.mem, offers, offer(i, "t"), offer(100, strconv.Itoa(i))))
			jobs[2].recs = append(jobs[2].recs, build(e.t, e.mem, st,
				stat(e.t, "2025-01-01", 71, 1), stat(e.t, fmt.Sprintf("2025-01-0%d", i+1), 72, i)))
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(jobs))
		for _, j := range jobs {
			wg.Go(func() {
				for i, rec := range j.recs {
					if err := loadOne(e.ctx, s, j.target, rec, j.cursor(i)); err != nil {
						errs <- fmt.Errorf("%s Tx %d: %w", j.target.Model.Table(), i, err)
						for _, r := range j.recs[i+1:] {
							r.Release()
						}
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			e.t.Error(err)
		}
		if e.t.Failed() {
			return
		}
		e.expect("conversions", e.rows(s, conv, "id", "status"), []string{
			"c0|pending", "c1|pending", "c2|pending", "c3|pending", "c4|pending", "shared|4",
		})
		e.expect("offers", e.rows(s, offers, "id", "title"), []string{"100|4", "4|t"})
		e.expect("stats_daily", e.rows(s, st, "day", "offer_id", "clicks_raw"), []string{
			"2025-01-01|71|1", "2025-01-05|72|4",
		})
		for _, j := range jobs {
			c := j.cursor(txs - 1)
			e.wantCursor(s, c.Stream, c.Position, "")
		}
	})
}

// loadOne commits rec in a Tx of its own; it takes rec's reference. It
// does not fail the test, so goroutines may call it.
func loadOne(ctx context.Context, s load.Sink, tg load.Target, rec arrow.RecordBatch, cur *checkpoints.Cursor) error {
	defer rec.Release()
	tx, err := s.Begin(ctx, tg)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.Write(ctx, rec); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if _, err := tx.Commit(ctx, cur); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// A backfill's bounds (checkpoints.Cursor.Backfill) are committed with its
// cursor and read back as the same instants, also after a reopen, and
// nothing of them leaks into Meta: the pipeline resumes a backfill only
// when they are equal.
func backfillBoundsReadBack(e *env) {
	s, dir := e.open("")
	conv := model(e.t, "conversions")
	key := checkpoints.BackfillKey("conversions")
	bounds := checkpoints.BackfillBounds{From: at(e.t, "2024-05-31T22:00:00Z"), To: at(e.t, "2024-06-30T22:00:00Z")}
	e.load(s, upsert(conv), &checkpoints.Cursor{Stream: key, Position: at(e.t, "2024-06-01T22:00:00Z"), Backfill: &bounds},
		[]string{conversion("old", "confirmed", "2024-06-01 12:00:00", "")})
	check := func(s *sink) {
		e.t.Helper()
		e.wantCursor(s, key, at(e.t, "2024-06-01T22:00:00Z"), "")
		c, _ := e.cursor(s, key)
		if c.Backfill == nil || !c.Backfill.Equal(bounds) {
			e.t.Fatalf("cursor %s: backfill bounds %+v, want %+v", key, c.Backfill, bounds)
		}
	}
	check(s)
	e.close(s)
	s2, _ := e.open(dir)
	check(s2)
}

// A cursor with a zero Position is no cursor: committed, it removes the
// stored one together with the Tx's rows (how a backfill's last window
// ends its cursor), a rolled-back removal removes nothing, and removing a
// missing cursor is no error. SetCursor follows the same rule.
func commitRemovesCursor(e *env) {
	s, _ := e.open("")
	conv := model(e.t, "conversions")
	key := checkpoints.BackfillKey("conversions")
	bounds := checkpoints.BackfillBounds{From: at(e.t, "2024-06-01T00:00:00Z"), To: at(e.t, "2024-06-03T00:00:00Z")}
	e.load(s, upsert(conv), &checkpoints.Cursor{Stream: key, Position: at(e.t, "2024-06-02T00:00:00Z"), Backfill: &bounds},
		[]string{conversion("a", "pending", "2024-06-01 09:00:00", "")})
	e.load(s, upsert(conv), cursorAt(e.t, "conversions", "2025-01-01T10:00:00Z"))
	state := e.state(s, conv)

	tx := e.begin(s, upsert(conv))
	e.mustWrite(tx, conv, conversion("b", "pending", "2024-06-02 09:00:00", ""))
	if err := tx.Rollback(); err != nil {
		e.t.Fatalf("Rollback: %v", err)
	}
	e.expect("state after a rolled-back removal", e.state(s, conv), state)

	tx = e.begin(s, upsert(conv))
	e.mustWrite(tx, conv, conversion("b", "pending", "2024-06-02 09:00:00", ""))
	e.expect("rows before the removing Commit", e.rows(s, conv, "id"), []string{"a"})
	e.wantCursor(s, key, at(e.t, "2024-06-02T00:00:00Z"), "")
	e.commit(tx, &checkpoints.Cursor{Stream: key})
	e.expect("rows after the removing Commit", e.rows(s, conv, "id"), []string{"a", "b"})
	e.noCursor(s, key)
	e.wantCursor(s, "conversions", at(e.t, "2025-01-01T10:00:00Z"), "")

	e.load(s, upsert(conv), &checkpoints.Cursor{Stream: "never-set"})
	e.noCursor(s, "never-set")

	if err := s.SetCursor(e.ctx, checkpoints.Cursor{Stream: "conversions"}); err != nil {
		e.t.Fatalf("SetCursor with a zero Position: %v", err)
	}
	e.noCursor(s, "conversions")
	if cs := e.cursors(s); len(cs) != 0 {
		e.t.Fatalf("Cursors after removing both = %v", cs)
	}
}

// DailyMoney sums committed conversions by the UTC day of created_at and
// currency within [from, to), never adding two currencies: revenue and payouts of confirmed, pending and hold
// ones only, the count of all; days without conversions are absent, and
// before any conversions were loaded nothing is found.
func dailyMoney(e *env) {
	s, _ := e.open("")
	from, to := day(e.t, "2025-01-01"), day(e.t, "2025-01-04")
	if days, found, err := s.DailyMoney(e.ctx, from, to); err != nil || found || len(days) != 0 {
		e.t.Fatalf("DailyMoney before any conversions = %v, %v, %v; want nothing found", days, found, err)
	}
	conv := model(e.t, "conversions")
	// Each conversion has revenue 4.5 and payouts 3.
	e.load(s, upsert(conv), nil, []string{
		conversion("before", "confirmed", "2024-12-31 23:59:59", ""),
		conversion("a", "confirmed", "2025-01-01 00:00:00", ""),
		conversion("b", "pending", "2025-01-01 12:00:00", ""),
		conversion("c", "declined", "2025-01-01 23:59:59", ""),
		conversion("d", "hold", "2025-01-03 08:00:00", ""),
		conversion("e", "not_found", "2025-01-03 09:00:00", ""),
		conversion("after", "confirmed", "2025-01-04 00:00:00", ""),
		strings.Replace(conversion("eur", "confirmed", "2025-01-01 10:00:00", ""), `"currency":"USD"`, `"currency":"EUR"`, 1),
	})
	tx := e.begin(s, upsert(conv)) // staged, never committed: not counted
	e.mustWrite(tx, conv, conversion("staged", "confirmed", "2025-01-02 10:00:00", ""))
	days, found, err := s.DailyMoney(e.ctx, from, to)
	if err != nil || !found {
		e.t.Fatalf("DailyMoney = %v, %v", found, err)
	}
	var got []string
	for _, d := range days {
		if d.Day.Location() != time.UTC {
			e.t.Errorf("day %v is not a UTC midnight", d.Day)
		}
		got = append(got, fmt.Sprintf("%s|%s|%g|%g|%d", d.Day.Format(time.RFC3339), d.Currency, d.Revenue, d.Payouts, d.Conversions))
	}
	e.expect("daily money, per currency", got, []string{"2025-01-01T00:00:00Z|EUR|4.5|3|1", "2025-01-01T00:00:00Z|USD|9|6|3", "2025-01-03T00:00:00Z|USD|4.5|3|2"})
}

// LastRuns: per stream, its latest finished sync pass as recorded (its
// summary too: rows read, inserted, updated, unchanged, retries, cursor
// before and after), with the finish of its latest successful one; backfills and passes without a
// finish do not count; none before any was recorded.
func lastRuns(e *env) {
	s, _ := e.open("")
	if runs, err := s.LastRuns(e.ctx); err != nil || len(runs) != 0 {
		e.t.Fatalf("LastRuns of a new sink = %v, %v", runs, err)
	}
	h := func(hour int) time.Time { return at(e.t, fmt.Sprintf("2025-02-03T%02d:00:00Z", hour)) }
	for _, r := range []load.Run{
		{Stream: "a", Kind: "sync", StartedAt: h(1), FinishedAt: h(2), Rows: 10, Requests: 3},
		{Stream: "a", Kind: "sync", StartedAt: h(3), FinishedAt: h(4), Requests: 7, Error: "HTTP 500",
			RowsRead: 40, Inserted: 1, Updated: 2, Unchanged: 30, Retries: 6, CursorBefore: h(0), CursorAfter: h(0).Add(30 * time.Minute)},
		{Stream: "a", Kind: "backfill", StartedAt: h(5), FinishedAt: h(6), Rows: 99},
		{Stream: "a", Kind: "sync", StartedAt: h(7)},
		{Stream: "b", Kind: "sync", StartedAt: h(1), FinishedAt: h(1).Add(90 * time.Second), Rows: 5, Error: "boom"},
		{Stream: "c", Kind: "backfill", StartedAt: h(1), FinishedAt: h(2)},
	} {
		if err := s.RecordRun(e.ctx, r); err != nil {
			e.t.Fatalf("RecordRun: %v", err)
		}
	}
	runs, err := s.LastRuns(e.ctx)
	if err != nil {
		e.t.Fatalf("LastRuns: %v", err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%d|%d|%s|%s|%d/%d/%d/%d|%d|%s|%s", r.Stream, r.Kind, r.StartedAt.UTC().Format(time.RFC3339),
			r.FinishedAt.UTC().Format(time.RFC3339), r.Rows, r.Requests, r.Error, r.LastSuccess.UTC().Format(time.RFC3339),
			r.RowsRead, r.Inserted, r.Updated, r.Unchanged, r.Retries, r.CursorBefore.UTC().Format(time.RFC3339), r.CursorAfter.UTC().Format(time.RFC3339)))
	}
	e.expect("last runs", sorted(got), []string{
		"a|sync|2025-02-03T03:00:00Z|2025-02-03T04:00:00Z|0|7|HTTP 500|2025-02-03T02:00:00Z|40/1/2/30|6|2025-02-03T00:00:00Z|2025-02-03T00:30:00Z",
		"b|sync|2025-02-03T01:00:00Z|2025-02-03T01:01:30Z|5|0|boom|0001-01-01T00:00:00Z|0/0/0/0|0|0001-01-01T00:00:00Z|0001-01-01T00:00:00Z",
	})
}

// FirstDay is the UTC day of a table's oldest row by its day column: none
// for a table never loaded or without a day column; an older row loaded
// later lowers it, and a reopened sink reads it back.
func firstDay(e *env) {
	s, dir := e.open("")
	conv, offers := model(e.t, "conversions"), model(e.t, "offers")
	want := func(s *sink, m models.Model, day string) {
		e.t.Helper()
		got, found, err := s.FirstDay(e.ctx, m)
		if err != nil {
			e.t.Fatalf("FirstDay(%s): %v", m.Table(), err)
		}
		if day == "" {
			if found {
				e.t.Errorf("FirstDay(%s) = %s, want none", m.Table(), got)
			}
			return
		}
		if !found || !got.Equal(e.dayOf(day)) || got.Location() != time.UTC {
			e.t.Errorf("FirstDay(%s) = %v %v, want %s UTC", m.Table(), got, found, day)
		}
	}
	want(s, conv, "")
	e.load(s, upsert(conv), nil, []string{conversion("a", "pending", "2025-01-03 09:00:00", "")})
	want(s, conv, "2025-01-03")
	e.load(s, upsert(conv), nil, []string{conversion("b", "pending", "2025-01-01 23:59:59", "")})
	want(s, conv, "2025-01-01")
	e.load(s, wholeTable(offers), nil, []string{offer(1, "a")})
	want(s, offers, "")
	e.close(s)
	s2, _ := e.open(dir)
	want(s2, conv, "2025-01-01")
}

// ChangedHours: a load with Target.Changes records the UTC hour of the day
// column of the rows it inserts or changes, with its rows (a rolled-back
// one records nothing); a load with Target.Consumes removes [From, To)
// from the set, also with its rows; both read back after a reopen.
func changedHours(e *env) {
	s, dir := e.open("")
	conv, st := model(e.t, "conversions"), statsDaily(e.t)
	const set = "conversions"
	hours := func(s *sink) []string {
		e.t.Helper()
		hs, err := s.ChangedHours(e.ctx, set)
		if err != nil {
			e.t.Fatalf("ChangedHours: %v", err)
		}
		var out []string
		for _, h := range hs {
			if h.Location() != time.UTC {
				e.t.Errorf("hour %v is not UTC", h)
			}
			out = append(out, h.Format(time.RFC3339))
		}
		return out
	}
	e.expect("an empty set", hours(s), nil)
	changes := load.Target{Model: conv, Mode: models.Upsert, Changes: set}
	e.load(s, changes, nil, []string{
		conversion("a", "pending", "2025-01-01 09:10:00", "2025-01-01 10:00:00"),
		conversion("b", "pending", "2025-01-01 09:50:00", "2025-01-01 10:00:00"),
		conversion("c", "pending", "2025-01-03 23:00:00", "2025-01-04 10:00:00"),
	})
	e.expect("hours of new rows", hours(s), []string{"2025-01-01T09:00:00Z", "2025-01-03T23:00:00Z"})

	tx := e.begin(s, load.Target{Model: conv, Mode: models.Upsert, Changes: set})
	e.mustWrite(tx, conv, conversion("d", "pending", "2025-01-05 12:00:00", ""))
	if err := tx.Rollback(); err != nil {
		e.t.Fatal(err)
	}
	e.expect("after a rollback", hours(s), []string{"2025-01-01T09:00:00Z", "2025-01-03T23:00:00Z"})

	// stats_daily re-reads 2025-01-01 and 2025-01-02 (UTC) and consumes them.
	consume := days(e.t, st, "2025-01-01", "2025-01-03")
	consume.Consumes, consume.ConsumeFrom, consume.ConsumeTo = set, e.dayOf("2025-01-01"), e.dayOf("2025-01-03")
	e.load(s, consume, nil, []string{stat(e.t, "2025-01-01", 71, 20)})
	e.expect("after consuming two days", hours(s), []string{"2025-01-03T23:00:00Z"})

	e.load(s, changes, nil, []string{conversion("a", "confirmed", "2025-01-01 09:10:00", "2025-01-06 10:00:00")})
	e.close(s)
	s2, _ := e.open(dir)
	e.expect("a changed row's hour, read back after a reopen", hours(s2), []string{"2025-01-01T09:00:00Z", "2025-01-03T23:00:00Z"})
	if hs, err := s2.ChangedHours(e.ctx, "another set"); err != nil || len(hs) != 0 {
		e.t.Errorf("another set holds %v (%v)", hs, err)
	}
}

// Currencies lists the distinct non-empty currencies of the conversions
// held, sorted: none before conversions were loaded.
func currencies(e *env) {
	s, _ := e.open("")
	conv := model(e.t, "conversions")
	got := func() []string {
		e.t.Helper()
		cs, err := s.Currencies(e.ctx)
		if err != nil {
			e.t.Fatalf("Currencies: %v", err)
		}
		return cs
	}
	e.expect("before any conversion", got(), nil)
	in := func(id, cur string) string {
		return strings.Replace(conversion(id, "pending", "2025-01-01 09:00:00", ""), `"currency":"USD"`, `"currency":`+strconv.Quote(cur), 1)
	}
	e.load(s, upsert(conv), nil, []string{in("a", "USD"), in("b", "EUR"), in("c", "USD"), in("d", "")})
	e.load(s, upsert(conv), nil, []string{in("e", "RUB")})
	e.expect("currencies held", got(), []string{"EUR", "RUB", "USD"})
}

// CommitCounts: Commit counts every row it stores once, against what the
// table held before it: a key it lacked is inserted, a key held with an
// equal row unchanged, a key held with another row updated (load.Committed),
// in every mode. A backfill re-reading what a sync loaded must not read as
// nothing happened, nor as everything new.
func commitCounts(e *env) {
	want := func(what string, got, want load.Committed) {
		e.t.Helper()
		if got != want {
			e.t.Errorf("%s: Commit reported %+v, want %+v", what, got, want)
		}
	}
	e.run("upsert", func(e *env) {
		s, _ := e.open("")
		conv := model(e.t, "conversions")
		a := conversion("a", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00")
		b := conversion("b", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00")
		c := conversion("c", "pending", "2025-01-01 09:00:00", "2025-01-01 10:00:00")
		want("new keys", e.load(s, upsert(conv), nil, []string{a, b}), load.Committed{Inserted: 2})
		want("the same rows again", e.load(s, upsert(conv), nil, []string{a, b}, []string{a}), load.Committed{Unchanged: 2})
		bNew := conversion("b", "confirmed", "2025-01-01 09:00:00", "2025-01-01 12:00:00")
		want("one changed, one equal, one new", e.load(s, upsert(conv), nil, []string{a, bNew, c}),
			load.Committed{Inserted: 1, Updated: 1, Unchanged: 1})
		// A key's older row and its stored row in one Tx: the winner is
		// what counts, and it equals the stored row.
		older := conversion("b", "pending", "2025-01-01 09:00:00", "2025-01-01 11:00:00")
		want("an older version beside the stored one", e.load(s, upsert(conv), nil, []string{older, bNew}), load.Committed{Unchanged: 1})
		want("nothing", e.load(s, upsert(conv), nil), load.Committed{})
		e.expect("conversions", e.rows(s, conv, "id", "status"), []string{"a|pending", "b|confirmed", "c|pending"})
	})
	e.run("upsert of a composite key", func(e *env) {
		s, _ := e.open("")
		st := statsDaily(e.t)
		tg := load.Target{Model: st, Mode: models.Upsert}
		want("new keys", e.load(s, tg, nil, []string{stat(e.t, "2025-01-01", 71, 20), stat(e.t, "2025-01-01", 72, 20)}), load.Committed{Inserted: 2})
		want("one equal, one changed", e.load(s, tg, nil, []string{stat(e.t, "2025-01-01", 71, 20), stat(e.t, "2025-01-01", 72, 30)}),
			load.Committed{Updated: 1, Unchanged: 1})
	})
	e.run("replace days", func(e *env) {
		s, _ := e.open("")
		st := statsDaily(e.t)
		want("new days", e.load(s, days(e.t, st, "2025-01-01", "2025-01-03"), nil,
			[]string{stat(e.t, "2025-01-01", 71, 20), stat(e.t, "2025-01-02", 71, 20), stat(e.t, "2025-01-02", 72, 20)}),
			load.Committed{Inserted: 3})
		// Day 2 re-read: 71 as it was, 72 gone (not counted), 73 new.
		want("a day re-read", e.load(s, days(e.t, st, "2025-01-02", "2025-01-03"), nil,
			[]string{stat(e.t, "2025-01-02", 71, 20), stat(e.t, "2025-01-02", 73, 20)}),
			load.Committed{Inserted: 1, Unchanged: 1})
		want("both days re-read, one row changed", e.load(s, days(e.t, st, "2025-01-01", "2025-01-03"), nil,
			[]string{stat(e.t, "2025-01-01", 71, 25), stat(e.t, "2025-01-02", 71, 20), stat(e.t, "2025-01-02", 73, 20)}),
			load.Committed{Updated: 1, Unchanged: 2})
	})
	e.run("snapshot", func(e *env) {
		s, _ := e.open("")
		offers := model(e.t, "offers")
		want("first snapshot", e.load(s, wholeTable(offers), nil, []string{offer(1, "a"), offer(2, "b"), offer(3, "c")}),
			load.Committed{Inserted: 3})
		want("the same snapshot", e.load(s, wholeTable(offers), nil, []string{offer(1, "a"), offer(2, "b"), offer(3, "c")}),
			load.Committed{Unchanged: 3})
		want("a changed snapshot", e.load(s, wholeTable(offers), nil, []string{offer(1, "a"), offer(2, "b2"), offer(4, "d")}),
			load.Committed{Inserted: 1, Updated: 1, Unchanged: 1})
	})
}
