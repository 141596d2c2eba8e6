package pgserver

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Drivers and BI tools open every session with statements a read-only
// warehouse has no use for but must not fail: SET extra_float_digits,
// SET application_name, BEGIN ... COMMIT around each query (psycopg2),
// SHOW transaction_isolation. The endpoint answers those itself, on the
// session's own copy of PostgreSQL's settings, and never passes a SET to
// DuckDB: no client can change a warehouse setting. A SET of anything not
// listed here is refused.

// settingDefaults are the session settings a client may SET, RESET and
// SHOW, with their values at login.
var settingDefaults = map[string]string{
	"application_name":                    "",
	"client_encoding":                     "UTF8",
	"datestyle":                           "ISO, MDY",
	"timezone":                            "UTC",
	"intervalstyle":                       "postgres",
	"extra_float_digits":                  "1",
	"search_path":                         "main",
	"statement_timeout":                   "0",
	"lock_timeout":                        "0",
	"idle_in_transaction_session_timeout": "0",
	"idle_session_timeout":                "0",
	"client_min_messages":                 "notice",
	"bytea_output":                        "hex",
	"standard_conforming_strings":         "on",
	"default_transaction_read_only":       "on",
	"transaction_read_only":               "on",
	"default_transaction_isolation":       "read committed",
	"transaction_isolation":               "read committed",
	"default_transaction_deferrable":      "off",
	"transaction_deferrable":              "off",
	"escape_string_warning":               "on",
	"lc_messages":                         "C",
	"lc_monetary":                         "C",
	"lc_numeric":                          "C",
	"lc_time":                             "C",
	"jit":                                 "off",
	"row_security":                        "on",
	"check_function_bodies":               "on",
	"xmloption":                           "content",
	"work_mem":                            "4MB",
	"plan_cache_mode":                     "auto",
	"max_parallel_workers_per_gather":     "2",
	"geqo":                                "on",
	"default_statistics_target":           "100",
	"synchronous_commit":                  "on",
	"cursor_tuple_fraction":               "0.1",
}

// displayNames are the spellings PostgreSQL shows for a few settings.
var displayNames = map[string]string{"datestyle": "DateStyle", "timezone": "TimeZone", "intervalstyle": "IntervalStyle"}

// reported are the settings PostgreSQL reports to the client (ParameterStatus)
// when they change.
var reported = map[string]bool{
	"application_name": true, "client_encoding": true, "datestyle": true, "intervalstyle": true,
	"timezone": true, "standard_conforming_strings": true, "default_transaction_read_only": true,
}

// fixedSettings can be shown but not set.
func (s *session) fixedSettings() map[string]string {
	return map[string]string{
		"server_version":        ServerVersion,
		"server_version_num":    serverVersionNum,
		"server_encoding":       "UTF8",
		"integer_datetimes":     "on",
		"max_identifier_length": "63",
		"max_connections":       strconv.Itoa(s.srv.cfg.MaxSessions),
		"is_superuser":          "off",
		"session_authorization": s.user,
		"in_hot_standby":        "off",
		"block_size":            "8192",
	}
}

// setting is a session setting's value (for SHOW and current_setting()).
func (s *session) setting(name string) (string, bool) {
	name = strings.ToLower(name)
	if v, ok := s.settings[name]; ok {
		return v, true
	}
	v, ok := s.fixedSettings()[name]
	return v, ok
}

// command is a statement the endpoint answers itself.
type command struct {
	tag string
	// columns and rows are SHOW's answer.
	columns []string
	rows    [][]string
	// apply changes the session; it runs when the statement is executed.
	apply func()
	// notice is a warning sent before the answer.
	notice string
	// endsTx: allowed in a failed transaction (COMMIT, ROLLBACK).
	endsTx bool
}

// sqlError is an error with its SQLSTATE, for the client.
type sqlError struct {
	code, msg, hint string
}

func (e *sqlError) Error() string { return e.msg }

func refusef(code, format string, args ...any) *sqlError {
	return &sqlError{code: code, msg: fmt.Sprintf(format, args...)}
}

// command recognises a session command; ok is false for statements for
// the warehouse.
func (s *session) command(text string) (cmd *command, ok bool, err error) {
	toks := significant(lex(text))
	if len(toks) == 0 || toks[0].kind != tkIdent {
		return nil, false, nil
	}
	word := func(i int) string {
		if i < len(toks) && toks[i].kind == tkIdent {
			return strings.ToLower(toks[i].text)
		}
		return ""
	}
	switch word(0) {
	case "begin", "start":
		if word(0) == "start" && word(1) != "transaction" {
			return nil, false, nil
		}
		if hasWords(toks, "read", "write") {
			return nil, true, refusef("25006", "cannot start a READ WRITE transaction: syncd serves the warehouse read-only")
		}
		c := &command{tag: "BEGIN"}
		if s.tx != txIdle {
			c.notice = "there is already a transaction in progress"
		}
		c.apply = func() { s.tx = txBlock }
		return c, true, nil
	case "commit", "end":
		if word(1) == "prepared" {
			return nil, true, refusef("0A000", "prepared transactions are not supported")
		}
		c := &command{tag: "COMMIT", endsTx: true}
		switch s.tx {
		case txIdle:
			c.notice = "there is no transaction in progress"
		case txFailed:
			c.tag = "ROLLBACK"
		}
		c.apply = func() { s.tx = txIdle }
		return c, true, nil
	case "rollback", "abort":
		if word(1) == "prepared" {
			return nil, true, refusef("0A000", "prepared transactions are not supported")
		}
		c := &command{tag: "ROLLBACK", endsTx: true}
		if hasWords(toks, "to") {
			// ROLLBACK TO SAVEPOINT: the block goes on, usable again.
			c.apply = func() {
				if s.tx == txFailed {
					s.tx = txBlock
				}
			}
			return c, true, nil
		}
		if s.tx == txIdle {
			c.notice = "there is no transaction in progress"
		}
		c.apply = func() { s.tx = txIdle }
		return c, true, nil
	case "savepoint":
		return &command{tag: "SAVEPOINT"}, true, nil
	case "release":
		return &command{tag: "RELEASE"}, true, nil
	case "set":
		return s.set(toks[1:])
	case "reset":
		return s.reset(toks[1:])
	case "show":
		return s.show(toks[1:])
	case "discard":
		tag := "DISCARD " + strings.ToUpper(word(1))
		return &command{tag: tag, apply: func() {
			if word(1) == "all" {
				s.discardAll()
			}
		}}, true, nil
	case "deallocate":
		name := toks[1:]
		if len(name) > 0 && name[0].is("prepare") {
			name = name[1:]
		}
		if len(name) == 1 && name[0].is("all") {
			return &command{tag: "DEALLOCATE ALL", apply: func() { s.stmts = map[string]*prepared{} }}, true, nil
		}
		if len(name) != 1 || !name[0].isIdent() {
			return nil, true, refusef("42601", "DEALLOCATE takes a prepared statement's name or ALL")
		}
		n := name[0].name()
		if _, ok := s.stmts[n]; !ok {
			return nil, true, refusef("26000", "prepared statement %q does not exist", n)
		}
		return &command{tag: "DEALLOCATE", apply: func() { delete(s.stmts, n) }}, true, nil
	case "unlisten":
		return &command{tag: "UNLISTEN"}, true, nil
	case "close":
		return &command{tag: "CLOSE CURSOR"}, true, nil
	case "listen", "notify":
		return nil, true, refusef("0A000", "%s is not supported by syncd's Postgres endpoint", strings.ToUpper(word(0)))
	case "declare", "fetch", "move":
		return nil, true, refusef("0A000", "cursors are not supported by syncd's Postgres endpoint; run the SELECT itself (in psql: \\unset FETCH_COUNT)")
	case "prepare", "execute":
		return nil, true, refusef("0A000", "SQL-level PREPARE and EXECUTE are not supported; use your driver's prepared statements (the extended query protocol)")
	}
	return nil, false, nil
}

func hasWords(toks []token, words ...string) bool {
	for i := 0; i+len(words) <= len(toks); i++ {
		match := true
		for j, w := range words {
			if !toks[i+j].is(w) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// set answers SET: a session setting of settingDefaults changes in the
// session; transaction modes are accepted when read-only; anything else
// is refused.
func (s *session) set(toks []token) (*command, bool, error) {
	if len(toks) > 0 && (toks[0].is("session") || toks[0].is("local")) {
		if !(len(toks) > 1 && toks[0].is("session") && toks[1].is("authorization")) {
			toks = toks[1:]
		}
	}
	if len(toks) == 0 {
		return nil, true, refusef("42601", "SET needs a setting")
	}
	var name string
	var value []token
	switch {
	case hasWords(toks, "characteristics", "as", "transaction"), toks[0].is("transaction"):
		if hasWords(toks, "read", "write") {
			return nil, true, refusef("25006", "cannot set a transaction READ WRITE: syncd serves the warehouse read-only")
		}
		return &command{tag: "SET"}, true, nil
	case toks[0].is("time") && len(toks) > 1 && toks[1].is("zone"):
		name, value = "timezone", toks[2:]
	case toks[0].is("names"):
		name, value = "client_encoding", toks[1:]
	case toks[0].is("schema"):
		name, value = "search_path", toks[1:]
	default:
		end, parts := qualifiedName(toks, 0)
		if len(parts) == 0 {
			return nil, true, refusef("42601", "SET needs a setting's name")
		}
		name = strings.Join(parts, ".")
		if end < len(toks) && (toks[end].is("to") || toks[end].text == "=") {
			end++
		}
		value = toks[end:]
	}
	def, ok := settingDefaults[name]
	if !ok {
		return nil, true, refusef("42501", "SET %s is refused: syncd serves the warehouse read-only and changes no setting; sessions may set only PostgreSQL's client settings (application_name, client_encoding, DateStyle, TimeZone, extra_float_digits, search_path, statement_timeout, ...)", name)
	}
	v := settingValue(value)
	if len(value) == 1 && value[0].is("default") || len(value) == 1 && value[0].is("local") && name == "timezone" {
		v = def
	}
	v, err := checkSetting(name, v)
	if err != nil {
		return nil, true, err
	}
	return &command{tag: "SET", apply: func() { s.changeSetting(name, v) }}, true, nil
}

// settingValue is a SET's value as SHOW prints it: literals unquoted,
// list items joined with ", ".
func settingValue(toks []token) string {
	var parts []string
	cur := ""
	for _, t := range toks {
		if t.kind == tkPunct && t.text == "," {
			parts = append(parts, cur)
			cur = ""
			continue
		}
		if v, ok := t.stringValue(); ok {
			cur += v
		} else {
			cur += t.text
		}
	}
	return strings.Join(append(parts, cur), ", ")
}

// checkSetting refuses values the endpoint does not honour.
func checkSetting(name, v string) (string, error) {
	lower := strings.ToLower(strings.TrimSpace(v))
	switch name {
	case "client_encoding":
		if lower != "utf8" && lower != "utf-8" && lower != "unicode" {
			return "", refusef("22023", "client_encoding %q is not supported: only UTF8 is", v)
		}
		return "UTF8", nil
	case "standard_conforming_strings":
		if lower != "on" && lower != "true" {
			return "", refusef("22023", "standard_conforming_strings is always on")
		}
	case "intervalstyle":
		if lower != "postgres" {
			return "", refusef("22023", "IntervalStyle is always postgres")
		}
	case "bytea_output":
		if lower != "hex" {
			return "", refusef("22023", "bytea_output is always hex")
		}
	case "datestyle":
		if !strings.Contains(lower, "iso") {
			return "", refusef("22023", "DateStyle is always ISO")
		}
	case "default_transaction_read_only", "transaction_read_only":
		if lower == "off" || lower == "false" || lower == "0" {
			return "", refusef("25006", "%s cannot be off: syncd serves the warehouse read-only", name)
		}
	case "statement_timeout":
		if _, err := parseTimeout(v); err != nil {
			return "", refusef("22023", "statement_timeout %q: %v", v, err)
		}
	}
	return v, nil
}

// parseTimeout reads statement_timeout as PostgreSQL does: a number of
// milliseconds, or a number with a unit.
func parseTimeout(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("not a duration")
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	unit, ok := units[strings.TrimSpace(v[i:])]
	if err != nil || !ok {
		return 0, fmt.Errorf("not a duration (use e.g. 5000, 30s or 5min)")
	}
	return time.Duration(n * float64(unit)), nil
}

func (s *session) reset(toks []token) (*command, bool, error) {
	if len(toks) == 1 && toks[0].is("all") {
		return &command{tag: "RESET", apply: func() {
			for k, v := range settingDefaults {
				if s.settings[k] != v {
					s.changeSetting(k, v)
				}
			}
		}}, true, nil
	}
	_, parts := qualifiedName(toks, 0)
	name := strings.Join(parts, ".")
	if len(toks) == 2 && toks[0].is("time") && toks[1].is("zone") {
		name = "timezone"
	}
	def, ok := settingDefaults[name]
	if !ok {
		return nil, true, refusef("42501", "RESET %s is refused: syncd serves the warehouse read-only and changes no setting", name)
	}
	return &command{tag: "RESET", apply: func() { s.changeSetting(name, def) }}, true, nil
}

// show answers SHOW of a PostgreSQL setting; SHOW of anything else (SHOW
// TABLES) is DuckDB's and goes to the warehouse.
func (s *session) show(toks []token) (*command, bool, error) {
	var name string
	switch {
	case len(toks) == 1 && toks[0].is("all"):
		c := &command{tag: "SHOW", columns: []string{"name", "setting", "description"}}
		all := map[string]string{}
		for k, v := range s.settings {
			all[k] = v
		}
		for k, v := range s.fixedSettings() {
			all[k] = v
		}
		names := make([]string, 0, len(all))
		for k := range all {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			c.rows = append(c.rows, []string{displayName(k), all[k], ""})
		}
		return c, true, nil
	case hasWords(toks, "transaction", "isolation", "level"):
		name = "transaction_isolation"
	case len(toks) == 2 && toks[0].is("time") && toks[1].is("zone"):
		name = "timezone"
	case len(toks) == 2 && toks[0].is("session") && toks[1].is("authorization"):
		name = "session_authorization"
	default:
		end, parts := qualifiedName(toks, 0)
		if end != len(toks) || len(parts) == 0 {
			return nil, false, nil
		}
		name = strings.Join(parts, ".")
	}
	v, ok := s.setting(name)
	if !ok {
		return nil, false, nil
	}
	return &command{tag: "SHOW", columns: []string{displayName(name)}, rows: [][]string{{v}}}, true, nil
}

func displayName(n string) string {
	if d, ok := displayNames[n]; ok {
		return d
	}
	return n
}

// changeSetting sets a session setting and reports it when PostgreSQL
// would.
func (s *session) changeSetting(name, v string) {
	s.settings[name] = v
	if reported[name] {
		s.reportSetting(displayName(name), v)
	}
}

// statementTimeout is the timeout of the next statement: the server's,
// or the session's statement_timeout when that is shorter.
func (s *session) statementTimeout() time.Duration {
	limit := s.srv.cfg.StatementTimeout
	if d, err := parseTimeout(s.settings["statement_timeout"]); err == nil && d > 0 && d < limit {
		return d
	}
	return limit
}
