// Package pgserver serves the warehouse to PostgreSQL clients (psql,
// Grafana, Metabase, Superset, DBeaver, any driver) over the PostgreSQL
// wire protocol, so BI tools read it while the daemon writes it.
//
// It speaks protocol 3.0 with jackc/pgx's pgproto3: password
// authentication by SCRAM-SHA-256, TLS when configured, the simple and
// the extended query protocol (parameters, prepared statements, portals).
// Every statement that reaches the warehouse goes through a Querier,
// which runs it only when it cannot change anything: the server adds no
// way to write, and what it answers itself (SET of a session setting,
// BEGIN, SHOW server_version) touches no warehouse setting. Clients'
// catalog queries are rewritten for DuckDB (rewrite.go, catalog.go).
//
// The SQL engine behind the Querier is DuckDB (its type names and Go
// values are mapped to PostgreSQL's here); which warehouse it reads, a
// DuckDB file or a Parquet lake, the server neither knows nor needs to.
package pgserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Querier runs clients' SQL read-only. An adapter over sqlguard.Guard
// implements it; the statements it gets have been rewritten for DuckDB but
// not checked: checking is its job.
type Querier interface {
	// Describe checks stmt as Query does and, without running it, says
	// what parameters ($1, $2, ...) it takes and what columns it returns.
	Describe(ctx context.Context, stmt string) (Shape, error)
	// Query runs stmt only when it cannot change anything (the warehouse,
	// a setting, a file), with args bound to its parameters as values,
	// and hands its rows to read; the rows are closed when read returns.
	// It ends soon after ctx does. A refused statement runs nothing and
	// its error wraps ErrRefused; one DuckDB cannot parse wraps
	// ErrSyntax. Safe for concurrent use.
	Query(ctx context.Context, stmt string, args []any, read func(*sql.Rows) error) error
}

// Shape is what a statement takes and returns, in DuckDB's type names.
type Shape struct {
	Params  []string // "" where the type depends on the value bound
	Columns []Column
}

// Column is a result column: its name and DuckDB type ("" when unknown
// until parameters are bound).
type Column struct {
	Name string
	Type string
}

// Errors a Querier wraps, so clients get the SQLSTATE that says what went
// wrong.
var (
	ErrRefused = errors.New("refused")
	ErrSyntax  = errors.New("syntax error")
)

// Defaults of Config.
const (
	DefaultMaxSessions = 16
	DefaultMaxRunning  = 4
	// DefaultStatementTimeout is /api/query's: long enough for any report
	// over years of data, short enough that a forgotten query ends.
	DefaultStatementTimeout = 10 * time.Minute
	// ServerVersion is the PostgreSQL version reported to clients, which
	// pick their catalog queries by it: 15, whose psql queries are tested.
	ServerVersion    = "15.0"
	serverVersionNum = "150000"
)

// Config configures a Server. Listener, Querier, User and Password are
// required.
type Config struct {
	// Listener accepts clients; the caller opens it, so a bad address
	// fails before anything else starts. Serve closes it.
	Listener net.Listener
	Querier  Querier
	User     string
	// Tables are the warehouse's tables; clients see them as tables even
	// where the engine has them as views (a Parquet lake's).
	Tables []string
	// Password is checked by SCRAM-SHA-256; only salted keys derived from
	// it are kept.
	Password string
	// TLS, when set, is required of every client (sslmode=require or
	// stricter); without it clients connect in the clear.
	TLS *tls.Config
	// MaxSessions bounds the sessions open at once (default 16); the next
	// client is told "too many connections" (SQLSTATE 53300).
	MaxSessions int
	// MaxRunning bounds the statements running at once across sessions
	// (default 4); the next waits, its wait counting against its timeout.
	MaxRunning int
	// StatementTimeout bounds one statement (default 10 minutes); a
	// session's statement_timeout may lower it, never raise it.
	StatementTimeout time.Duration
	Log              zerolog.Logger
	// Registerer receives the server's metrics (nil: none).
	Registerer prometheus.Registerer
	// Redact scrubs secrets from error text sent to clients or logged.
	Redact func(string) string
	// Version is syncd's, shown in version().
	Version string
}

// Server serves PostgreSQL clients. Create it with New; Serve runs it.
type Server struct {
	cfg       Config
	log       zerolog.Logger
	secret    *scramSecret
	relations map[string]string
	running   chan struct{}
	sessions  chan struct{}
	// handshakes bounds connections not yet logged in, which hold no
	// session slot.
	handshakes chan struct{}
	metrics    *metrics

	mu   sync.Mutex
	live map[uint32]*session // by process id, for CancelRequest
	seq  atomic.Uint32
}

// New checks cfg and derives the password's SCRAM keys; nothing is served
// until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Listener == nil || cfg.Querier == nil {
		return nil, errors.New("pgserver: a listener and a querier are required")
	}
	if cfg.User == "" || cfg.Password == "" {
		return nil, errors.New("pgserver: a user and a password are required")
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.MaxRunning <= 0 {
		cfg.MaxRunning = DefaultMaxRunning
	}
	if cfg.StatementTimeout <= 0 {
		cfg.StatementTimeout = DefaultStatementTimeout
	}
	if cfg.Redact == nil {
		cfg.Redact = func(s string) string { return s }
	}
	secret, err := newSCRAMSecret(cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("pgserver: deriving the password's keys: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Log,
		secret:     secret,
		relations:  newRelations(cfg.User, cfg.Tables),
		running:    make(chan struct{}, cfg.MaxRunning),
		sessions:   make(chan struct{}, cfg.MaxSessions),
		handshakes: make(chan struct{}, 4*cfg.MaxSessions),
		metrics:    m,
		live:       map[uint32]*session{},
	}
	// Drop the plain password: the keys are all authentication needs.
	s.cfg.Password = ""
	return s, nil
}

// Close closes the listener of a server whose Serve never ran (Serve
// closes it itself).
func (s *Server) Close() error { return s.cfg.Listener.Close() }

// Addr is where clients connect.
func (s *Server) Addr() net.Addr { return s.cfg.Listener.Addr() }

// Serve accepts clients until ctx ends, then closes the listener, ends
// every session (a statement in flight is cancelled, the client told the
// server is shutting down) and returns once they are gone.
func (s *Server) Serve(ctx context.Context) error {
	ln := s.cfg.Listener
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	s.log.Info().Str("listen", ln.Addr().String()).Bool("tls", s.cfg.TLS != nil).Msg("postgres endpoint started")
	var wg sync.WaitGroup
	var serveErr error
	delay := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				time.Sleep(delay)
				delay = min(2*delay, time.Second)
				continue
			}
			serveErr = fmt.Errorf("pgserver: accepting clients: %w", err)
			break
		}
		delay = 5 * time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
	_ = ln.Close()
	// Sessions end within moments of ctx (their statements are
	// cancelled, their reads interrupted); one stuck writing to a client
	// that does not read is cut off.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		s.mu.Lock()
		for _, sess := range s.live {
			_ = sess.conn.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.log.Info().Msg("postgres endpoint stopped")
	return serveErr
}

// serveConn runs one connection: the startup handshake (TLS, a cancel
// request, or a login), then the session.
func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	defer func() {
		// A bug in one session must not end the daemon.
		if r := recover(); r != nil {
			s.log.Error().Str("panic", s.cfg.Redact(fmt.Sprint(r))).Str("stack", string(debug.Stack())).Msg("postgres session failed")
		}
	}()
	select {
	case s.handshakes <- struct{}{}:
	default:
		// Far more clients logging in at once than sessions allowed: a
		// flood, not a pool.
		s.metrics.rejected.WithLabelValues("handshakes").Inc()
		return
	}
	released := false
	release := func() {
		if !released {
			released = true
			<-s.handshakes
		}
	}
	defer release()
	// Logging in must not take forever: a client that stalls here holds
	// a goroutine and a socket. Nor may it hold up a shutdown.
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	stopHandshake := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stopHandshake()
	be := pgproto3.NewBackend(conn, conn)
	be.SetMaxBodyLen(maxMessageBytes)
	tlsDone := false
	var startup *pgproto3.StartupMessage
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if s.cfg.TLS == nil || tlsDone {
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return
				}
				continue
			}
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return
			}
			tc := tls.Server(conn, s.cfg.TLS)
			if err := tc.HandshakeContext(ctx); err != nil {
				s.log.Debug().Err(err).Str("client", conn.RemoteAddr().String()).Msg("postgres: TLS handshake failed")
				return
			}
			conn, tlsDone = tc, true
			defer tc.Close()
			be = pgproto3.NewBackend(conn, conn)
			be.SetMaxBodyLen(maxMessageBytes)
		case *pgproto3.GSSEncRequest:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return
			}
		case *pgproto3.CancelRequest:
			s.cancel(m.ProcessID, m.SecretKey)
			return
		case *pgproto3.StartupMessage:
			startup = m
		}
	}
	if s.cfg.TLS != nil && !tlsDone {
		s.metrics.rejected.WithLabelValues("tls_required").Inc()
		fatal(be, "28000", "this server requires TLS: connect with sslmode=require (or verify-full)")
		return
	}
	negotiate(be, startup)
	if _, ok := startup.Parameters["replication"]; ok {
		fatal(be, "0A000", "replication connections are not supported")
		return
	}
	user := startup.Parameters["user"]
	if !s.authenticate(be, user) {
		s.metrics.authFailures.Inc()
		s.log.Warn().Str("client", conn.RemoteAddr().String()).Str("user", user).Msg("postgres: authentication failed")
		return
	}
	select {
	case s.sessions <- struct{}{}:
	default:
		s.metrics.rejected.WithLabelValues("too_many").Inc()
		fatal(be, "53300", fmt.Sprintf("sorry, too many clients already (postgres endpoint: at most %d sessions)", s.cfg.MaxSessions))
		return
	}
	defer func() { <-s.sessions }()
	release()
	_ = conn.SetDeadline(time.Time{})

	sess := s.newSession(conn, be, startup.Parameters)
	s.mu.Lock()
	s.live[sess.pid] = sess
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.live, sess.pid)
		s.mu.Unlock()
	}()
	s.metrics.sessions.Inc()
	defer s.metrics.sessions.Dec()
	sess.run(ctx)
}

// authenticate runs SCRAM-SHA-256 for user and says whether the client
// logged in; a wrong user or password both fail as PostgreSQL fails them,
// after the whole exchange, so neither is told apart.
func (s *Server) authenticate(be *pgproto3.Backend, user string) bool {
	fail := func() bool {
		// A pause that makes guessing slow without holding much.
		time.Sleep(250 * time.Millisecond)
		fatal(be, "28P01", fmt.Sprintf("password authentication failed for user %q", user))
		return false
	}
	be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}})
	if err := be.Flush(); err != nil {
		return false
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return false
	}
	msg, err := be.Receive()
	if err != nil {
		return false
	}
	initial, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || initial.AuthMechanism != scramMechanism {
		return fail()
	}
	x := &scramExchange{secret: s.secret}
	serverFirst, err := x.first(initial.Data)
	if err != nil {
		return fail()
	}
	be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := be.Flush(); err != nil {
		return false
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return false
	}
	msg, err = be.Receive()
	if err != nil {
		return false
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return fail()
	}
	serverFinal, err := x.final(resp.Data)
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.User)) == 1
	if err != nil || !userOK {
		return fail()
	}
	be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)})
	be.Send(&pgproto3.AuthenticationOk{})
	_ = be.SetAuthType(pgproto3.AuthTypeOk)
	return true
}

// negotiate answers a client asking for protocol 3.2 or for protocol
// options (_pq_.*): this server speaks 3.0 and knows no option, and says
// so as PostgreSQL does, before authentication.
func negotiate(be *pgproto3.Backend, startup *pgproto3.StartupMessage) {
	var unknown []string
	for k := range startup.Parameters {
		if strings.HasPrefix(k, "_pq_.") {
			unknown = append(unknown, k)
		}
	}
	if startup.ProtocolVersion == pgproto3.ProtocolVersion30 && len(unknown) == 0 {
		return
	}
	sort.Strings(unknown)
	be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknown})
}

// cancel handles a CancelRequest: the statement running in the session
// with that process id and secret ends with "canceling statement due to
// user request".
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	sess := s.live[pid]
	s.mu.Unlock()
	if sess == nil || subtle.ConstantTimeCompare(secret, sess.secret) != 1 {
		return
	}
	sess.cancelStatement()
}

// newProcessID is a session's process id: unique among live sessions and
// not guessable from the last, since only the secret guards cancels.
func (s *Server) newProcessID() (uint32, []byte) {
	secret := make([]byte, 4)
	_, _ = rand.Read(secret)
	var b [4]byte
	_, _ = rand.Read(b[:])
	pid := (binary.BigEndian.Uint32(b[:])&0x3fffff)<<8 | s.seq.Add(1)&0xff
	if pid == 0 {
		pid = 1
	}
	return pid, secret
}

// fatal sends a FATAL error; the caller then closes the connection.
func fatal(be *pgproto3.Backend, code, msg string) {
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
	_ = be.Flush()
}

var errTooManyFiles = syscall.EMFILE

// maxMessageBytes bounds one client message (a statement with its
// parameters).
const maxMessageBytes = 8 << 20
