package models

import (
	"net/url"
	"time"

	"github.com/syncd/syncd/plan"
)

// Stream declares one stream: where Affise serves it, how syncd walks and
// keeps it, and the table it fills. Each stream's file returns its
// declaration and Registry lists them; config, extract, the CLI and the
// tests read nothing else about a stream. A declaration is plain data:
// building one has no side effect and may be done at any time.
type Stream struct {
	// Name names the stream in the config, the state table, logs and
	// metrics, and is its table's name.
	Name string
	// Endpoint is the path read with GET.
	Endpoint string
	// ListKey is the member of a reply that holds the rows.
	ListKey string
	// Params are sent with every request, as they are.
	Params url.Values
	// Planner cuts the stream's history into windows and asks for each.
	Planner plan.Planner
	// Zone is the zone of the stream's requests and windows.
	Zone Zone
	// Mode is how the rows of a window replace what the table holds.
	Mode Mode
	// AdminOnly: Affise serves the stream to admin keys only.
	AdminOnly bool
	// Defaults are the stream's settings where the config gives none.
	Defaults Defaults
	// RecordsChanges names the set of changed hours its loads add to: the
	// UTC hour of the day column of every row a load inserts or changes
	// (conversions: of created_at), kept durably with the rows.
	RecordsChanges string
	// StampsDay names a column rows do not carry: the window's UTC day is
	// added to each row under that name (a daily snapshot's date).
	StampsDay string
	// PerCurrency: Affise sums every currency together unless the
	// request names one (filter[currency]), so each window is asked once
	// per currency, and the rows keep it in the slice's currency member
	// (stats_daily).
	PerCurrency bool
	// RereadsChanges names the set of changed hours whose days each pass
	// re-reads besides its lookback, consuming them as it commits them
	// (stats_daily: the days whose conversions changed, however old).
	RereadsChanges string

	// Key lists the columns that identify a row: they are NOT NULL, and an
	// object lacking one fails. nil for stats_daily, whose key is its day
	// and slice columns, which follow the config.
	Key []string
	// Version names the column whose larger value is a row's newer version
	// ("" when rows carry none).
	Version string
	// Day names the column whose day a ReplaceDays load replaces and a lake
	// partitions by ("" when none).
	Day string

	// columns are the table's columns in order (raw, the object as sent
	// less credentials, and _synced_at follow). nil when build makes them.
	columns []column
	// build makes the table of a stream whose columns follow the config.
	build func(slices []string) (Model, error)
}

// Zone says which clock a stream's requests and windows follow.
type Zone int

const (
	// ZoneUTC: rows carry times, which are ambiguous in a zone's repeated
	// DST hour, so they are asked for, planned and read in UTC.
	ZoneUTC Zone = iota
	// ZoneNetwork: the network's zone (api.timezone). stats_daily's day
	// slice is a calendar day of the network, and its rows carry no time.
	ZoneNetwork
)

// Mode says how the rows of a window replace what a table holds. A stream
// declares it, and a sink's transaction (load.Target) carries it, so
// below is the contract every sink keeps.
type Mode int

const (
	// Upsert replaces, key by key, the stored row with the Tx's row and
	// inserts the keys the table lacks; keys the Tx does not write stay as
	// they are, and an Upsert of nothing changes nothing. A later Tx
	// replaces a key's row whatever its version: versions only choose
	// among the rows of one Tx (see load.Tx), since a later Tx carries the
	// API's later answer.
	Upsert Mode = iota
	// ReplaceDays deletes every row whose day (the UTC date of the model's
	// DayColumn) is in [From, To), then inserts the Tx's rows: a day with
	// no new rows ends empty, days outside stay as they were. A row whose
	// day is outside [From, To) would escape the next replace of its own
	// day, so it fails the Tx (at Write or at Commit) and nothing changes.
	ReplaceDays
	// ReplaceTable swaps the whole table for the Tx's rows; a Tx of no
	// records leaves the table empty (a snapshot of nothing): each window
	// is a snapshot.
	ReplaceTable
)

// Defaults are a stream's settings where the config gives none.
type Defaults struct {
	// Schedule is when the daemon runs the stream (a cron spec or @every).
	Schedule string
	// Lookback is how much before the cursor each pass re-reads.
	Lookback time.Duration
	// Slices, when not nil, are the stream's default slices, and the stream
	// takes a slices setting (stats_daily).
	Slices []string
	// AdminDefault: the stream (admin-only, added after affiliate configs
	// were written) is on by default for admin keys only, so such a config
	// that does not name it keeps working.
	AdminDefault bool
	// SettleWindow, when not zero, is how far back by creation date the
	// stream's passes re-read, a slice each, when Affise cannot select it
	// by update time (affiliate keys), and the stream takes a
	// settle_window setting (conversions).
	SettleWindow time.Duration
}

// Model builds the stream's table. slices are the configured slices of a
// stream that takes them (see Defaults.Slices) and are ignored otherwise;
// a bad slice list is an error.
func (s *Stream) Model(slices []string) (Model, error) {
	if s.build != nil {
		return s.build(slices)
	}
	return declaredTable(s), nil
}
