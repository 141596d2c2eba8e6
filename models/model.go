// Package models declares each stream once, in its own file: where Affise
// serves it and how it is walked (see Stream), and the table it fills: the
// columns with the JSON path and type of each, from which the Arrow schema
// and the record builder derive. Registry lists the streams. A table is
// described neutrally (Schema, Key, Version, DayColumn): each sink derives
// its own DDL or layout from that.
package models

import (
	"encoding/json"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Model is one warehouse table fed by one stream.
type Model interface {
	// Table is the table (and Parquet directory) name.
	Table() string
	// Schema is the Arrow schema of the records the builder produces.
	Schema() *arrow.Schema
	// Key lists the columns that identify a row; upserts match on them.
	// NetworkColumn is always the first.
	Key() []string
	// DayColumn names the DATE/TIMESTAMP column whose day a replace-days load
	// and Parquet partitioning use ("" when the table has none).
	DayColumn() string
	// Version names the column whose larger value is the newer version of
	// a row (updated_at; "" when rows carry none): of rows with one key, a
	// sink keeps the latest version, then the last written.
	Version() string
	// Original names the column that holds, with the typed columns, the
	// object each row was decoded from (raw; "" when none): raw keeps the
	// members no typed column gives back exactly (see Folds). Every other
	// column save _synced_at is decoded from the object, so a row whose
	// columns save _synced_at all equal the stored row's of the same key
	// is that row unchanged: a sink may leave the stored row (and its
	// _synced_at) be, and a lookback's re-read then writes only what
	// changed.
	Original() string
	// NewBuilder starts a batch of network's rows: network fills
	// NetworkColumn (a valid network name, see ValidNetworkName). loc is
	// the zone the API's naive timestamps are in (the timezone= the rows
	// were requested with); syncedAt fills _synced_at.
	NewBuilder(mem memory.Allocator, network string, loc *time.Location, syncedAt time.Time) Builder
}

// Builder appends API objects to a growing Arrow record.
type Builder interface {
	// Append decodes one element of the response's list. A malformed object is
	// an error naming the field; unknown fields are kept in raw.
	Append(obj json.RawMessage) error
	// AppendNew is Append for a caller that drops rows it has seen: seen is
	// given the decoded row's key (its key columns, encoded so that two rows
	// have equal keys exactly when the table takes them for one row; the
	// bytes are valid during the call only), and the row is appended unless
	// seen returns true. A malformed object is an error before seen is
	// called; appended reports whether the row was added.
	AppendNew(obj json.RawMessage, seen func(key []byte) bool) (appended bool, err error)
	// Len is the number of rows appended since the last NewRecord.
	Len() int
	// NewRecord hands over the rows appended so far and resets the builder.
	NewRecord() arrow.RecordBatch
	Release()
}

// ValidNetworkName reports whether name can name a network: 1 to 40 of
// a-z, 0-9, '_' and '-', starting with a letter or digit. It is a value in
// every row, a lake directory (network=<name>) and a metrics label, so
// nothing that needs quoting or escaping is allowed.
func ValidNetworkName(name string) bool {
	if name == "" || len(name) > 40 || name[0] == '-' || name[0] == '_' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
