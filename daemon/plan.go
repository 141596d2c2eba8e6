package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/syncd/syncd/models"
)

// planTimeout bounds one GET /api/plan: planning reads a few rows per
// stream and calls no API.
const planTimeout = 30 * time.Second

// PlanEntry is one network's stream of GET /api/plan: what Job.Plan
// returned, or why it failed.
type PlanEntry struct {
	Network string          `json:"network"`
	Stream  string          `json:"stream"`
	Plan    json.RawMessage `json:"plan,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// servePlan answers GET /api/plan[?stream=NAME][&network=NAME]: each
// job's Plan, in Jobs order, of every network or the one asked for. A
// stream whose job plans nothing is left out.
func (d *Daemon) servePlan(w http.ResponseWriter, r *http.Request) {
	only := r.URL.Query().Get("stream")
	network := r.URL.Query().Get("network")
	if network != "" && !slices.Contains(d.networks, network) {
		http.Error(w, fmt.Sprintf("no network %q runs in this daemon (it runs %s)", network, strings.Join(d.networks, ", ")), http.StatusNotFound)
		return
	}
	if only != "" && !slices.ContainsFunc(d.streams, func(st *stream) bool {
		return st.job.Stream == only && (network == "" || st.job.Network == network)
	}) {
		http.Error(w, fmt.Sprintf("no stream %q runs in this daemon", only), http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), planTimeout)
	defer cancel()
	out := []PlanEntry{}
	for _, st := range d.streams {
		if st.job.Plan == nil || (only != "" && st.job.Stream != only) || (network != "" && st.job.Network != network) {
			continue
		}
		e := PlanEntry{Network: st.job.Network, Stream: st.job.Stream}
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
// "", asks for that stream only (of every network: filter on
// PlanEntry.Network for one). A daemon older than networks leaves
// Network "": this sets it to models.DefaultNetwork.
func RemotePlan(ctx context.Context, listen, stream string) ([]PlanEntry, error) {
	path := "/api/plan"
	if stream != "" {
		path += "?stream=" + url.QueryEscape(stream)
	}
	entries, err := remoteStreams[PlanEntry](ctx, listen, path)
	for i := range entries {
		entries[i].Network = cmp.Or(entries[i].Network, models.DefaultNetwork)
	}
	var he *remoteHTTPError
	if errors.As(err, &he) && he.code == http.StatusNotFound && stream == "" {
		return nil, ErrNoPlan
	}
	return entries, err
}
