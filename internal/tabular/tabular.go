// Package tabular prints *sql.Rows as an aligned table, CSV or JSON lines.
// `syncd query` uses it locally and the daemon's /api/query uses it to
// answer the same query for a CLI that cannot open the locked file.
package tabular

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
)

// Formats lists the accepted format names.
var Formats = []string{"table", "csv", "json"}

// Valid reports whether format is one of Formats.
func Valid(format string) bool {
	for _, f := range Formats {
		if f == format {
			return true
		}
	}
	return false
}

// Write prints every row of rows to w in format (table, csv or json: one
// JSON object per line). It does not close rows.
func Write(w io.Writer, rows *sql.Rows, format string) error {
	if !Valid(format) {
		return fmt.Errorf("format %q: use table, csv or json", format)
	}
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	var table *tabwriter.Writer
	var cw *csv.Writer
	enc := json.NewEncoder(w)
	switch format {
	case "table":
		table = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(table, strings.Join(cols, "\t"))
	case "csv":
		cw = csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return err
		}
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		n++
		switch format {
		case "json":
			obj := make(map[string]any, len(cols))
			for i, c := range cols {
				obj[c] = JSONValue(vals[i])
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		default:
			cells := make([]string, len(cols))
			for i := range vals {
				cells[i] = Text(vals[i])
			}
			if table != nil {
				fmt.Fprintln(table, strings.Join(cells, "\t"))
			} else if err := cw.Write(cells); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	if table != nil {
		if err := table.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "(%d rows)\n", n)
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	return nil
}

// Text renders one value as table or CSV text.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.DateTime)
	case []byte:
		return string(x)
	case duckdbdriver.Decimal:
		return decimalText(x)
	default:
		return fmt.Sprint(x)
	}
}

// JSONValue keeps numbers as numbers and renders the rest as text.
func JSONValue(v any) any {
	switch x := v.(type) {
	case nil, bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64, string:
		return x
	case duckdbdriver.Decimal:
		return json.Number(decimalText(x))
	default:
		return Text(v)
	}
}

// decimalText prints a DECIMAL exactly at its declared scale, so money
// columns line up ("6629.00", not "6629") and nothing is rounded.
func decimalText(d duckdbdriver.Decimal) string {
	if d.Value == nil {
		return ""
	}
	digits := new(big.Int).Abs(d.Value).String()
	scale := int(d.Scale)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	out := digits
	if scale > 0 {
		out = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if d.Value.Sign() < 0 {
		out = "-" + out
	}
	return out
}
