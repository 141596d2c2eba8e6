package models

import (
	"fmt"
	"time"

	"github.com/syncd/syncd/plan"
)

// postbacksStream is what both postback streams share: Affise serves them
// alike (rows under "postbacks", a Mongo _id, a Unix date), walked by day
// and re-read over two days; cols are the stream's own columns after id
// and date.
func postbacksStream(name, endpoint string, cols ...column) *Stream {
	return &Stream{
		Name: name, Endpoint: endpoint, ListKey: "postbacks",
		Planner: plan.Days{}, Zone: ZoneUTC, Mode: Upsert,
		Defaults: Defaults{Schedule: "@every 1h", Lookback: 48 * time.Hour},
		Key:      []string{"id"}, Day: "date",
		columns: append([]column{
			{name: "id", typ: tString, from: at("_id"), dec: (*rowState).mongoID},
			{name: "date", typ: tTimestamp, dec: (*rowState).unixDate},
		}, cols...),
	}
}

// Shared decoding of the Mongo-style postback shapes.

// mongoID decodes {"$id": "..."} (or a plain string id) into a string cell;
// errors name the field by the shape found.
func (r *rowState) mongoID(col int, _ string, v []byte) {
	if len(v) > 0 && v[0] == '{' {
		r.reqStr(col, "_id.$id", member(v, "$id"))
		return
	}
	r.reqStr(col, "_id", v)
}

// unixDate decodes {"sec": 1496686109, "usec": 35000} (Unix time, already
// UTC) into a timestamp cell. A naive "YYYY-MM-DD HH:MM:SS" string is also
// accepted (in the builder's zone); null/missing is NULL.
func (r *rowState) unixDate(col int, field string, v []byte) {
	if len(v) == 0 || v[0] != '{' {
		r.ts(col, field, v)
		return
	}
	sec, okS, err := intOf(member(v, "sec"))
	if err != nil {
		r.fail(field+".sec", err)
		return
	}
	usec, _, err := intOf(member(v, "usec"))
	if err != nil {
		r.fail(field+".usec", err)
		return
	}
	if !okS {
		r.set(col, cell{null: true})
		return
	}
	const maxSec = 1 << 43 // far beyond any real date; keeps sec*1e6 in int64
	if sec < -maxSec || sec > maxSec || usec < 0 || usec >= 1_000_000 {
		r.fail(field, fmt.Errorf("sec=%d usec=%d out of range", sec, usec))
		return
	}
	r.set(col, cell{i: sec*1_000_000 + usec})
}
