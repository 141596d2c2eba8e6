package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.serveStatusPage)
	mux.HandleFunc("GET /healthz", d.serveHealthz)
	mux.HandleFunc("GET /api/status", d.serveStatusJSON)
	mux.HandleFunc("POST /api/query", d.serveQuery)
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

// serveHealthz: 200 while every stream had a successful pass within its
// staleness, 503 naming the stale ones otherwise. One line per stream.
func (d *Daemon) serveHealthz(w http.ResponseWriter, r *http.Request) {
	var stale, lines []string
	for _, s := range d.Status() {
		line := fmt.Sprintf("%s: %s", s.Stream, s.State)
		switch {
		case s.LastSuccess.IsZero():
			line += fmt.Sprintf(", no successful pass yet (up %s, allowed %s)", humanDuration(s.Age), humanDuration(s.Staleness))
		default:
			line += fmt.Sprintf(", last success %s ago (allowed %s)", humanDuration(d.now().Sub(s.LastSuccess)), humanDuration(s.Staleness))
		}
		if s.Failures > 0 && s.LastError != "" {
			line += ": " + oneLine(s.LastError, 300)
		}
		lines = append(lines, line)
		if s.Stale {
			stale = append(stale, s.Stream)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(stale) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "stale: %s\n", strings.Join(stale, ", "))
	} else {
		fmt.Fprintln(w, "ok")
	}
	if r.Method != http.MethodHead {
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
}

func (d *Daemon) serveStatusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Started time.Time      `json:"started"`
		Streams []StreamStatus `json:"streams"`
	}{d.started, d.Status()})
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
