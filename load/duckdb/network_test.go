package duckdb

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// TestNetworkViewsShareOneHandle: a view is the warehouse it came from:
// closing any view closes the file once, and every later Close says the
// same; the view loads and reads its own network.
func TestNetworkViewsShareOneHandle(t *testing.T) {
	s, path := openTest(t)
	beta := s.ForNetwork("beta").(*Sink)
	if beta.Network() != "beta" || s.Network() != models.DefaultNetwork || s.ReadNetwork("x").Network() != "x" {
		t.Fatalf("networks: %q %q", beta.Network(), s.Network())
	}
	loadRows(t, beta, load.Target{Model: models.Offers(), Mode: models.ReplaceTable}, nil, []row{{"network": "beta", "id": 1, "title": "b"}})
	eq(t, queryStrings(t, s, `SELECT network, id FROM offers`), []string{"beta|1"})
	if err := beta.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("a second Close, on another view: %v", err)
	}
	if err := s.DB().Ping(); err == nil {
		t.Error("the database is open after a view's Close")
	}
	// The file is free for the next process (here: the next Open).
	s2, err := Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

// TestBadNetworkNameWritesNothing: a view of a name no config can hold
// refuses loads, cursors and runs with a line naming the rule.
func TestBadNetworkNameWritesNothing(t *testing.T) {
	s, _ := openTest(t)
	bad := s.ForNetwork("Beta'; DROP TABLE x")
	if _, err := bad.Begin(bg, load.Target{Model: models.Offers(), Mode: models.ReplaceTable}); err == nil || !strings.Contains(err.Error(), "bad network name") {
		t.Errorf("Begin: %v", err)
	}
	if err := bad.RecordRun(bg, load.Run{Stream: "offers", Kind: "sync"}); err == nil {
		t.Error("RecordRun of a bad network name")
	}
	if err := bad.Query(bg, "SELECT 1", nil); err == nil {
		t.Error("Query of a bad network name")
	}
}

// TestReadNetworkQueryOnAReadOnlyOpen: `syncd query --network` opens the
// file read-only; its network's view still answers with its rows only.
func TestReadNetworkQueryOnAReadOnlyOpen(t *testing.T) {
	s, path := openTest(t)
	for _, n := range []string{"alpha", "beta"} {
		loadRows(t, s.ForNetwork(n).(*Sink), load.Target{Model: models.Offers(), Mode: models.ReplaceTable}, nil,
			[]row{{"network": n, "id": 1, "title": n + " one"}, {"network": n, "id": 2, "title": n + " two"}})
	}
	s.Close()
	ro, err := Open(bg, path, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for _, c := range []struct {
		q    load.Querier
		want []string
	}{
		{ro, []string{"alpha|1|alpha one", "alpha|2|alpha two", "beta|1|beta one", "beta|2|beta two"}},
		{ro.ReadNetwork("beta"), []string{"beta|1|beta one", "beta|2|beta two"}},
	} {
		var got []string
		if err := c.q.Query(bg, `SELECT network, id, title FROM offers ORDER BY ALL`, func(rows *sql.Rows) error {
			got = scanStrings(t, rows)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		eq(t, got, c.want)
	}
}
