package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/syncd/syncd/models"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"
)

// savePages writes every page of conversions created on the days
// [from, to] (limit rows each) to dir as the simulator serves them, one
// file a page, and returns how many conversions they hold.
func savePages(ctx context.Context, s *sim, dir string, from, to time.Time, limit int) (int64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	var rows int64
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		d := day.Format(time.DateOnly)
		q := map[string]string{"date_from": d, "date_to": d, "timezone": "UTC"}
		for page := 1; ; page++ {
			b, err := s.page(ctx, "/3.0/stats/conversions", q, page, limit)
			if err != nil {
				return rows, err
			}
			var p struct {
				Conversions []json.RawMessage `json:"conversions"`
			}
			if err := json.Unmarshal(b, &p); err != nil {
				return rows, fmt.Errorf("page %d of %s: %w", page, d, err)
			}
			if len(p.Conversions) == 0 {
				break
			}
			rows += int64(len(p.Conversions))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%05d.json", d, page)), b, 0o600); err != nil {
				return rows, err
			}
			if len(p.Conversions) < limit {
				break
			}
		}
	}
	return rows, nil
}

// tableShape is a table's DDL and columns, as syncd created it.
type tableShape struct {
	DDL     string
	Columns []string
	Types   []string
}

// shapeOf reads table's shape from a DuckDB warehouse file syncd wrote.
func shapeOf(ctx context.Context, path, table string) (tableShape, error) {
	var sh tableShape
	db, err := sql.Open("duckdb", path+"?access_mode=READ_ONLY")
	if err != nil {
		return sh, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT sql FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?", table).Scan(&sh.DDL); err != nil {
		return sh, fmt.Errorf("DDL of %s in %s: %w", table, path, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index", table)
	if err != nil {
		return sh, err
	}
	defer rows.Close()
	for rows.Next() {
		var c, t string
		if err := rows.Scan(&c, &t); err != nil {
			return sh, err
		}
		sh.Columns, sh.Types = append(sh.Columns, c), append(sh.Types, t)
	}
	return sh, rows.Err()
}

// derived are the conversions columns syncd takes from elsewhere than the
// field of their name, first choice first (see models/conversions.go).
var derived = map[string][]string{
	"offer_id":      {"c.offer_id", "c.offer.id"},
	"partner_id":    {"c.partner_id", "c.partner.id"},
	"advertiser_id": {"c.advertiser.id", "c.supplier_id"},
}

// readJSONLoad is DuckDB's own way to the same table: read_json over the
// saved pages, unnest each page's conversions and cast every field to its
// column's type, into a new database file. It returns the rows loaded,
// how long it took from opening the file to closing it (which checkpoints)
// and the CPU time this process spent meanwhile: DuckDB's threads run in
// it, and nothing else of the bench does then (the simulator is another
// process and idle).
func readJSONLoad(ctx context.Context, dbPath, pagesGlob string, sh tableShape) (n int64, wall, cpu time.Duration, _ error) {
	cpu0, err := selfCPU()
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	n, err = readJSONInsert(ctx, dbPath, pagesGlob, sh)
	if err != nil {
		return 0, 0, 0, err
	}
	wall = time.Since(start)
	cpu1, err := selfCPU()
	if err != nil {
		return 0, 0, 0, err
	}
	return n, wall, cpu1 - cpu0, nil
}

// readJSONInsert is readJSONLoad's work: open, create, insert, close.
func readJSONInsert(ctx context.Context, dbPath, pagesGlob string, sh tableShape) (int64, error) {
	db, err := sql.Open("duckdb", dbPath)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, sh.DDL); err != nil {
		return 0, fmt.Errorf("create table: %w", err)
	}
	src := fmt.Sprintf("(SELECT unnest(conversions) AS c FROM read_json('%s'))", strings.ReplaceAll(pagesGlob, "'", "''"))
	fields, err := structFields(ctx, db, src)
	if err != nil {
		return 0, err
	}
	exprs := make([]string, len(sh.Columns))
	for i, col := range sh.Columns {
		typ := sh.Types[i]
		switch {
		case col == models.NetworkColumn:
			// syncd's rows carry the network they came from (the
			// config's first and only one here: the default).
			exprs[i] = "'" + models.DefaultNetwork + "'"
		case derived[col] != nil:
			var alts []string
			for _, a := range derived[col] {
				if fields[strings.SplitN(strings.TrimPrefix(a, "c."), ".", 2)[0]] {
					alts = append(alts, fmt.Sprintf("TRY_CAST(%s AS %s)", a, typ))
				}
			}
			exprs[i] = "coalesce(" + strings.Join(append(alts, "NULL"), ", ") + ")"
		case fields[col]:
			exprs[i] = fmt.Sprintf("TRY_CAST(c.%q AS %s)", col, typ)
		case col == "raw":
			exprs[i] = fmt.Sprintf("CAST(to_json(c) AS %s)", typ)
		case strings.HasPrefix(typ, "TIMESTAMP"):
			exprs[i] = "CAST(now() AS TIMESTAMP)"
		default:
			exprs[i] = "NULL"
		}
	}
	res, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO conversions SELECT %s FROM %s", strings.Join(exprs, ", "), src))
	if err != nil {
		return 0, fmt.Errorf("read_json load: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if err := db.Close(); err != nil {
		return 0, err
	}
	return n, nil
}

// structFields names the top-level fields of src's column c.
func structFields(ctx context.Context, db *sql.DB, src string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, "DESCRIBE SELECT c.* FROM "+src)
	if err != nil {
		return nil, fmt.Errorf("fields of the pages: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string]bool{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out[fmt.Sprint(vals[0])] = true
	}
	return out, rows.Err()
}
