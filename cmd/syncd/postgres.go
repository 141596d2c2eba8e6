package main

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/load/duckdb/sqlguard"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pgserver"
)

// newPostgres opens the Postgres endpoint's listener (so a taken port
// fails before any pass starts) and builds the server over the guard of
// the warehouse's clients' pool. It returns nil when postgres.listen is
// empty.
func newPostgres(a *app, guard *sqlguard.Guard, reg prometheus.Registerer) (*pgserver.Server, error) {
	pc := a.cfg.Postgres
	if !pc.Enabled() {
		return nil, nil
	}
	var tlsConfig *tls.Config
	if pc.TLS() {
		cert, err := tls.LoadX509KeyPair(pc.TLSCert, pc.TLSKey)
		if err != nil {
			return nil, &config.Error{Msg: fmt.Sprintf("postgres.tls_cert/postgres.tls_key: %v", err), Err: err}
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", pc.Listen)
	if err != nil {
		return nil, fmt.Errorf("postgres.listen %s: %w", pc.Listen, err)
	}
	if tlsConfig == nil && !loopback(pc.Listen) {
		a.log.Warn().Str("listen", pc.Listen).Msg("the Postgres endpoint listens beyond this machine without TLS: passwords are safe (SCRAM), the data is not; set postgres.tls_cert and postgres.tls_key")
	}
	srv, err := pgserver.New(pgserver.Config{
		Listener:   ln,
		Querier:    pgQuerier{guard},
		User:       pc.User,
		Tables:     models.Names(),
		Password:   pc.Password,
		TLS:        tlsConfig,
		Log:        a.log,
		Registerer: reg,
		Redact:     a.redact,
		Version:    version,
	})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	return srv, nil
}

// loopback says whether a listen address is reachable from this machine
// only.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// pgQuerier is the guard as pgserver asks for it.
type pgQuerier struct{ g *sqlguard.Guard }

func (q pgQuerier) Describe(ctx context.Context, stmt string) (pgserver.Shape, error) {
	shape, err := q.g.Describe(ctx, stmt)
	if err != nil {
		return pgserver.Shape{}, markGuardError(err)
	}
	out := pgserver.Shape{Params: shape.Params}
	for _, c := range shape.Columns {
		out.Columns = append(out.Columns, pgserver.Column{Name: c.Name, Type: c.Type})
	}
	return out, nil
}

func (q pgQuerier) Query(ctx context.Context, stmt string, args []any, read func(*sql.Rows) error) error {
	return markGuardError(q.g.RunReadOnlyArgs(ctx, stmt, args, read))
}

func markGuardError(err error) error {
	switch {
	case errors.Is(err, sqlguard.ErrRejected):
		return pgserver.Refused(err)
	case errors.Is(err, sqlguard.ErrSyntax):
		return pgserver.Syntax(err)
	}
	return err
}
