package pgserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/rs/zerolog"
)

type txState byte

// The transaction states ReadyForQuery reports. A transaction block holds
// no snapshot of its own (each statement reads the last committed state);
// it is kept so clients that wrap queries in BEGIN ... COMMIT see what
// they expect, including the failed state after an error.
const (
	txIdle   txState = 'I'
	txBlock  txState = 'T'
	txFailed txState = 'E'
)

// session is one logged-in client.
type session struct {
	srv    *Server
	conn   net.Conn
	be     *pgproto3.Backend
	log    zerolog.Logger
	pid    uint32
	secret []byte
	user   string

	settings map[string]string
	tx       txState
	stmts    map[string]*prepared
	portals  map[string]*portal
	rw       *rewriter
	types    *pgtype.Map
	// skipping: an extended-protocol message failed; the rest up to Sync
	// is skipped, as PostgreSQL does.
	skipping bool
	// pending counts bytes sent but not flushed.
	pending int

	mu        sync.Mutex
	cancelRun *statementCancel // of the statement started last, if running
}

// statementCancel ends one statement; a pointer, so a statement that ends
// clears it only when no later one replaced it.
type statementCancel struct{ cancel context.CancelCauseFunc }

// prepared is a parsed statement: a session command, or SQL for the
// warehouse with its shape.
type prepared struct {
	text    string // as the client sent it
	empty   bool
	cmd     bool
	run     string // rewritten for DuckDB
	params  []uint32
	columns []column
}

// column is a result column as the client is told of it.
type column struct {
	name   string
	oid    uint32
	typmod int32
}

// portal is a bound statement, possibly half read.
type portal struct {
	stmt    *prepared
	args    []any
	formats []int16 // per column
	// simple: a Query message's statement, never described, whose row
	// description goes first, in text.
	simple bool
	cur    *cursor
	done   bool
}

// errCancelRequested and errSessionEnded are why a statement's context
// was cancelled.
var (
	errCancelRequested = errors.New("canceling statement due to user request")
	errSessionEnded    = errors.New("terminating connection due to administrator command")
)

func (s *Server) newSession(conn net.Conn, be *pgproto3.Backend, params map[string]string) *session {
	sess := &session{
		srv:      s,
		conn:     conn,
		be:       be,
		user:     params["user"],
		settings: map[string]string{},
		tx:       txIdle,
		stmts:    map[string]*prepared{},
		portals:  map[string]*portal{},
		types:    pgtype.NewMap(),
	}
	for k, v := range settingDefaults {
		sess.settings[k] = v
	}
	if v := params["application_name"]; v != "" {
		sess.settings["application_name"] = v
	}
	s.mu.Lock()
	for {
		sess.pid, sess.secret = s.newProcessID()
		if _, taken := s.live[sess.pid]; !taken {
			break
		}
	}
	s.mu.Unlock()
	sess.log = s.log.With().Uint32("pg_pid", sess.pid).Str("client", conn.RemoteAddr().String()).Logger()
	sess.rw = newRewriter(s.relations, s.cfg.User, fmt.Sprintf("PostgreSQL %s (syncd %s; DuckDB underneath, read-only)", ServerVersion, s.cfg.Version), sess.pid, sess.setting)
	return sess
}

// run serves the session until the client leaves or ctx ends.
func (s *session) run(ctx context.Context) {
	for _, p := range [][2]string{
		{"server_version", ServerVersion}, {"server_encoding", "UTF8"}, {"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}, {"IntervalStyle", "postgres"},
		{"integer_datetimes", "on"}, {"standard_conforming_strings", "on"},
		{"application_name", s.settings["application_name"]}, {"is_superuser", "off"},
		{"session_authorization", s.user}, {"default_transaction_read_only", "on"}, {"in_hot_standby", "off"},
	} {
		s.be.Send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	s.be.Send(&pgproto3.BackendKeyData{ProcessID: s.pid, SecretKey: s.secret})
	s.ready()
	if err := s.flush(); err != nil {
		return
	}
	s.log.Debug().Str("user", s.user).Msg("postgres session started")
	defer s.closeAll()

	// On shutdown a blocked read returns at once.
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		msg, err := s.be.Receive()
		if ctx.Err() != nil {
			_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
			fatal(s.be, "57P01", errSessionEnded.Error())
			return
		}
		if err != nil {
			var tooLong *pgproto3.ExceededMaxBodyLenErr
			if errors.As(err, &tooLong) {
				fatal(s.be, "54000", fmt.Sprintf("message of %d bytes is longer than %d", tooLong.ActualBodyLen, maxMessageBytes))
			}
			return
		}
		if _, ok := msg.(*pgproto3.Terminate); ok {
			return
		}
		if err := s.handle(ctx, msg); err != nil {
			return
		}
	}
}

// handle answers one message; an error ends the session (the connection
// failed or the protocol was broken).
func (s *session) handle(ctx context.Context, msg pgproto3.FrontendMessage) error {
	if s.skipping {
		if _, ok := msg.(*pgproto3.Sync); !ok {
			return nil
		}
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		s.simpleQuery(ctx, m.String)
		s.ready()
		return s.flush()
	case *pgproto3.Parse:
		if err := s.parse(ctx, m); err != nil {
			s.extendedError(err)
			return nil
		}
		s.be.Send(&pgproto3.ParseComplete{})
	case *pgproto3.Bind:
		if err := s.bind(m); err != nil {
			s.extendedError(err)
			return nil
		}
		s.be.Send(&pgproto3.BindComplete{})
	case *pgproto3.Describe:
		if err := s.describe(m); err != nil {
			s.extendedError(err)
		}
	case *pgproto3.Execute:
		p, ok := s.portals[m.Portal]
		if !ok {
			s.extendedError(refusef("34000", "portal %q does not exist", m.Portal))
			return nil
		}
		if err := s.execute(ctx, p, int(m.MaxRows)); err != nil {
			s.extendedError(err)
		}
	case *pgproto3.Close:
		if m.ObjectType == 'S' {
			delete(s.stmts, m.Name)
		} else if p, ok := s.portals[m.Name]; ok {
			p.close()
			delete(s.portals, m.Name)
		}
		s.be.Send(&pgproto3.CloseComplete{})
	case *pgproto3.Sync:
		s.skipping = false
		if s.tx == txIdle {
			// The implicit transaction ends: so do its portals.
			s.closePortals()
		}
		s.ready()
		return s.flush()
	case *pgproto3.Flush:
		return s.flush()
	case *pgproto3.FunctionCall:
		s.sendError(refusef("0A000", "the function call protocol is not supported"))
		s.ready()
		return s.flush()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// No COPY FROM STDIN is ever started; stray copy data is ignored,
		// as PostgreSQL does.
	default:
		return fmt.Errorf("unexpected message %T", msg)
	}
	if s.pending > flushBytes {
		return s.flush()
	}
	return nil
}

const flushBytes = 64 << 10

func (s *session) ready() { s.be.Send(&pgproto3.ReadyForQuery{TxStatus: byte(s.tx)}) }

// flush sends what is buffered; a client that stops reading for two
// minutes is gone.
func (s *session) flush() error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(2 * time.Minute))
	s.pending = 0
	return s.be.Flush()
}

func (s *session) reportSetting(name, v string) {
	s.be.Send(&pgproto3.ParameterStatus{Name: name, Value: v})
}

// simpleQuery runs a Query message: each statement in turn, stopping at
// the first error.
func (s *session) simpleQuery(ctx context.Context, text string) {
	stmts := splitStatements(text)
	if len(stmts) == 0 {
		s.be.Send(&pgproto3.EmptyQueryResponse{})
		return
	}
	for _, stmt := range stmts {
		if err := s.runSimple(ctx, stmt); err != nil {
			s.fail(err)
			return
		}
		if s.pending > flushBytes {
			if err := s.flush(); err != nil {
				return
			}
		}
	}
}

func (s *session) runSimple(ctx context.Context, text string) error {
	cmd, isCmd, err := s.command(text)
	if err != nil {
		return err
	}
	if s.tx == txFailed && !(isCmd && cmd.endsTx) {
		return errAborted
	}
	if isCmd {
		s.runCommand(cmd, nil, true)
		return nil
	}
	if c, ok, err := parseCopy(text); err != nil {
		return err
	} else if ok {
		return s.copyOut(ctx, c)
	}
	stmt := &prepared{text: text, run: s.rw.rewrite(text)}
	return s.execute(ctx, &portal{stmt: stmt, simple: true}, 0)
}

var errAborted = refusef("25P02", "current transaction is aborted, commands ignored until end of transaction block")

// runCommand answers a session command; describe says whether its row
// description goes first (simple protocol) or was asked for (extended).
func (s *session) runCommand(c *command, formats []int16, describe bool) {
	if c.notice != "" {
		s.be.Send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "25001", Message: c.notice})
	}
	if c.apply != nil {
		c.apply()
	}
	if c.columns != nil {
		if describe {
			s.be.Send(rowDescription(textColumns(c.columns), formats))
		}
		for _, r := range c.rows {
			vals := make([][]byte, len(r))
			for i, v := range r {
				vals[i] = []byte(v)
			}
			s.be.Send(&pgproto3.DataRow{Values: vals})
		}
	}
	s.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(c.tag)})
	s.srv.metrics.statements.WithLabelValues("ok").Inc()
}

func textColumns(names []string) []column {
	cols := make([]column, len(names))
	for i, n := range names {
		cols[i] = column{name: n, oid: pgtype.TextOID, typmod: -1}
	}
	return cols
}

func rowDescription(cols []column, formats []int16) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{Fields: make([]pgproto3.FieldDescription, len(cols))}
	for i, c := range cols {
		size := int16(-1)
		if t, ok := typeByOID(c.oid); ok {
			size = t.length
		}
		rd.Fields[i] = pgproto3.FieldDescription{
			Name: []byte(c.name), DataTypeOID: c.oid, DataTypeSize: size, TypeModifier: c.typmod, Format: formatOf(formats, i),
		}
	}
	return rd
}

func formatOf(formats []int16, i int) int16 {
	if i < len(formats) {
		return formats[i]
	}
	return pgtype.TextFormatCode
}

// parse prepares a statement for the extended protocol: a session command
// as it is, SQL for the warehouse rewritten and described.
func (s *session) parse(ctx context.Context, m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, exists := s.stmts[m.Name]; exists {
			return refusef("42P05", "prepared statement %q already exists", m.Name)
		}
	}
	parts := splitStatements(m.Query)
	p := &prepared{text: m.Query}
	switch len(parts) {
	case 0:
		p.empty = true
	case 1:
		_, isCmd, err := s.command(parts[0])
		if err != nil {
			return err
		}
		if isCmd {
			p.cmd = true
			break
		}
		if s.tx == txFailed {
			return errAborted
		}
		p.run = s.rw.rewrite(parts[0])
		dctx, cancel := s.statementContext(ctx)
		shape, err := s.srv.cfg.Querier.Describe(dctx, p.run)
		cancel(nil)
		if err != nil {
			return s.queryError(dctx, p.run, err)
		}
		for i, t := range shape.Params {
			var oid uint32
			if i < len(m.ParameterOIDs) {
				oid = m.ParameterOIDs[i]
			}
			if oid == 0 {
				oid = paramOID(t)
			}
			p.params = append(p.params, oid)
		}
		for _, c := range shape.Columns {
			p.columns = append(p.columns, columnOf(c.Name, c.Type))
		}
	default:
		return refusef("42601", "cannot insert multiple commands into a prepared statement")
	}
	s.stmts[m.Name] = p
	return nil
}

// paramOID is the type a parameter is described with: DuckDB's, or text
// when DuckDB takes whatever comes (the value is then cast where used).
func paramOID(duckdbType string) uint32 {
	if duckdbType == "" {
		return pgtype.TextOID
	}
	return oidOf(duckdbType)
}

func columnOf(name, duckdbType string) column {
	if duckdbType == "" {
		return column{name: name, oid: pgtype.TextOID, typmod: -1}
	}
	return column{name: name, oid: oidOf(duckdbType), typmod: typmodOf(duckdbType)}
}

func (s *session) bind(m *pgproto3.Bind) error {
	p, ok := s.stmts[m.PreparedStatement]
	if !ok {
		return refusef("26000", "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, exists := s.portals[m.DestinationPortal]; exists {
			return refusef("42P03", "portal %q already exists", m.DestinationPortal)
		}
	}
	if len(m.Parameters) != len(p.params) && !p.cmd && !p.empty {
		return refusef("08P01", "bind message supplies %d parameters, but prepared statement requires %d", len(m.Parameters), len(p.params))
	}
	args := make([]any, len(m.Parameters))
	for i, data := range m.Parameters {
		var format int16 = pgtype.TextFormatCode
		switch {
		case len(m.ParameterFormatCodes) == 1:
			format = m.ParameterFormatCodes[0]
		case i < len(m.ParameterFormatCodes):
			format = m.ParameterFormatCodes[i]
		}
		var oid uint32 = pgtype.TextOID
		if i < len(p.params) {
			oid = p.params[i]
		}
		v, err := decodeParam(s.types, oid, format, data)
		if err != nil {
			return refusef("22P03", "parameter $%d: %v", i+1, err)
		}
		args[i] = v
	}
	formats := make([]int16, len(p.columns))
	switch {
	case len(m.ResultFormatCodes) == 1:
		for i := range formats {
			formats[i] = m.ResultFormatCodes[0]
		}
	case len(m.ResultFormatCodes) == len(formats):
		copy(formats, m.ResultFormatCodes)
	case len(m.ResultFormatCodes) != 0:
		return refusef("08P01", "bind message has %d result formats but query has %d columns", len(m.ResultFormatCodes), len(formats))
	}
	if old, ok := s.portals[m.DestinationPortal]; ok {
		old.close()
	}
	s.portals[m.DestinationPortal] = &portal{stmt: p, args: args, formats: formats}
	return nil
}

func (s *session) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		p, ok := s.stmts[m.Name]
		if !ok {
			return refusef("26000", "prepared statement %q does not exist", m.Name)
		}
		s.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: p.params})
		s.describeResult(p, nil)
	case 'P':
		p, ok := s.portals[m.Name]
		if !ok {
			return refusef("34000", "portal %q does not exist", m.Name)
		}
		s.describeResult(p.stmt, p.formats)
	default:
		return refusef("08P01", "invalid Describe message")
	}
	return nil
}

func (s *session) describeResult(p *prepared, formats []int16) {
	switch {
	case p.cmd:
		if c, ok, err := s.command(p.text); err == nil && ok && c.columns != nil {
			s.be.Send(rowDescription(textColumns(c.columns), formats))
			return
		}
		s.be.Send(&pgproto3.NoData{})
	case p.empty || len(p.columns) == 0:
		s.be.Send(&pgproto3.NoData{})
	default:
		s.be.Send(rowDescription(p.columns, formats))
	}
}

// execute runs a portal, sending up to maxRows rows (0: all); a portal
// with rows left is suspended until the next Execute.
func (s *session) execute(ctx context.Context, p *portal, maxRows int) error {
	switch {
	case p.stmt.empty:
		s.be.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	case p.stmt.cmd:
		cmd, _, err := s.command(p.stmt.text)
		if err != nil {
			return err
		}
		if s.tx == txFailed && !cmd.endsTx {
			return errAborted
		}
		s.runCommand(cmd, p.formats, false)
		return nil
	case s.tx == txFailed:
		return errAborted
	case p.done:
		s.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")})
		return nil
	}
	if p.cur == nil {
		p.cur = s.open(ctx, p)
		if p.simple {
			cols, err := p.cur.header()
			if err != nil {
				qerr := s.queryError(p.cur.ctx, p.stmt.run, err)
				p.close()
				return qerr
			}
			s.be.Send(rowDescription(cols, nil))
		}
	}
	sent := 0
	for maxRows <= 0 || sent < maxRows {
		row, err := p.cur.next()
		if err != nil {
			qerr := s.queryError(p.cur.ctx, p.stmt.run, err)
			p.close()
			return qerr
		}
		if row == nil {
			n := p.cur.count
			p.close()
			p.done = true
			s.be.Send(&pgproto3.CommandComplete{CommandTag: fmt.Appendf(nil, "SELECT %d", n)})
			s.srv.metrics.statements.WithLabelValues("ok").Inc()
			return nil
		}
		s.be.Send(&pgproto3.DataRow{Values: row})
		for _, v := range row {
			s.pending += len(v) + 4
		}
		sent++
		if s.pending > flushBytes {
			if err := s.flush(); err != nil {
				p.close()
				return err
			}
		}
	}
	s.be.Send(&pgproto3.PortalSuspended{})
	return nil
}

// statementContext bounds one statement by the statement timeout and lets
// a CancelRequest end it.
func (s *session) statementContext(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	timeout := s.statementTimeout()
	tctx, stop := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("canceling statement due to statement timeout (%s)", timeout))
	cctx, cancel := context.WithCancelCause(tctx)
	sc := &statementCancel{cancel}
	s.mu.Lock()
	s.cancelRun = sc
	s.mu.Unlock()
	return cctx, func(cause error) {
		cancel(cause)
		stop()
		s.mu.Lock()
		if s.cancelRun == sc {
			s.cancelRun = nil
		}
		s.mu.Unlock()
	}
}

func (s *session) cancelStatement() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelRun != nil {
		s.cancelRun.cancel(errCancelRequested)
	}
}

// extendedError reports an error of an extended-protocol message and skips
// the rest of the batch.
func (s *session) extendedError(err error) {
	s.fail(err)
	s.skipping = true
}

// fail reports err to the client; inside a transaction block the block
// fails.
func (s *session) fail(err error) {
	s.sendError(err)
	if s.tx == txBlock {
		s.tx = txFailed
	}
}

func (s *session) sendError(err error) {
	var se *sqlError
	if !errors.As(err, &se) {
		se = &sqlError{code: "XX000", msg: err.Error()}
	}
	result := "error"
	if se.code == "42501" || se.code == "25006" {
		result = "refused"
		s.srv.metrics.refused.Inc()
	}
	s.srv.metrics.statements.WithLabelValues(result).Inc()
	msg := s.srv.cfg.Redact(se.msg)
	s.log.Debug().Str("code", se.code).Str("error", msg).Msg("postgres statement failed")
	s.be.Send(&pgproto3.ErrorResponse{
		Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: se.code,
		Message: msg, Hint: s.srv.cfg.Redact(se.hint),
	})
}

func (s *session) discardAll() {
	s.closePortals()
	s.stmts = map[string]*prepared{}
	for k, v := range settingDefaults {
		if s.settings[k] != v {
			s.changeSetting(k, v)
		}
	}
	s.tx = txIdle
}

func (s *session) closePortals() {
	for name, p := range s.portals {
		p.close()
		delete(s.portals, name)
	}
}

func (s *session) closeAll() { s.closePortals() }

func (p *portal) close() {
	if p.cur != nil {
		p.cur.close()
		p.cur = nil
	}
}

// queryError turns an error of the Querier into the client's error.
func (s *session) queryError(ctx context.Context, stmt string, err error) error {
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
		if errors.Is(cause, errCancelRequested) || strings.HasPrefix(cause.Error(), "canceling statement") {
			return &sqlError{code: "57014", msg: cause.Error()}
		}
		if errors.Is(cause, context.Canceled) {
			return &sqlError{code: "57P01", msg: errSessionEnded.Error()}
		}
	}
	return classify(stmt, err)
}
