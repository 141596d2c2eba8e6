package duckdb

import (
	"fmt"
	"strings"

	"github.com/syncd/syncd/models"
)

// RawView is the CREATE OR REPLACE VIEW of <table>_raw: the table's rows
// with raw holding the whole object again, rebuilt from raw and the columns
// raw leaves out (models.Folds): each folded column that is not NULL and
// whose member raw lacks is written back as it was sent. A raw that still
// holds every member (written before folding, or a lake's older files)
// comes back as it is. ok is false when the table folds nothing (its raw
// is whole already). The view reads the table by name, so it serves a
// DuckDB table and a lake's view alike.
func RawView(m models.Model) (name, sql string, ok bool) {
	folds := models.Folds(m)
	if len(folds) == 0 {
		return "", "", false
	}
	name = m.Table() + "_raw"
	return name, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT * REPLACE (%s AS raw) FROM %s",
		quoteIdent(name), RawExpr(folds, "raw"), quoteIdent(m.Table())), true
}

// RawExpr is the SQL expression of the whole object of a row whose raw
// column is raw (a column reference) and whose folded columns are folds.
func RawExpr(folds []models.Fold, raw string) string {
	parts := make([]string, 0, len(folds)+1)
	for _, f := range folds {
		c := quoteIdent(f.Column)
		var val string
		switch f.Kind {
		case models.FoldString:
			val = fmt.Sprintf("CAST(to_json(%s) AS VARCHAR)", c)
		case models.FoldInt:
			val = fmt.Sprintf("CAST(%s AS VARCHAR)", c)
		case models.FoldDecimal:
			// DECIMAL(18,4) renders 4 decimals: the shortest is what folds.
			val = fmt.Sprintf("rtrim(rtrim(CAST(%s AS VARCHAR), '0'), '.')", c)
		case models.FoldTime:
			val = fmt.Sprintf(`'"' || strftime(%s, '%%Y-%%m-%%d %%H:%%M:%%S') || '"'`, c)
		case models.FoldJSON:
			val = fmt.Sprintf("CAST(%s AS VARCHAR)", c) // the member's JSON text
		}
		// A raw DuckDB cannot read (a lone \ud800 escape) is whole: see
		// models' fold.go.
		parts = append(parts, fmt.Sprintf(`CASE WHEN %[1]s IS NOT NULL AND NOT coalesce(TRY(json_exists(%[2]s, '$.%[3]s')), true) THEN '"%[3]s":' || %[4]s END`,
			c, raw, f.Column, val))
	}
	// raw is compact: its members are what lies between its braces.
	parts = append(parts, fmt.Sprintf("nullif(substr(%[1]s, 2, length(%[1]s) - 2), '')", raw))
	return "'{' || concat_ws(',', " + strings.Join(parts, ", ") + ") || '}'"
}
