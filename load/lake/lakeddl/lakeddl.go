// Package lakeddl writes the SQL that declares a Parquet lake's tables in
// another engine, as external tables over the lake's files: the lake is
// then queried in place, with nothing copied and no syncd process in the
// way. The statements are derived from the same models the sinks load, so
// each engine sees the DuckDB warehouse's columns, raw included, under
// the types the lake's Parquet files carry.
package lakeddl

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/models"
)

// Schema is the schema (database) the tables go in, for the engines whose
// tables live in one: a constant rather than an option, since the output
// is a script the reader edits anyway (catalog names, credentials).
const Schema = "affise"

// partitionKey is the Hive partition key of a table with a day column:
// the lake writes its days as date=YYYY-MM-DD directories, and engines
// that map directories to partitions by name expose it as a column of
// that name.
const partitionKey = "date"

// networkKey is the Hive partition key above it, of every table: the lake
// keeps each network's part in network=<name> directories. The files hold
// the network column too; engines that take it from the directories
// declare it as a partition column instead of a column of the files (the
// values are the same), since a name cannot be both.
const networkKey = models.NetworkColumn

// renamedPartition is the partition column of a table that has a column
// named partitionKey itself (the postbacks' date): there the engines that
// can map a column to date=<value> directories by a location template
// (Trino's and Athena's partition projection) expose the partition under
// this name; Spark, which cannot, reads the table unpartitioned.
const renamedPartition = "partition_date"

// projectionStart is where projected days begin (Athena, and Trino for
// the postbacks). A projecting engine probes every day a query does not
// filter out, so the range is kept short of "all time"; a lake holding
// earlier days needs it moved, as the script's comments say.
const projectionStart = "2015-01-01"

// Engines lists the engines Statements writes for.
func Engines() []string { return []string{"duckdb", "trino", "athena", "spark", "clickhouse"} }

// Statements returns the script that declares every table of models in
// engine, over the lake at location: an absolute local directory or
// s3://bucket[/prefix]. Running it again is safe (it replaces views and
// skips tables that exist), and for Trino and Spark it is how new days
// and networks become visible.
//
// networks are the lake's networks (config networks[].name; none given:
// the one network "default"): Athena, and Trino for the tables it
// projects, read only the networks listed, which the script's comments
// say where to extend. The other engines find every network's directory.
func Statements(engine string, location string, ms []models.Model, networks ...string) (string, error) {
	var d dialect
	switch engine {
	case "duckdb":
		d = duckdbDialect{}
	case "trino":
		d = trinoDialect{}
	case "athena":
		d = athenaDialect{}
	case "spark":
		d = sparkDialect{}
	case "clickhouse":
		d = clickhouseDialect{}
	default:
		return "", fmt.Errorf("lakeddl: unknown engine %q (engines: %s)", engine, strings.Join(Engines(), ", "))
	}
	loc, err := parseLocation(location)
	if err != nil {
		return "", fmt.Errorf("lakeddl: %w", err)
	}
	if err := d.accepts(loc); err != nil {
		return "", fmt.Errorf("lakeddl: %s: %w", engine, err)
	}
	if len(networks) == 0 {
		networks = []string{models.DefaultNetwork}
	}
	for _, n := range networks {
		if !models.ValidNetworkName(n) {
			return "", fmt.Errorf("lakeddl: network %q is not a valid network name", n)
		}
	}
	loc.networks = networks
	var b strings.Builder
	d.header(&b, loc)
	for _, m := range ms {
		t, err := tableOf(m)
		if err != nil {
			return "", fmt.Errorf("lakeddl: %w", err)
		}
		if err := d.table(&b, loc, t); err != nil {
			return "", fmt.Errorf("lakeddl: %s: %s: %w", engine, t.name, err)
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n", nil
}

// dialect writes one engine's script.
type dialect interface {
	// accepts refuses a location the engine cannot read.
	accepts(loc location) error
	// header writes the comments and statements that come once.
	header(b *strings.Builder, loc location)
	// table writes the statements declaring one table.
	table(b *strings.Builder, loc location, t table) error
}

// location is a validated lake root, without a trailing slash.
type location struct {
	root string // "/srv/lake" or "s3://bucket/prefix"
	s3   bool
	// networks are the networks a projecting engine reads (Statements).
	networks []string
}

// networkList is the networks as a projection's comma-separated values.
func (l location) networkList() string { return strings.Join(l.networks, ",") }

// dir is a table's directory.
func (l location) dir(table string) string { return l.root + "/" + table }

// glob matches a table's data files and nothing of syncd's own: one file
// per network= directory, and in day tables per date= directory below it.
func (l location) glob(t table) string {
	if t.day {
		return l.dir(t.name) + "/" + networkKey + "=*/" + partitionKey + "=*/*.parquet"
	}
	return l.dir(t.name) + "/" + networkKey + "=*/*.parquet"
}

// uri is a table's directory as Hadoop-style engines name it: a local
// directory needs the file:// scheme there.
func (l location) uri(table string) string {
	if l.s3 {
		return l.dir(table)
	}
	return "file://" + l.dir(table)
}

// parseLocation accepts what every engine can take verbatim inside a SQL
// string literal and a glob: no quote, backslash, control character or
// glob metacharacter, so nothing needs escaping per engine.
func parseLocation(s string) (location, error) {
	if s == "" {
		return location{}, fmt.Errorf("no location: give an absolute directory or s3://bucket/prefix")
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return r < 0x20 || r == 0x7f || strings.ContainsRune(`'"\$`+"`"+`*?[]{}`, r)
	}); i >= 0 {
		return location{}, fmt.Errorf("location %q: character %q is not allowed in a lake location", s, s[i])
	}
	if rest, ok := strings.CutPrefix(s, "s3://"); ok {
		rest = strings.TrimRight(rest, "/")
		bucket, _, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return location{}, fmt.Errorf("location %q: no bucket", s)
		}
		for _, seg := range strings.Split(rest, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return location{}, fmt.Errorf("location %q: empty, . or .. path segment", s)
			}
		}
		return location{root: "s3://" + rest, s3: true}, nil
	}
	if strings.Contains(s, "://") {
		return location{}, fmt.Errorf("location %q: only local directories and s3:// are supported", s)
	}
	if !filepath.IsAbs(s) {
		return location{}, fmt.Errorf("location %q is relative: give an absolute directory (other engines do not share this process's working directory)", s)
	}
	root := filepath.Clean(s)
	if root == "/" {
		return location{}, fmt.Errorf("location %q: the root directory is not a lake", s)
	}
	return location{root: root}, nil
}

// table is what a dialect needs of a model.
type table struct {
	name string
	cols []column
	day  bool // its files are in date= directories
	// part is the partition column of a day table: partitionKey, or
	// renamedPartition when the table has a column named partitionKey.
	part string
}

// renamed reports whether the partition column cannot be named after the
// directories' key, so only a location template maps it.
func (t table) renamed() bool { return t.part == renamedPartition }

type column struct {
	name     string
	typ      arrow.DataType
	nullable bool
}

// tableOf refuses names that some engine would fold, or need escaped in
// a quoted identifier: the models' are constants or come from an
// allow-list, so this only guards the script against a future model. It
// also picks the partition column, which must not collide with one of the
// table's own.
func tableOf(m models.Model) (table, error) {
	t := table{name: m.Table(), day: m.DayColumn() != ""}
	if !plainIdent(t.name) {
		return table{}, fmt.Errorf("table name %q is not a plain identifier", t.name)
	}
	sc := m.Schema()
	for _, f := range sc.Fields() {
		if !plainIdent(f.Name) {
			return table{}, fmt.Errorf("%s: column name %q is not a plain identifier", t.name, f.Name)
		}
		t.cols = append(t.cols, column{name: f.Name, typ: f.Type, nullable: f.Nullable})
	}
	if len(sc.FieldIndices(networkKey)) != 1 {
		return table{}, fmt.Errorf("%s: no %s column", t.name, networkKey)
	}
	if !t.day {
		return t, nil
	}
	if len(sc.FieldIndices(m.DayColumn())) != 1 {
		return table{}, fmt.Errorf("%s: day column %q is not in the schema", t.name, m.DayColumn())
	}
	t.part = partitionKey
	if len(sc.FieldIndices(partitionKey)) > 0 {
		t.part = renamedPartition
		if len(sc.FieldIndices(renamedPartition)) > 0 {
			return table{}, fmt.Errorf("%s: columns %s and %s leave no name for the partition column", t.name, partitionKey, renamedPartition)
		}
	}
	return t, nil
}

func plainIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// timestampDigits is a timestamp's fractional digits as the lake stores
// it: Parquet has no seconds unit, so those are written as milliseconds.
func timestampDigits(t *arrow.TimestampType) int {
	switch t.Unit {
	case arrow.Microsecond:
		return 6
	case arrow.Nanosecond:
		return 9
	}
	return 3
}

func unsupported(c column) error {
	return fmt.Errorf("column %s: no type for Arrow %s", c.name, c.typ)
}

// columnList writes "  <col> <type>,\n" lines; extra are appended after
// the model's columns.
func columnList(b *strings.Builder, t table, quote func(string) string, typ func(column) (string, error), extra ...string) error {
	return columnListOf(b, t.cols, quote, typ, extra...)
}

// fileColumns are t's columns less the network column, for an engine
// that takes the network from the network= directories.
func (t table) fileColumns() []column {
	var out []column
	for _, c := range t.cols {
		if c.name != networkKey {
			out = append(out, c)
		}
	}
	return out
}

func columnListOf(b *strings.Builder, cols []column, quote func(string) string, typ func(column) (string, error), extra ...string) error {
	lines := make([]string, 0, len(cols)+len(extra))
	for _, c := range cols {
		ty, err := typ(c)
		if err != nil {
			return err
		}
		lines = append(lines, "  "+quote(c.name)+" "+ty)
	}
	lines = append(lines, extra...)
	b.WriteString(strings.Join(lines, ",\n"))
	b.WriteString("\n")
	return nil
}

func doubleQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func backtick(s string) string    { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func comment(b *strings.Builder, lines ...string) {
	for _, l := range lines {
		if l == "" {
			b.WriteString("--\n")
			continue
		}
		b.WriteString("-- " + l + "\n")
	}
}

// duckdbDialect: views over read_parquet. hive_partitioning is off so the
// network= and date= directories add no column (the files hold network):
// a view then has exactly the DuckDB warehouse table's columns, and a
// query written for one runs on the other.
type duckdbDialect struct{}

func (duckdbDialect) accepts(location) error { return nil }

func (duckdbDialect) header(b *strings.Builder, loc location) {
	comment(b,
		"DuckDB: one view per lake table, with the columns and types of the DuckDB",
		"warehouse's table. A view reads the files at each query, so new days show",
		"without running this again. Creating a view reads its files' schema: one",
		`over a table with no file yet fails ("No files found"); run this again after`,
		"that stream's first sync. Files written before a column was added read as",
		"NULL there (union_by_name).",
		"Lake: "+loc.root)
	if loc.s3 {
		comment(b, "",
			"DuckDB reads s3:// through its httpfs extension (recent versions load it",
			"on first use) and a secret for the bucket. Run, before the views:",
			"  INSTALL httpfs; LOAD httpfs;",
			"and one of",
			"  CREATE SECRET syncd_lake (TYPE s3, PROVIDER credential_chain);",
			"  CREATE SECRET syncd_lake (TYPE s3, KEY_ID '<access key id>', SECRET '<secret access key>', REGION '<region>');")
	}
	b.WriteString("\n")
}

func (duckdbDialect) table(b *strings.Builder, loc location, t table) error {
	b.WriteString("CREATE OR REPLACE VIEW " + doubleQuote(t.name) + " AS\nSELECT\n")
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = "  " + doubleQuote(c.name)
	}
	b.WriteString(strings.Join(names, ",\n") + "\n")
	fmt.Fprintf(b, "FROM read_parquet('%s', hive_partitioning = false, union_by_name = true);\n\n", loc.glob(t))
	return nil
}

// trinoDialect: Hive connector tables. Partition columns must come last
// and, being read from directory names, are text.
type trinoDialect struct{}

func (trinoDialect) accepts(location) error { return nil }

func (trinoDialect) header(b *strings.Builder, loc location) {
	comment(b,
		"Trino, Hive connector: catalog hive, schema "+Schema+" (rename both throughout",
		"to yours). Every table is partitioned by network (the Affise network's name),",
		"and tables with a day column by date below it (the UTC day, YYYY-MM-DD text):",
		"filter on them to read fewer files. New days and networks are seen once the",
		"partitions are synced again: re-run this script (or its CALL statements)",
		"after each sync.",
		"Tables that have a date column of their own name their day partition",
		renamedPartition+" instead, projected from the directories with the networks",
		"listed in the script: that needs hive.partition-projection-enabled=true in",
		"the catalog, and no CALL.",
		"",
		"The lake's timestamps are microseconds: the connector accepts timestamp(6)",
		"columns only at that precision. The SET SESSION below covers this script;",
		"set hive.timestamp-precision=MICROSECONDS in the catalog so that queries",
		"read microseconds too.")
	if !loc.s3 {
		comment(b, "",
			"A local directory (file://) is read only where every Trino worker sees it",
			"and the catalog has a local file system enabled.")
	}
	comment(b, "Lake: "+loc.root)
	b.WriteString("\nSET SESSION hive.timestamp_precision = 'MICROSECONDS';\n\n")
	b.WriteString("CREATE SCHEMA IF NOT EXISTS hive." + Schema + ";\n\n")
}

func (trinoDialect) table(b *strings.Builder, loc location, t table) error {
	// Partition columns come last: network, then the day. A table with a
	// date column of its own projects both (sync_partition_metadata
	// cannot name its day partition_date); the others are synced.
	extra := []string{"  " + doubleQuote(networkKey) + " varchar"}
	if t.renamed() {
		comment(b, t.name+" has a column named "+partitionKey+": its partitions are projected, the day as "+t.part+",",
			"the networks from partition_projection_values: list every network of the lake there.")
		extra[0] += " WITH (\n" +
			"    partition_projection_type = 'ENUM',\n" +
			"    partition_projection_values = ARRAY[" + quotedList(loc.networks) + "]\n" +
			"  )"
	}
	if t.part != "" {
		p := "  " + doubleQuote(t.part) + " varchar"
		if t.renamed() {
			p += " WITH (\n" +
				"    partition_projection_type = 'DATE',\n" +
				"    partition_projection_format = 'yyyy-MM-dd',\n" +
				"    partition_projection_range = ARRAY['" + projectionStart + "', 'NOW'],\n" +
				"    partition_projection_interval = 1,\n" +
				"    partition_projection_interval_unit = 'DAYS'\n" +
				"  )"
		}
		extra = append(extra, p)
	}
	b.WriteString("CREATE TABLE IF NOT EXISTS hive." + Schema + "." + doubleQuote(t.name) + " (\n")
	if err := columnListOf(b, t.fileColumns(), doubleQuote, trinoType, extra...); err != nil {
		return err
	}
	b.WriteString(")\nWITH (\n")
	fmt.Fprintf(b, "  external_location = '%s',\n  format = 'PARQUET'", loc.uri(t.name))
	parts := "'" + networkKey + "'"
	if t.part != "" {
		parts += ", '" + t.part + "'"
	}
	fmt.Fprintf(b, ",\n  partitioned_by = ARRAY[%s]", parts)
	if t.renamed() {
		fmt.Fprintf(b, ",\n  partition_projection_enabled = true,\n  partition_projection_location_template = '%s/%s=${%s}/%s=${%s}'",
			loc.uri(t.name), networkKey, networkKey, partitionKey, t.part)
	}
	b.WriteString("\n);\n\n")
	if !t.renamed() {
		fmt.Fprintf(b, "CALL hive.system.sync_partition_metadata(schema_name => '%s', table_name => '%s', mode => 'FULL');\n\n", Schema, t.name)
	}
	return nil
}

// quotedList is names as SQL string literals, comma-separated: they are
// network names, which need no escaping.
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

func trinoType(c column) (string, error) {
	switch t := c.typ.(type) {
	case *arrow.StringType:
		return "varchar", nil
	case *arrow.Int64Type:
		return "bigint", nil
	case *arrow.Int32Type:
		return "integer", nil
	case *arrow.Float64Type:
		return "double", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), nil
	case *arrow.TimestampType:
		// Zone-less: the lake stores UTC wall-clock time (isAdjustedToUTC=false).
		return fmt.Sprintf("timestamp(%d)", timestampDigits(t)), nil
	case *arrow.Date32Type:
		return "date", nil
	case *arrow.BooleanType:
		return "boolean", nil
	}
	return "", unsupported(c)
}

// athenaDialect: Hive DDL with partition projection, so Athena computes a
// day table's partitions from the query instead of a catalog that would
// need repairing after every new day.
type athenaDialect struct{}

func (athenaDialect) accepts(loc location) error {
	if !loc.s3 {
		return fmt.Errorf("Athena reads only s3:// locations, not %s", loc.root)
	}
	return nil
}

func (athenaDialect) header(b *strings.Builder, loc location) {
	comment(b,
		"Amazon Athena: external tables in database "+Schema+". Athena runs one statement",
		"at a time: run each below on its own. Every table is partitioned by network",
		"(the Affise network's name), tables with a day column by date below it (the",
		"UTC day, YYYY-MM-DD text; "+renamedPartition+" in tables that have a date",
		"column of their own), with partition projection: new days are seen without",
		"MSCK REPAIR TABLE, and filtering on a partition reads fewer files. Only the",
		"networks in projection.network.values are read: "+loc.networkList()+"; add",
		"every network of the lake (comma-separated). Projected days start at "+projectionStart+": move",
		"the range's start to your earliest start_date (earlier days are not read;",
		"a later start makes unfiltered queries probe fewer days).",
		"Athena reads these timestamps to the millisecond: the lake's microseconds",
		"are cut.",
		"Lake: "+loc.root)
	b.WriteString("\nCREATE DATABASE IF NOT EXISTS " + backtick(Schema) + ";\n\n")
}

func (athenaDialect) table(b *strings.Builder, loc location, t table) error {
	b.WriteString("CREATE EXTERNAL TABLE IF NOT EXISTS " + backtick(Schema) + "." + backtick(t.name) + " (\n")
	if err := columnListOf(b, t.fileColumns(), backtick, athenaType); err != nil {
		return err
	}
	b.WriteString(")\n")
	parts := backtick(networkKey) + " string"
	if t.part != "" {
		parts += ", " + backtick(t.part) + " string"
	}
	b.WriteString("PARTITIONED BY (" + parts + ")\n")
	fmt.Fprintf(b, "STORED AS PARQUET\nLOCATION '%s/'", loc.dir(t.name))
	b.WriteString("\nTBLPROPERTIES (\n")
	b.WriteString("  'projection.enabled' = 'true',\n")
	fmt.Fprintf(b, "  'projection.%s.type' = 'enum',\n", networkKey)
	fmt.Fprintf(b, "  'projection.%s.values' = '%s',\n", networkKey, loc.networkList())
	template := loc.dir(t.name) + "/" + networkKey + "=${" + networkKey + "}/"
	if t.part != "" {
		p := "projection." + t.part
		fmt.Fprintf(b, "  '%s.type' = 'date',\n", p)
		fmt.Fprintf(b, "  '%s.format' = 'yyyy-MM-dd',\n", p)
		fmt.Fprintf(b, "  '%s.range' = '%s,NOW',\n", p, projectionStart)
		fmt.Fprintf(b, "  '%s.interval' = '1',\n", p)
		fmt.Fprintf(b, "  '%s.interval.unit' = 'DAYS',\n", p)
		template += partitionKey + "=${" + t.part + "}/"
	}
	fmt.Fprintf(b, "  'storage.location.template' = '%s'\n)", template)
	b.WriteString(";\n\n")
	return nil
}

func athenaType(c column) (string, error) {
	switch t := c.typ.(type) {
	case *arrow.StringType:
		return "string", nil
	case *arrow.Int64Type:
		return "bigint", nil
	case *arrow.Int32Type:
		return "int", nil
	case *arrow.Float64Type:
		return "double", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), nil
	case *arrow.TimestampType:
		return "timestamp", nil
	case *arrow.Date32Type:
		return "date", nil
	case *arrow.BooleanType:
		return "boolean", nil
	}
	return "", unsupported(c)
}

// sparkDialect: data source tables over the directories; the metastore
// tracks their partitions, hence MSCK REPAIR TABLE.
type sparkDialect struct{}

func (sparkDialect) accepts(location) error { return nil }

func (sparkDialect) header(b *strings.Builder, loc location) {
	comment(b,
		"Spark SQL: tables USING PARQUET in database "+Schema+". Tables are partitioned",
		"by network (the Affise network's name) and, with a day column, by date below",
		"it (the UTC day, YYYY-MM-DD text): filter on them to read fewer files. New",
		"days and networks are seen once the partitions are recovered again: re-run",
		"this script (or its MSCK REPAIR TABLE statements) after each sync.",
		"Tables that have a date column of their own cannot take the date=",
		"directories as partitions: they are read unpartitioned, every file.",
		"Timestamps are TIMESTAMP_NTZ (Spark 3.4+), holding UTC as the lake does; on",
		"older Spark use TIMESTAMP with spark.sql.session.timeZone=UTC.")
	if loc.s3 {
		comment(b, "Spark on Hadoop's S3A connector names the bucket s3a:// instead of s3://.")
	}
	comment(b, "Lake: "+loc.root)
	b.WriteString("\nCREATE DATABASE IF NOT EXISTS " + backtick(Schema) + ";\n\n")
}

func (sparkDialect) table(b *strings.Builder, loc location, t table) error {
	name := backtick(Schema) + "." + backtick(t.name)
	// A table with a date column of its own cannot take the date=
	// directories as partitions, nor so the network= ones above them.
	partitioned := !t.renamed()
	cols := t.cols
	var extra, parts []string
	if partitioned {
		cols = t.fileColumns()
		parts = append(parts, backtick(networkKey))
		if t.part != "" {
			parts = append(parts, backtick(t.part))
		}
		for _, p := range parts {
			extra = append(extra, "  "+p+" STRING")
		}
	} else {
		comment(b, t.name+" has a column named "+partitionKey+": it is read unpartitioned.")
	}
	b.WriteString("CREATE TABLE IF NOT EXISTS " + name + " (\n")
	if err := columnListOf(b, cols, backtick, sparkType, extra...); err != nil {
		return err
	}
	b.WriteString(")\nUSING PARQUET\n")
	if partitioned {
		b.WriteString("PARTITIONED BY (" + strings.Join(parts, ", ") + ")\n")
	} else {
		// Reading below the table's directory without taking the
		// directories for partitions.
		b.WriteString("OPTIONS ('recursiveFileLookup' = 'true')\n")
	}
	fmt.Fprintf(b, "LOCATION '%s';\n\n", loc.uri(t.name))
	if partitioned {
		b.WriteString("MSCK REPAIR TABLE " + name + ";\n\n")
	}
	return nil
}

func sparkType(c column) (string, error) {
	switch t := c.typ.(type) {
	case *arrow.StringType:
		return "STRING", nil
	case *arrow.Int64Type:
		return "BIGINT", nil
	case *arrow.Int32Type:
		return "INT", nil
	case *arrow.Float64Type:
		return "DOUBLE", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale), nil
	case *arrow.TimestampType:
		return "TIMESTAMP_NTZ", nil
	case *arrow.Date32Type:
		return "DATE", nil
	case *arrow.BooleanType:
		return "BOOLEAN", nil
	}
	return "", unsupported(c)
}

// clickhouseDialect: the S3 engine, or file() for a local lake. Both read
// by glob at each query, so there is no partition metadata to keep and no
// date column: the day column filters.
type clickhouseDialect struct{}

func (clickhouseDialect) accepts(location) error { return nil }

func (clickhouseDialect) header(b *strings.Builder, loc location) {
	comment(b,
		"ClickHouse: a table (or view) per lake table in database "+Schema+", reading the",
		"files at each query: new days are seen without running this again. The",
		"columns are the DuckDB warehouse's, Nullable where a value may be NULL;",
		"timestamps are DateTime64 in UTC.")
	if loc.s3 {
		comment(b, "",
			"S3 tables sign requests with the server's S3 credentials (its <s3>",
			"configuration or environment). For a public bucket put NOSIGN after the",
			"URL: S3('<url>', NOSIGN, 'Parquet'); to give keys here instead:",
			"S3('<url>', '<access key id>', '<secret access key>', 'Parquet').")
	} else {
		comment(b, "",
			"file() reads only under the server's user_files_path: keep the lake there",
			"(or link it there). clickhouse-local reads any path.")
	}
	comment(b, "Lake: "+loc.root)
	b.WriteString("\nCREATE DATABASE IF NOT EXISTS " + backtick(Schema) + ";\n\n")
}

func (clickhouseDialect) table(b *strings.Builder, loc location, t table) error {
	name := backtick(Schema) + "." + backtick(t.name)
	if loc.s3 {
		b.WriteString("CREATE OR REPLACE TABLE " + name + " (\n")
		if err := columnList(b, t, backtick, clickhouseType); err != nil {
			return err
		}
		fmt.Fprintf(b, ")\nENGINE = S3('%s', 'Parquet');\n\n", loc.glob(t))
		return nil
	}
	// The structure is a string literal here: its quotes are doubled.
	var cols strings.Builder
	if err := columnList(&cols, t, backtick, clickhouseType); err != nil {
		return err
	}
	fmt.Fprintf(b, "CREATE OR REPLACE VIEW %s AS\nSELECT * FROM file('%s', 'Parquet', '\n%s');\n\n",
		name, loc.glob(t), strings.ReplaceAll(cols.String(), "'", "''"))
	return nil
}

func clickhouseType(c column) (string, error) {
	var ty string
	switch t := c.typ.(type) {
	case *arrow.StringType:
		ty = "String"
	case *arrow.Int64Type:
		ty = "Int64"
	case *arrow.Int32Type:
		ty = "Int32"
	case *arrow.Float64Type:
		ty = "Float64"
	case *arrow.Decimal128Type:
		ty = fmt.Sprintf("Decimal(%d, %d)", t.Precision, t.Scale)
	case *arrow.TimestampType:
		ty = fmt.Sprintf("DateTime64(%d, 'UTC')", timestampDigits(t))
	case *arrow.Date32Type:
		ty = "Date32"
	case *arrow.BooleanType:
		ty = "Bool"
	default:
		return "", unsupported(c)
	}
	if c.nullable {
		ty = "Nullable(" + ty + ")"
	}
	return ty, nil
}
