package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// planTimeout bounds one GET /api/plan: planning reads a few rows per
// stream and calls no API.
const planTimeout = 30 * time.Second

// PlanEntry is one stream of GET /api/plan: what Job.Plan returned, or
// why it failed.
type PlanEntry struct {
	Stream string          `json:"stream"`
	Plan   json.RawMessage `json:"plan,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// servePlan answers GET /api/plan[?stream=NAME]: each job's Plan, in Jobs
// order. A stream whose job plans nothing is left out.
func (d *Daemon) servePlan(w http.ResponseWriter, r *http.Request) {
	only := r.URL.Query().Get("stream")
	if only != "" && d.byName[only] == nil {
		http.Error(w, fmt.Sprintf("no stream %q runs in this daemon", only), http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), planTimeout)
	defer cancel()
	out := []PlanEntry{}
	for _, st := range d.streams {
		if st.job.Plan == nil || (only != "" && st.job.Stream != only) {
			continue
		}
		e := PlanEntry{Stream: st.job.Stream}
		v, err := st.job.Plan(ctx)
		if err == nil {
			e.Plan, err = json.Marshal(v)
		}
		if err != nil {
			e.Plan, e.Error = nil, d.redact(err.Error())
		}
		out = append(out, e)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Streams []PlanEntry `json:"streams"`
	}{out})
}

// ErrNoPlan is a daemon that does not serve /api/plan (one older than
// `syncd plan`).
var ErrNoPlan = errors.New("the daemon does not serve /api/plan: restart it with this syncd version")

// RemotePlan GETs /api/plan of the daemon listening on listen, for
// `syncd plan` while the daemon holds the warehouse; stream, when not
// "", asks for that stream only.
func RemotePlan(ctx context.Context, listen, stream string) ([]PlanEntry, error) {
	path := "/api/plan"
	if stream != "" {
		path += "?stream=" + url.QueryEscape(stream)
	}
	entries, err := remoteStreams[PlanEntry](ctx, listen, path)
	var he *remoteHTTPError
	if errors.As(err, &he) && he.code == http.StatusNotFound && stream == "" {
		return nil, ErrNoPlan
	}
	return entries, err
}
