package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

var _ load.Reader = (*Sink)(nil)

// dailyMoneySQL follows the daily_revenue view's money rule: revenue
// (advertiser revenue) and payouts (affiliate payouts) of conversions whose
// status is confirmed, pending or hold; declined and not_found add nothing.
const dailyMoneySQL = `
SELECT CAST(created_at AS DATE) AS day, coalesce(currency, '') AS currency,
       CAST(coalesce(sum(revenue) FILTER (WHERE status IN ('confirmed', 'pending', 'hold')), 0) AS DOUBLE) AS revenue,
       CAST(coalesce(sum(payouts) FILTER (WHERE status IN ('confirmed', 'pending', 'hold')), 0) AS DOUBLE) AS payouts,
       count(*) AS conversions
FROM conversions
WHERE network = ? AND created_at >= CAST(? AS TIMESTAMP) AND created_at < CAST(? AS TIMESTAMP)
GROUP BY 1, 2
ORDER BY 1, 2`

// DailyMoney implements load.Reader.
func (s *Sink) DailyMoney(ctx context.Context, from, to time.Time) ([]load.DayMoney, bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx,
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'conversions'`).Scan(&n); err != nil {
		return nil, false, fmt.Errorf("duckdb: daily money: %w", err)
	}
	if n == 0 {
		return nil, false, nil
	}
	rows, err := s.db.QueryContext(ctx, dailyMoneySQL, s.network, tsArg(from), tsArg(to))
	if err != nil {
		return nil, true, fmt.Errorf("duckdb: daily money: %w", err)
	}
	defer rows.Close()
	var out []load.DayMoney
	for rows.Next() {
		var day time.Time
		var cur string
		var rev, pay sql.NullFloat64
		var cnt int64
		if err := rows.Scan(&day, &cur, &rev, &pay, &cnt); err != nil {
			return nil, true, fmt.Errorf("duckdb: daily money: %w", err)
		}
		y, m, d := day.Date()
		out = append(out, load.DayMoney{Day: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), Currency: cur, Revenue: rev.Float64, Payouts: pay.Float64, Conversions: cnt})
	}
	if err := rows.Err(); err != nil {
		return nil, true, fmt.Errorf("duckdb: daily money: %w", err)
	}
	return out, true, nil
}

// lastRunsSQL picks each stream's latest finished sync pass of a network
// (the one parameter), and the latest successful one's finish.
const lastRunsSQL = `
WITH r AS (
	SELECT stream, started_at, finished_at, rows, requests, error,
	       rows_read, rows_inserted, rows_updated, rows_unchanged, retries, cursor_before, cursor_after,
	       row_number() OVER (PARTITION BY stream ORDER BY finished_at DESC) AS n
	FROM _syncd_runs WHERE network = $1 AND kind = 'sync' AND finished_at IS NOT NULL)
SELECT r.stream, r.started_at, r.finished_at, r.rows, r.requests, r.error,
       r.rows_read, r.rows_inserted, r.rows_updated, r.rows_unchanged, r.retries, r.cursor_before, r.cursor_after,
       (SELECT max(finished_at) FROM _syncd_runs o
        WHERE o.network = $1 AND o.stream = r.stream AND o.kind = 'sync' AND o.error IS NULL) AS last_ok
FROM r WHERE n = 1`

// LastRuns implements load.Reader.
func (s *Sink) LastRuns(ctx context.Context) ([]load.LastRun, error) {
	rows, err := s.db.QueryContext(ctx, lastRunsSQL, s.network)
	if err != nil {
		return nil, fmt.Errorf("duckdb: last runs: %w", err)
	}
	defer rows.Close()
	var out []load.LastRun
	for rows.Next() {
		var (
			r                    load.LastRun
			started, fin, lastOK sql.NullTime
			before, after        sql.NullTime
			nrows, nreq          sql.NullInt64
			read, ins, upd, unch sql.NullInt64
			retries              sql.NullInt64
			errText              sql.NullString
		)
		if err := rows.Scan(&r.Stream, &started, &fin, &nrows, &nreq, &errText,
			&read, &ins, &upd, &unch, &retries, &before, &after, &lastOK); err != nil {
			return nil, fmt.Errorf("duckdb: last runs: %w", err)
		}
		r.Network, r.Kind = s.network, "sync"
		r.StartedAt, r.FinishedAt, r.LastSuccess = utc(started), utc(fin), utc(lastOK)
		r.Rows, r.Requests, r.Error = nrows.Int64, nreq.Int64, errText.String
		r.RowsRead, r.Inserted, r.Updated, r.Unchanged, r.Retries = read.Int64, ins.Int64, upd.Int64, unch.Int64, retries.Int64
		r.CursorBefore, r.CursorAfter = utc(before), utc(after)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: last runs: %w", err)
	}
	return out, nil
}

// FirstDay implements load.Sink.
func (s *Sink) FirstDay(ctx context.Context, m models.Model) (time.Time, bool, error) {
	col := m.DayColumn()
	if col == "" {
		return time.Time{}, false, nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()
		AND schema_name = 'main' AND table_name = ?`, m.Table()).Scan(&n); err != nil {
		return time.Time{}, false, fmt.Errorf("duckdb: first day of %s: %w", m.Table(), err)
	}
	if n == 0 {
		return time.Time{}, false, nil
	}
	var first sql.NullTime
	if err := s.db.QueryRowContext(ctx, `SELECT min(CAST(`+quoteIdent(col)+` AS DATE))::TIMESTAMP FROM `+quoteIdent(m.Table())+` WHERE network = ?`, s.network).Scan(&first); err != nil {
		return time.Time{}, false, fmt.Errorf("duckdb: first day of %s: %w", m.Table(), err)
	}
	if !first.Valid {
		return time.Time{}, false, nil
	}
	t := first.Time
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true, nil
}

// ChangedHours implements load.Sink.
func (s *Sink) ChangedHours(ctx context.Context, set string) ([]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT hour FROM _syncd_changed WHERE network = ? AND set_name = ? ORDER BY hour`, s.network, set)
	if err != nil {
		return nil, fmt.Errorf("duckdb: changed hours of %s: %w", set, err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var h time.Time
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("duckdb: changed hours of %s: %w", set, err)
		}
		out = append(out, utc(sql.NullTime{Time: h, Valid: true}))
	}
	return out, rows.Err()
}

// Currencies implements load.Reader.
func (s *Sink) Currencies(ctx context.Context) ([]string, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database()
		AND schema_name = 'main' AND table_name = 'conversions' AND column_name = 'currency'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("duckdb: currencies: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT currency FROM conversions WHERE network = ? AND coalesce(currency, '') <> '' ORDER BY 1`, s.network)
	if err != nil {
		return nil, fmt.Errorf("duckdb: currencies: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("duckdb: currencies: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
