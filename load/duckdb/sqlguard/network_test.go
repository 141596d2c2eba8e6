package sqlguard_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/syncd/syncd/load/duckdb/sqlguard"
)

// withNetworks adds two networks' conversions, offers and partners (the
// same ids in both) and the views over them.
func withNetworks(t *testing.T, w *warehouse) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE conversions (network VARCHAR NOT NULL, id VARCHAR NOT NULL, status VARCHAR, offer_id BIGINT, partner_id BIGINT,
			currency VARCHAR, revenue DECIMAL(18,4), payouts DECIMAL(18,4), created_at TIMESTAMP)`,
		`INSERT INTO conversions VALUES
			('alpha', 'c1', 'confirmed', 1, 10, 'USD', 10, 4, TIMESTAMP '2025-01-01 10:00:00'),
			('beta', 'c1', 'confirmed', 1, 10, 'EUR', 7, 1, TIMESTAMP '2025-01-01 11:00:00'),
			('beta', 'c2', 'pending', 1, 10, 'EUR', 3, 1, TIMESTAMP '2025-01-01 12:00:00')`,
		`CREATE TABLE partners (network VARCHAR NOT NULL, id BIGINT NOT NULL, email VARCHAR)`,
		`INSERT INTO partners VALUES ('alpha', 10, 'a@alpha'), ('beta', 10, 'a@beta')`,
		`DROP TABLE offers`,
		`CREATE TABLE offers (network VARCHAR NOT NULL, id BIGINT NOT NULL, title VARCHAR, payout DECIMAL(18,4))`,
		`INSERT INTO offers VALUES ('alpha', 1, 'Alpha one', 1), ('beta', 1, 'Beta one', 2)`,
	} {
		if _, err := w.sink.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.sink.EnsureViews(ctx); err != nil {
		t.Fatal(err)
	}
}

func (w *warehouse) lines(t *testing.T, network, stmt string) []string {
	t.Helper()
	var out []string
	err := w.guard.RunReadOnly(context.Background(), network, stmt, func(rows *sql.Rows) error {
		for rows.Next() {
			var a, b sql.NullString
			if err := rows.Scan(&a, &b); err != nil {
				return err
			}
			out = append(out, a.String+"|"+b.String)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("%s (network %q): %v", stmt, network, err)
	}
	return out
}

// TestRunReadOnlyOfOneNetwork: with a network, every table, and so every
// view and report over them, answers with that network's rows only; ""
// answers with every network's; the scoping stays with the statement's
// connection and changes nothing in the warehouse.
func TestRunReadOnlyOfOneNetwork(t *testing.T) {
	w := openWarehouse(t)
	withNetworks(t, w)
	before := w.fingerprint(t)
	for _, c := range []struct {
		network, stmt string
		want          []string
	}{
		{"", `SELECT network, count(*) FROM conversions GROUP BY 1 ORDER BY 1`, []string{"alpha|1", "beta|2"}},
		{"beta", `SELECT network, count(*) FROM conversions GROUP BY 1 ORDER BY 1`, []string{"beta|2"}},
		{"beta", `SELECT network, count(*) FROM main.conversions GROUP BY 1 ORDER BY 1`, []string{"beta|2"}},
		{"alpha", `SELECT offer_title, CAST(sum(revenue) AS VARCHAR) FROM daily_revenue GROUP BY 1`, []string{"Alpha one|10.0000"}},
		{"beta", `SELECT partner_email, CAST(sum(revenue) AS VARCHAR) FROM daily_revenue GROUP BY 1`, []string{"a@beta|10.0000"}},
		{"beta", `SELECT c.id, o.title FROM conversions c JOIN offers o ON o.id = c.offer_id ORDER BY 1`, []string{"c1|Beta one", "c2|Beta one"}},
		{"gamma", `SELECT network, count(*) FROM conversions GROUP BY 1`, nil},
		// A table without a network column is every network's.
		{"alpha", `SELECT key, 'x' FROM _syncd_meta WHERE key = 'schema_version'`, []string{"schema_version|x"}},
	} {
		if got := w.lines(t, c.network, c.stmt); !slices.Equal(got, c.want) {
			t.Errorf("%s (network %q): got %v, want %v", c.stmt, c.network, got, c.want)
		}
	}
	// The pool's next statement sees every network again.
	if got := w.lines(t, "", `SELECT count(DISTINCT network), 'x' FROM conversions`); !slices.Equal(got, []string{"2|x"}) {
		t.Errorf("after scoped queries, every network: %v", got)
	}
	if after := w.fingerprint(t); after != before {
		t.Errorf("scoped queries changed the warehouse:\n%s\nwas\n%s", after, before)
	}
}

// TestRunReadOnlyNetworkRefusals: a name no network can have runs
// nothing, and scoping lets no refused statement through.
func TestRunReadOnlyNetworkRefusals(t *testing.T) {
	w := openWarehouse(t)
	withNetworks(t, w)
	ctx := context.Background()
	for _, bad := range []string{"Beta", "x' OR 1=1 --", "_x", strings.Repeat("a", 41)} {
		called := false
		err := w.guard.RunReadOnly(ctx, bad, "SELECT 1", func(*sql.Rows) error { called = true; return nil })
		if err == nil || called || !strings.Contains(err.Error(), "network") {
			t.Errorf("network %q: err %v, read called %v", bad, err, called)
		}
	}
	err := w.guard.RunReadOnly(ctx, "beta", "DELETE FROM conversions", func(*sql.Rows) error { return nil })
	if !errors.Is(err, sqlguard.ErrRejected) {
		t.Errorf("DELETE with a network: %v", err)
	}
	if got := w.lines(t, "", `SELECT count(*), 'x' FROM conversions`); !slices.Equal(got, []string{"3|x"}) {
		t.Errorf("conversions after a refused DELETE: %v", got)
	}
}
