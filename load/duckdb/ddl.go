package duckdb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/models"
)

// createTable is CREATE TABLE IF NOT EXISTS for a model, derived from its
// neutral description: the Arrow schema gives the columns in order, their
// types and nullability, and the key's columns are NOT NULL too.
//
// It deliberately declares no PRIMARY KEY: DuckDB's ART index for it made
// files 2.4x larger and loads 3x slower (shared/measurements.md), and its
// ON CONFLICT silently keeps the first of duplicate rows in a batch. The
// Tx enforces key uniqueness itself (staging + DELETE/INSERT in one
// transaction). Names were checked by validateTarget.
func createTable(m models.Model) (string, error) {
	return createTableNamed(m, m.Table())
}

// createTableNamed is createTable under another name (a migration's copy).
func createTableNamed(m models.Model, name string) (string, error) {
	return createTableOf(m, name, m.Schema().Fields())
}

// createTableOf is createTableNamed with only fields, of m's, as columns (a
// migration's copy at an earlier version's shape).
func createTableOf(m models.Model, name string, fields []arrow.Field) (string, error) {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + quoteIdent(name) + " (\n")
	for i, f := range fields {
		typ, err := ColumnType(f.Type)
		if err != nil {
			return "", fmt.Errorf("duckdb: %s.%s: %w", m.Table(), f.Name, err)
		}
		b.WriteString("  " + quoteIdent(f.Name) + " " + typ)
		if !f.Nullable || slices.Contains(m.Key(), f.Name) {
			b.WriteString(" NOT NULL")
		}
		if i < len(fields)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(")")
	return b.String(), nil
}

// ColumnType is the DuckDB type that holds an Arrow type's values exactly.
// Timestamps are stored as plain TIMESTAMPs holding UTC: the instant is in
// the Arrow type (timestamp[us, tz=UTC]), and a TIMESTAMPTZ column would
// render in each reader's session zone.
func ColumnType(t arrow.DataType) (string, error) {
	switch t := t.(type) {
	case *arrow.StringType:
		return "VARCHAR", nil
	case *arrow.Int64Type:
		return "BIGINT", nil
	case *arrow.Int32Type:
		return "INTEGER", nil
	case *arrow.Float64Type:
		return "DOUBLE", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale), nil
	case *arrow.TimestampType:
		return "TIMESTAMP", nil
	case *arrow.Date32Type:
		return "DATE", nil
	case *arrow.BooleanType:
		return "BOOLEAN", nil
	}
	return "", fmt.Errorf("no DuckDB column type for Arrow %s", t)
}
