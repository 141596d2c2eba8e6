package pgserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5/pgtype"
)

// pgType is a PostgreSQL type the endpoint shows clients: the wire type of
// a result column and a row of pg_catalog.pg_type.
type pgType struct {
	oid      uint32
	name     string // pg_type.typname
	format   string // format_type's spelling, as psql's \d prints it
	elem     uint32 // the element type of an array type
	array    uint32 // the array type of an element type
	length   int16  // pg_type.typlen
	category string // pg_type.typcategory
}

// pgTypes are the types DuckDB's map onto, their arrays, and the few that
// catalog columns have.
var pgTypes = []pgType{
	{pgtype.BoolOID, "bool", "boolean", 0, pgtype.BoolArrayOID, 1, "B"},
	{pgtype.ByteaOID, "bytea", "bytea", 0, pgtype.ByteaArrayOID, -1, "U"},
	{pgtype.QCharOID, "char", `"char"`, 0, pgtype.QCharArrayOID, 1, "Z"},
	{pgtype.NameOID, "name", "name", 0, pgtype.NameArrayOID, 64, "S"},
	{pgtype.Int8OID, "int8", "bigint", 0, pgtype.Int8ArrayOID, 8, "N"},
	{pgtype.Int2OID, "int2", "smallint", 0, pgtype.Int2ArrayOID, 2, "N"},
	{pgtype.Int4OID, "int4", "integer", 0, pgtype.Int4ArrayOID, 4, "N"},
	{pgtype.TextOID, "text", "text", 0, pgtype.TextArrayOID, -1, "S"},
	{pgtype.OIDOID, "oid", "oid", 0, pgtype.OIDArrayOID, 4, "N"},
	{pgtype.JSONOID, "json", "json", 0, pgtype.JSONArrayOID, -1, "U"},
	{pgtype.Float4OID, "float4", "real", 0, pgtype.Float4ArrayOID, 4, "N"},
	{pgtype.Float8OID, "float8", "double precision", 0, pgtype.Float8ArrayOID, 8, "N"},
	{pgtype.VarcharOID, "varchar", "character varying", 0, pgtype.VarcharArrayOID, -1, "S"},
	{pgtype.DateOID, "date", "date", 0, pgtype.DateArrayOID, 4, "D"},
	{pgtype.TimeOID, "time", "time without time zone", 0, pgtype.TimeArrayOID, 8, "D"},
	{pgtype.TimestampOID, "timestamp", "timestamp without time zone", 0, pgtype.TimestampArrayOID, 8, "D"},
	{pgtype.TimestamptzOID, "timestamptz", "timestamp with time zone", 0, pgtype.TimestamptzArrayOID, 8, "D"},
	{pgtype.IntervalOID, "interval", "interval", 0, pgtype.IntervalArrayOID, 16, "T"},
	{pgtype.TimetzOID, "timetz", "time with time zone", 0, pgtype.TimetzArrayOID, 12, "D"},
	{pgtype.NumericOID, "numeric", "numeric", 0, pgtype.NumericArrayOID, -1, "N"},
	{pgtype.UUIDOID, "uuid", "uuid", 0, pgtype.UUIDArrayOID, 16, "U"},
	{pgtype.UnknownOID, "unknown", "unknown", 0, 0, -2, "X"},
}

// typeByOID finds a type of pgTypes or of their arrays.
func typeByOID(oid uint32) (pgType, bool) {
	for _, t := range pgTypes {
		if t.oid == oid {
			return t, true
		}
		if t.array == oid && oid != 0 {
			return pgType{oid: oid, name: "_" + t.name, format: t.format + "[]", elem: t.oid, length: -1, category: "A"}, true
		}
	}
	return pgType{}, false
}

// duckdbScalars maps DuckDB's type names (as rows and duckdb_columns()
// spell them) to the PostgreSQL type clients see. Unsigned and wider
// integers go to the next type that holds them all.
var duckdbScalars = map[string]uint32{
	"BOOLEAN": pgtype.BoolOID,
	"TINYINT": pgtype.Int2OID, "UTINYINT": pgtype.Int2OID, "SMALLINT": pgtype.Int2OID,
	"USMALLINT": pgtype.Int4OID, "INTEGER": pgtype.Int4OID,
	"UINTEGER": pgtype.Int8OID, "BIGINT": pgtype.Int8OID,
	"UBIGINT": pgtype.NumericOID, "HUGEINT": pgtype.NumericOID, "UHUGEINT": pgtype.NumericOID,
	"BIGNUM": pgtype.NumericOID, "VARINT": pgtype.NumericOID, "DECIMAL": pgtype.NumericOID,
	"FLOAT": pgtype.Float4OID, "DOUBLE": pgtype.Float8OID,
	"VARCHAR": pgtype.TextOID, "BLOB": pgtype.ByteaOID, "JSON": pgtype.JSONOID,
	"DATE": pgtype.DateOID, "TIME": pgtype.TimeOID,
	"TIMESTAMP": pgtype.TimestampOID, "TIMESTAMP_S": pgtype.TimestampOID,
	"TIMESTAMP_MS": pgtype.TimestampOID, "TIMESTAMP_NS": pgtype.TimestampOID,
	"TIMESTAMPTZ": pgtype.TimestamptzOID, "TIMESTAMP WITH TIME ZONE": pgtype.TimestamptzOID,
	"TIMETZ": pgtype.TimetzOID, "TIME WITH TIME ZONE": pgtype.TimetzOID,
	"INTERVAL": pgtype.IntervalOID, "UUID": pgtype.UUIDOID,
}

// oidOf is the PostgreSQL type of a DuckDB type name; everything without a
// counterpart (ENUM, STRUCT, MAP, UNION, BIT, lists of those) is text.
func oidOf(duckdbType string) uint32 {
	t := strings.TrimSpace(duckdbType)
	if elem, ok := strings.CutSuffix(t, "]"); ok {
		if i := strings.LastIndexByte(elem, '['); i > 0 {
			if pt, ok := typeByOID(oidOf(elem[:i])); ok && pt.array != 0 {
				return pt.array
			}
		}
		return pgtype.TextOID
	}
	if base, _, ok := strings.Cut(t, "("); ok && strings.EqualFold(strings.TrimSpace(base), "DECIMAL") {
		return pgtype.NumericOID
	}
	if oid, ok := duckdbScalars[strings.ToUpper(t)]; ok {
		return oid
	}
	return pgtype.TextOID
}

// typmodOf is the PostgreSQL type modifier of a DuckDB type: numeric's
// precision and scale, -1 for the rest.
func typmodOf(duckdbType string) int32 {
	var p, s int32
	if _, err := fmt.Sscanf(strings.ToUpper(strings.ReplaceAll(duckdbType, " ", "")), "DECIMAL(%d,%d)", &p, &s); err == nil {
		return (p<<16 | s) + 4
	}
	return -1
}

// errBinaryUnsupported: a client asked for binary where pgx's codecs have
// none for the type (timetz); clients ask for text unless they know the type.
var errBinaryUnsupported = errors.New("binary format is not supported for this type")

// encodeValue appends v, as database/sql scanned it from DuckDB, in the
// wire format of oid; a nil v is NULL.
func encodeValue(m *pgtype.Map, oid uint32, format int16, v any, buf []byte) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if oid == pgtype.TimetzOID {
		if format != pgtype.TextFormatCode {
			return nil, errBinaryUnsupported
		}
		if t, ok := v.(time.Time); ok {
			return t.AppendFormat(buf, "15:04:05.999999-07:00"), nil
		}
	}
	pv, err := toPG(oid, v)
	if err != nil {
		return nil, err
	}
	out, err := m.Encode(oid, format, pv, buf)
	if err != nil {
		return nil, fmt.Errorf("encoding %T as %s: %w", v, typeName(oid), err)
	}
	if out == nil {
		// An empty value is not NULL (and a nil buf sliced stays nil).
		out = buf[:len(buf):len(buf)]
		if out == nil {
			out = []byte{}
		}
	}
	return out, nil
}

func typeName(oid uint32) string {
	if t, ok := typeByOID(oid); ok {
		return t.name
	}
	return fmt.Sprintf("type %d", oid)
}

// toPG converts a DuckDB value to what pgx's codec for oid takes.
func toPG(oid uint32, v any) (any, error) {
	if oid == pgtype.TextOID || oid == pgtype.JSONOID {
		return textOf(v)
	}
	if t, ok := typeByOID(oid); ok && t.elem != 0 {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("a %T where a list was expected", v)
		}
		out := make([]any, len(list))
		for i, e := range list {
			if e == nil {
				continue
			}
			pe, err := toPG(t.elem, e)
			if err != nil {
				return nil, err
			}
			out[i] = pe
		}
		return out, nil
	}
	if b, ok := v.([]byte); ok && oid == pgtype.UUIDOID && len(b) == 16 {
		return [16]byte(b), nil
	}
	switch x := v.(type) {
	case duckdbdriver.Decimal:
		if x.Value == nil {
			return nil, nil
		}
		return pgtype.Numeric{Int: x.Value, Exp: -int32(x.Scale), Valid: true}, nil
	case *big.Int:
		return pgtype.Numeric{Int: x, Valid: true}, nil
	case uint64:
		return pgtype.Numeric{Int: new(big.Int).SetUint64(x), Valid: true}, nil
	case int8:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case duckdbdriver.Interval:
		return pgtype.Interval{Months: x.Months, Days: x.Days, Microseconds: x.Micros, Valid: true}, nil
	case duckdbdriver.UUID:
		return [16]byte(x), nil
	case time.Time:
		switch oid {
		case pgtype.TimeOID:
			h, m, s := x.Clock()
			us := int64(h)*3600e6 + int64(m)*60e6 + int64(s)*1e6 + int64(x.Nanosecond()/1000)
			return pgtype.Time{Microseconds: us, Valid: true}, nil
		case pgtype.TimestampOID, pgtype.DateOID:
			// DuckDB's naive TIMESTAMPs come back as UTC times; their wall
			// clock is the value.
			return x.UTC(), nil
		}
		return x, nil
	}
	return v, nil
}

// textOf spells a value of a type without a PostgreSQL counterpart (and
// JSON) as text: strings as they are, nested values as JSON.
func textOf(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case fmt.Stringer:
		return x.String(), nil
	case duckdbdriver.Map:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		v = m
	default:
		v = jsonable(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v), nil //nolint:nilerr // a value JSON cannot hold is still shown
	}
	return string(b), nil
}

// jsonable turns DuckDB's Go values inside nested ones into what
// encoding/json writes readably.
func jsonable(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case duckdbdriver.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case duckdbdriver.Decimal:
		return json.Number(x.String())
	case *big.Int:
		return json.Number(x.String())
	case duckdbdriver.UUID:
		return x.String()
	case duckdbdriver.Union:
		return jsonable(x.Value)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999")
	case []byte:
		return fmt.Sprintf("\\x%x", x)
	}
	return v
}

// decodeParam turns a bound parameter into a value DuckDB binds: text as a
// string DuckDB casts to the parameter's type, binary through pgx's codec
// for the type the client named.
func decodeParam(m *pgtype.Map, oid uint32, format int16, data []byte) (any, error) {
	if data == nil {
		return nil, nil
	}
	if format == pgtype.TextFormatCode {
		if oid == pgtype.ByteaOID {
			var b []byte
			if err := m.Scan(oid, format, data, &b); err != nil {
				return nil, err
			}
			return b, nil
		}
		return string(data), nil
	}
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		var n int64
		err := m.Scan(oid, format, data, &n)
		return n, err
	case pgtype.Float4OID, pgtype.Float8OID:
		var f float64
		err := m.Scan(oid, format, data, &f)
		return f, err
	case pgtype.BoolOID:
		var b bool
		err := m.Scan(oid, format, data, &b)
		return b, err
	case pgtype.NumericOID:
		var n pgtype.Numeric
		if err := m.Scan(oid, format, data, &n); err != nil {
			return nil, err
		}
		if n.NaN || n.InfinityModifier != pgtype.Finite {
			f, err := n.Float64Value()
			return f.Float64, err
		}
		// Exact, as text DuckDB casts to the parameter's DECIMAL.
		b, err := n.MarshalJSON()
		return string(b), err
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.NameOID, pgtype.BPCharOID, pgtype.UnknownOID, pgtype.JSONOID:
		return string(data), nil
	case pgtype.JSONBOID:
		if len(data) > 0 && data[0] == 1 {
			return string(data[1:]), nil
		}
		return nil, errors.New("unknown jsonb version")
	case pgtype.ByteaOID:
		return append([]byte(nil), data...), nil
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		var t time.Time
		err := m.Scan(oid, format, data, &t)
		return t.UTC(), err
	case pgtype.UUIDOID:
		var u pgtype.UUID
		if err := m.Scan(oid, format, data, &u); err != nil {
			return nil, err
		}
		id := duckdbdriver.UUID(u.Bytes)
		return id.String(), nil
	case pgtype.IntervalOID:
		var iv pgtype.Interval
		if err := m.Scan(oid, format, data, &iv); err != nil {
			return nil, err
		}
		return duckdbdriver.Interval{Months: iv.Months, Days: iv.Days, Micros: iv.Microseconds}, nil
	}
	return nil, fmt.Errorf("parameters of %s cannot be sent in binary; send them as text", typeName(oid))
}
