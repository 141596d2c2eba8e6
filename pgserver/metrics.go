package pgserver

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the endpoint's: how many clients it serves, and what it
// turns away.
type metrics struct {
	sessions     prometheus.Gauge
	statements   *prometheus.CounterVec
	refused      prometheus.Counter
	authFailures prometheus.Counter
	rejected     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_postgres_sessions", Help: "Postgres endpoint sessions open.",
		}),
		statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_postgres_statements_total", Help: "Statements the Postgres endpoint answered, by result (ok, error, refused).",
		}, []string{"result"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_postgres_refused_total", Help: "Statements the Postgres endpoint refused to run because they could change something.",
		}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_postgres_auth_failures_total", Help: "Postgres logins refused for a wrong user or password.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_postgres_rejected_connections_total", Help: "Postgres connections turned away, by reason (too_many, tls_required, handshakes).",
		}, []string{"reason"}),
	}
	// Every series exists from the start, at 0.
	for _, r := range []string{"ok", "error", "refused"} {
		m.statements.WithLabelValues(r)
	}
	for _, r := range []string{"too_many", "tls_required", "handshakes"} {
		m.rejected.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sessions, m.statements, m.refused, m.authFailures, m.rejected} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("pgserver: registering metrics: %w", err)
			}
		}
	}
	return m, nil
}
