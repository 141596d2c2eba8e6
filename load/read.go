package load

import (
	"context"
	"time"

	"github.com/syncd/syncd/checkpoints"
)

// Reader is what syncd itself reads back from a warehouse: the cursors, the
// latest passes (the daemon's start-up state) and recent days' money (the
// status page's chart). Callers state the question, the warehouse owns the
// query, so a daemon or a test knows no SQL and no table layout.
//
// A Reader is safe for concurrent use, also while loads run, and reads
// only committed data. What it returns belongs to the caller.
type Reader interface {
	checkpoints.Store
	// DailyMoney sums conversions by the UTC day of their creation and
	// their currency, for days in [from, to) (UTC midnights): revenue (the
	// advertiser's) and
	// payouts (to affiliates) of conversions whose status is confirmed,
	// pending or hold, as the daily_revenue view counts them (declined and
	// not_found add nothing), and the number of conversions of any status.
	// Entries are in order of day, then currency; a day without
	// conversions is absent. found is
	// false, with no error, while conversions were never loaded.
	DailyMoney(ctx context.Context, from, to time.Time) (days []DayMoney, found bool, err error)
	// LastRuns returns, for every stream with a finished sync pass, the
	// latest one and when its latest successful one finished. Backfills do
	// not count. The order is unspecified.
	LastRuns(ctx context.Context) ([]LastRun, error)
	// Currencies lists the currencies of the conversions held, sorted,
	// without "" (none while conversions were never loaded): those
	// stats_daily asks Affise for one by one.
	Currencies(ctx context.Context) ([]string, error)
}

// DayMoney is one day and currency of DailyMoney: money of different
// currencies is never added together.
type DayMoney struct {
	Day         time.Time // UTC midnight
	Currency    string    // as conversions carry it ("" when they carry none)
	Revenue     float64
	Payouts     float64
	Conversions int64
}

// LastRun is a stream's latest finished sync pass.
type LastRun struct {
	Run
	// LastSuccess is when the stream's latest sync pass without an error
	// finished; zero when none did.
	LastSuccess time.Time
}
