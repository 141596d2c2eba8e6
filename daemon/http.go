package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncd/syncd/models"
)

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.serveStatusPage)
	mux.HandleFunc("GET /healthz", d.serveHealthz)
	mux.HandleFunc("GET /api/status", d.serveStatusJSON)
	mux.HandleFunc("POST /api/query", d.serveQuery)
	mux.HandleFunc("GET /api/plan", d.servePlan)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// serveHealthz: 200 while no stream has a Problem (stale, cursor in
// future, every pass since start failed), else 503 with a first line
// naming the streams by reason (and network, when there are several).
// One line per stream follows: "conversions: fresh, ..." for a single-api
// config, "network beta: stream conversions: failing, ..." otherwise, so
// every network's health shows whatever another's is.
func (d *Daemon) serveHealthz(w http.ResponseWriter, r *http.Request) {
	now := d.now()
	statuses := d.Status()
	var lines []string
	for _, s := range statuses {
		line := fmt.Sprintf("%s: %s", s.Stream, s.State)
		if d.multi {
			line = fmt.Sprintf("network %s: stream %s: %s", s.Network, s.Stream, s.State)
		}
		if s.CursorInFuture {
			line += fmt.Sprintf(", cursor %s is %s ahead of now (fix: %s, with syncd run stopped)",
				s.Cursor.UTC().Format(time.RFC3339), humanDuration(s.Cursor.Sub(now)), s.Fix)
		}
		if s.Problem == ProblemFailingSinceStart {
			if s.PassesSinceStart == 1 {
				line += ", its one pass since start failed"
			} else {
				line += fmt.Sprintf(", all %d passes since start failed", s.PassesSinceStart)
			}
		}
		switch {
		case s.LastSuccess.IsZero():
			line += fmt.Sprintf(", no successful pass yet (up %s, allowed %s)", humanDuration(s.Age), humanDuration(s.Staleness))
		default:
			line += fmt.Sprintf(", last success %s ago (allowed %s)", humanDuration(now.Sub(s.LastSuccess)), humanDuration(s.Staleness))
		}
		// A refused pass's error only repeats what the line says already.
		if s.Failures > 0 && s.LastError != "" && !s.CursorInFuture {
			line += ": " + oneLine(s.LastError, 300)
		}
		lines = append(lines, line)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if summary := healthSummary(statuses, d.multi); summary != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, summary)
	} else {
		fmt.Fprintln(w, "ok")
	}
	if r.Method != http.MethodHead {
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
}

// healthSummary names the unhealthy streams by reason, most urgent first
// ("cursor in future: clicks; stale: offers, partners"); with multi, by
// network first, in the order the networks come ("network beta: every
// pass since start failed: conversions, offers; network alpha: stale:
// clicks"). Empty when every stream is healthy. It is /healthz's first
// line and the status page's headline, so the two never disagree.
func healthSummary(statuses []StreamStatus, multi bool) string {
	var networks []string
	byNetwork := map[string][]StreamStatus{}
	for _, s := range statuses {
		if s.Problem == "" {
			continue
		}
		if _, seen := byNetwork[s.Network]; !seen {
			networks = append(networks, s.Network)
		}
		byNetwork[s.Network] = append(byNetwork[s.Network], s)
	}
	var parts []string
	for _, n := range networks {
		by := map[string][]string{}
		for _, s := range byNetwork[n] {
			by[s.Problem] = append(by[s.Problem], s.Stream)
		}
		var problems []string
		for _, p := range []string{ProblemCursorInFuture, ProblemStale, ProblemFailingSinceStart} {
			if names := by[p]; len(names) > 0 {
				problems = append(problems, p+": "+strings.Join(names, ", "))
			}
		}
		if multi {
			parts = append(parts, "network "+n+": "+strings.Join(problems, "; "))
		} else {
			parts = append(parts, problems...)
		}
	}
	return strings.Join(parts, "; ")
}

func (d *Daemon) serveStatusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Started  time.Time      `json:"started"`
		Networks []string       `json:"networks"`
		Streams  []StreamStatus `json:"streams"`
	}{d.started, d.networks, d.Status()})
}

// oneLine flattens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// clientAddr turns a listen address into one to dial: an unspecified host
// (":9464", "0.0.0.0:9464", "[::]:9464") means this machine.
func clientAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// CheckHealth GETs /healthz of the daemon listening on listen (for a
// container HEALTHCHECK): nil on 200, else an error carrying the reply.
func CheckHealth(ctx context.Context, listen string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+clientAddr(listen)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("daemon at %s: %w", listen, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("daemon at %s: HTTP %d: %s", listen, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// RemoteStatus GETs /api/status of the daemon listening on listen: every
// network's streams' state, in the daemon's order, for `syncd state` while
// the daemon holds the warehouse (filter on StreamStatus.Network for one
// network). A daemon older than networks leaves Network "": this sets it
// to models.DefaultNetwork, the one network such a daemon ran.
func RemoteStatus(ctx context.Context, listen string) ([]StreamStatus, error) {
	sts, err := remoteStreams[StreamStatus](ctx, listen, "/api/status")
	for i := range sts {
		sts[i].Network = cmp.Or(sts[i].Network, models.DefaultNetwork)
	}
	return sts, err
}

// remoteHTTPError is a daemon's answer other than 200 to a GET of its API.
type remoteHTTPError struct {
	path string
	code int
	body string
}

func (e *remoteHTTPError) Error() string {
	msg := fmt.Sprintf("GET %s: HTTP %d", e.path, e.code)
	if e.body != "" {
		msg += ": " + e.body
	}
	return msg
}

// remoteStreams GETs path (with its query) of the daemon at listen and
// decodes the "streams" of its JSON answer; any other answer than 200 is a
// *remoteHTTPError.
func remoteStreams[T any](ctx context.Context, listen, path string) ([]T, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+clientAddr(listen)+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	endpoint, _, _ := strings.Cut(path, "?")
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, &remoteHTTPError{path: endpoint, code: resp.StatusCode, body: strings.TrimSpace(string(body))}
	}
	var answer struct {
		Streams []T `json:"streams"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return nil, fmt.Errorf("GET %s: %w", endpoint, err)
	}
	return answer.Streams, nil
}
