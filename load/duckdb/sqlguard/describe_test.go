package sqlguard_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/load/duckdb/sqlguard"
)

// TestDescribe: the extended query protocol learns a statement's parameters
// and columns before running it, and the column types it is told are the
// ones the rows then carry.
func TestDescribe(t *testing.T) {
	w := openWarehouse(t)
	ctx := context.Background()
	shape, err := w.guard.Describe(ctx, "SELECT id, title, payout FROM offers WHERE id > $1 AND title <> $2")
	if err != nil {
		t.Fatal(err)
	}
	want := sqlguard.Shape{
		Params: []string{"BIGINT", "VARCHAR"},
		Columns: []sqlguard.Column{
			{Name: "id", Type: "BIGINT"}, {Name: "title", Type: "VARCHAR"}, {Name: "payout", Type: "DECIMAL(18,4)"},
		},
	}
	if !reflect.DeepEqual(shape, want) {
		t.Fatalf("shape %+v, want %+v", shape, want)
	}

	const many = `SELECT 1::TINYINT a, 2::INTEGER b, 3::HUGEINT c, 1.5::DOUBLE d, 1.5::FLOAT e,
		DATE '2025-01-02' f, TIMESTAMP '2025-01-02 03:04:05' g, now() h, INTERVAL 1 DAY i,
		[1, 2] j, ['x'] k, {'a': 1} l, '{"a":1}'::JSON m, uuid() n, 'x'::BLOB o,
		1.25::DECIMAL(10,2) p, true q, NULL r, TIME '01:02:03' s, [[1]] t`
	shape, err = w.guard.Describe(ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape.Params) != 0 {
		t.Errorf("params %v", shape.Params)
	}
	err = w.guard.RunReadOnly(ctx, "", many, func(rows *sql.Rows) error {
		types, err := rows.ColumnTypes()
		if err != nil {
			return err
		}
		if len(types) != len(shape.Columns) {
			t.Fatalf("%d columns described, %d returned", len(shape.Columns), len(types))
		}
		for i, ct := range types {
			c := shape.Columns[i]
			// STRUCT, MAP and UNION are described by their bare names.
			nested := !strings.Contains(c.Type, "(") && strings.HasPrefix(ct.DatabaseTypeName(), c.Type+"(")
			if c.Name != ct.Name() || (c.Type != ct.DatabaseTypeName() && !nested) {
				t.Errorf("column %d described as %s %s, returned as %s %s", i, c.Name, c.Type, ct.Name(), ct.DatabaseTypeName())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A parameter DuckDB cannot type before a value comes is "".
	shape, err = w.guard.Describe(ctx, "SELECT $1")
	if err != nil {
		t.Fatal(err)
	}
	if len(shape.Params) != 1 || shape.Params[0] != "" || len(shape.Columns) != 1 || shape.Columns[0].Type != "" {
		t.Errorf("SELECT $1: %+v", shape)
	}
}

// TestDescribeRefusesAttacks: describing is checking: every attack is
// refused before DuckDB prepares it, and nothing changes.
func TestDescribeRefusesAttacks(t *testing.T) {
	w := openWarehouse(t)
	before := w.fingerprint(t)
	for _, stmt := range attacks(w.scratch, w.path) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := w.guard.Describe(ctx, stmt)
		cancel()
		if err == nil {
			t.Errorf("described: %q", stmt)
		} else if !errors.Is(err, sqlguard.ErrRejected) && !errors.Is(err, sqlguard.ErrSyntax) {
			t.Errorf("%q: refused by something other than the guard: %v", stmt, err)
		}
	}
	if after := w.fingerprint(t); after != before {
		t.Fatalf("describing changed the warehouse:\n%s\nvs\n%s", before, after)
	}
}

// TestRunReadOnlyArgs: arguments are values, never SQL: text that would be
// an attack if spliced in comes back as it was sent.
func TestRunReadOnlyArgs(t *testing.T) {
	w := openWarehouse(t)
	ctx := context.Background()
	before := w.fingerprint(t)
	evil := "1'); DROP TABLE offers; --"
	var got []string
	err := w.guard.RunReadOnlyArgs(ctx, "SELECT title || $2 FROM offers WHERE id >= $1 ORDER BY id", []any{int64(2), evil}, func(rows *sql.Rows) error {
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return err
			}
			got = append(got, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "Beta"+evil {
		t.Fatalf("got %q", got)
	}
	// Text is cast to the parameter's type, as a client speaking text sends it.
	err = w.guard.RunReadOnlyArgs(ctx, "SELECT count(*) FROM offers WHERE payout > $1", []any{"2"}, func(rows *sql.Rows) error {
		rows.Next()
		var n int
		if err := rows.Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("payout > '2': %d rows", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.guard.RunReadOnlyArgs(ctx, "DELETE FROM offers WHERE id = $1", []any{int64(1)}, func(*sql.Rows) error { return nil }); !errors.Is(err, sqlguard.ErrRejected) {
		t.Fatalf("DELETE with an argument: %v", err)
	}
	if after := w.fingerprint(t); after != before {
		t.Fatalf("changed the warehouse:\n%s\nvs\n%s", before, after)
	}
}
