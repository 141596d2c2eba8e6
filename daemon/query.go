package daemon

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/syncd/syncd/internal/tabular"
)

// Query routing (DESIGN guarantee 6). DuckDB lets one process open a file
// read-write and no other process open it at all, but within that process
// readers and the writer run side by side (MVCC). So while `syncd run`
// holds the warehouse, `syncd query` sends its SQL to the daemon's
// POST /api/query, which runs it on a connection of its own inside the
// daemon: the query sees the last committed state, never blocks a load and
// is never blocked by one. Config.ClientSQL decides what runs: only
// read-only statements, by construction (package sqlguard).

// QueryRequest is the body of POST /api/query.
type QueryRequest struct {
	SQL    string `json:"sql"`
	Format string `json:"format"` // table (default), csv or json
}

// maxQueryBody bounds the request body; bufferLimit is how much output is
// held back so an error while reading rows can still be a clean HTTP 400.
const (
	maxQueryBody = 1 << 20
	bufferLimit  = 256 << 10
	errorTrailer = "X-Syncd-Error"
)

func (d *Daemon) serveQuery(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintln(w, oneLine(d.redact(msg), 2000))
	}
	if !isLoopback(r.RemoteAddr) {
		fail(http.StatusForbidden, "query: only clients on this machine may query through the daemon")
		return
	}
	if !loopbackHost(r.Host) {
		// A browser tricked by DNS rebinding sends the attacker's name.
		fail(http.StatusForbidden, "query: Host must be an IP address or localhost")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		// Forces a CORS preflight on any cross-site browser request.
		fail(http.StatusUnsupportedMediaType, "query: send the request as application/json")
		return
	}
	if d.cfg.ClientSQL == nil {
		fail(http.StatusServiceUnavailable, "query: this daemon has no warehouse to query")
		return
	}
	var req QueryRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxQueryBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fail(http.StatusBadRequest, "query: bad request body: "+err.Error())
		return
	}
	if req.Format == "" {
		req.Format = "table"
	}
	if !tabular.Valid(req.Format) {
		fail(http.StatusBadRequest, fmt.Sprintf("query: format %q: use table, csv or json", req.Format))
		return
	}
	if strings.TrimSpace(req.SQL) == "" {
		fail(http.StatusBadRequest, "query: empty SQL")
		return
	}
	select {
	case d.querySem <- struct{}{}:
		defer func() { <-d.querySem }()
	case <-r.Context().Done():
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d.cfg.QueryTimeout)
	defer cancel()

	out := &heldWriter{w: w, redact: d.redact}
	if err := d.runQuery(ctx, req, out); err != nil {
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("query: took longer than %s", d.cfg.QueryTimeout)
		}
		if !out.committed {
			fail(http.StatusBadRequest, msg)
			return
		}
		_ = out.flush()
		w.Header().Set(errorTrailer, oneLine(d.redact(msg), 2000))
		return
	}
	_ = out.flush()
}

func (d *Daemon) runQuery(ctx context.Context, req QueryRequest, out io.Writer) error {
	err := d.cfg.ClientSQL.RunReadOnly(ctx, "", req.SQL, func(rows *sql.Rows) error {
		return tabular.Write(out, rows, req.Format)
	})
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return nil
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.Trim(host, "[]")
	return strings.EqualFold(host, "localhost") || net.ParseIP(host) != nil
}

// heldWriter buffers output up to bufferLimit before committing to an HTTP
// 200, so errors in small results still come back as a 400. It redacts
// line by line (every format ends rows with a newline).
type heldWriter struct {
	w         http.ResponseWriter
	redact    func(string) string
	buf       bytes.Buffer // redacted, not yet sent
	line      []byte       // the current unfinished line
	committed bool
}

func (h *heldWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			h.line = append(h.line, p...)
			break
		}
		h.line = append(h.line, p[:i+1]...)
		h.buf.WriteString(h.redact(string(h.line)))
		h.line = h.line[:0]
		p = p[i+1:]
	}
	if h.buf.Len() >= bufferLimit {
		if err := h.send(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (h *heldWriter) send() error {
	if !h.committed {
		h.committed = true
		h.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		h.w.Header().Set("Trailer", errorTrailer)
		h.w.WriteHeader(http.StatusOK)
	}
	_, err := h.w.Write(h.buf.Bytes())
	h.buf.Reset()
	if f, ok := h.w.(http.Flusher); ok {
		f.Flush()
	}
	return err
}

func (h *heldWriter) flush() error {
	if len(h.line) > 0 {
		h.buf.WriteString(h.redact(string(h.line)))
		h.line = h.line[:0]
	}
	return h.send()
}

// QueryRemote runs sql through the daemon listening on listen (http.listen)
// and copies the formatted result to w. A rejected or failed query returns
// the daemon's one-line message as the error.
func QueryRemote(ctx context.Context, listen, sql, format string, w io.Writer) error {
	body, err := json.Marshal(QueryRequest{SQL: sql, Format: format})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+clientAddr(listen)+"/api/query", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the warehouse is locked by another process and the daemon at %s did not answer: %w", listen, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
		text := strings.TrimSpace(string(msg))
		if text == "" {
			text = resp.Status
		}
		if resp.StatusCode == http.StatusNotFound {
			text = fmt.Sprintf("%s answers 404: is it a syncd daemon? (%s)", listen, text)
		}
		return fmt.Errorf("%s", strings.TrimPrefix(text, "query: "))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if msg := resp.Trailer.Get(errorTrailer); msg != "" {
		return fmt.Errorf("%s", strings.TrimPrefix(msg, "query: "))
	}
	return nil
}
