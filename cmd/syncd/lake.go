package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/load/lake/lakeddl"
	"github.com/syncd/syncd/models"
)

func newLakeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lake",
		Short: "Work with a Parquet lake warehouse",
		Long: `A Parquet lake (warehouse.kind: parquet) keeps each table as zstd Parquet
files under warehouse.path, a local directory or s3://bucket/prefix:

  <path>/<table>/network=<name>/date=YYYY-MM-DD/data.parquet
      tables with a day column (conversions, clicks, postbacks, stats_daily)
  <path>/<table>/network=<name>/data.parquet
      the others (offers, partners, advertisers)
  <path>/_syncd/
      syncd's own files, not a table

<name> is the Affise network's (config networks[].name; "default" without
networks:). The columns and types are the DuckDB warehouse's, raw and the
network column included.`,
		Args: noArgs,
	}
	cmd.AddCommand(newLakeDDLCmd(g))
	return cmd
}

func newLakeDDLCmd(g *globals) *cobra.Command {
	var engine, location string
	cmd := &cobra.Command{
		Use:   "ddl --engine ENGINE [--location DIR|s3://BUCKET/PREFIX]",
		Short: "Print the SQL that declares the lake's tables in another engine",
		Long: `Print, on stdout, the SQL that declares every table of the lake in another
engine, as external tables over the lake's files: that engine then queries
the lake in place. Nothing is copied, nothing is run: read the script, edit
its names if you like, and give it to the engine's client. One table per
enabled stream; stats_daily's columns follow its configured slices.

Engines:
  duckdb      a view per table over read_parquet(), with exactly the DuckDB
              warehouse's columns and types, so its queries run unchanged.
              A view over a table with no file yet fails to create: run the
              script again after that stream's first sync.
  trino       Hive connector tables in hive.affise, then
              system.sync_partition_metadata. Needs
              hive.timestamp-precision=MICROSECONDS in the catalog.
  athena      external tables in database affise with partition projection
              on date: new days need no MSCK REPAIR. s3:// locations only;
              run the statements one at a time.
  spark       tables USING PARQUET PARTITIONED BY (date) in database affise,
              then MSCK REPAIR TABLE. Timestamps are TIMESTAMP_NTZ (3.4+).
  clickhouse  S3 engine tables (s3://) or views over file() (a local
              directory) in database affise; Nullable where a value may be
              NULL.

Trino, Athena and Spark add a last column, date: the partition, the UTC day
of the table's day column as YYYY-MM-DD text. Filter on it to read fewer
files. The postback tables have a date column of their own: their partition
is partition_date in Trino (projected: needs
hive.partition-projection-enabled=true) and Athena, and Spark reads them
unpartitioned. Trino and Spark see new days only once their partitions are
synced again: re-run the script after each sync (it skips tables that
exist). DuckDB and ClickHouse read by glob at each query and add no column.

The location defaults to warehouse.path from the config, made absolute; a
config whose warehouse is a DuckDB file needs --location.`,
		Example: `  syncd lake ddl --engine duckdb | duckdb lake.duckdb
  syncd lake ddl --engine trino --location s3://my-bucket/affise > lake.sql
  trino --file lake.sql
  syncd lake ddl --engine athena --location s3://my-bucket/affise
  syncd lake ddl --engine clickhouse -c syncd.yaml | clickhouse-client --multiquery`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(lakeddl.Engines(), engine) {
				return usagef("--engine %q: use one of %s", engine, strings.Join(lakeddl.Engines(), ", "))
			}
			cfg, err := lakeConfig(g.configPath, location != "" && !cmd.Flags().Changed("config"))
			if err != nil {
				return err
			}
			loc := location
			if loc == "" {
				if cfg.Warehouse.Kind != "parquet" {
					return usagef("warehouse.kind is %s: %s is not a lake; pass --location DIR or s3://BUCKET/PREFIX", cfg.Warehouse.Kind, cfg.Warehouse.Path)
				}
				loc = cfg.Warehouse.Path
			}
			if loc, err = absLocation(loc); err != nil {
				return err
			}
			ms, err := lakeModels(cfg)
			if err != nil {
				return err
			}
			// Athena and Trino project the network partition from this list.
			out, err := lakeddl.Statements(engine, loc, ms, cfg.NetworkNames()...)
			if err != nil {
				return usageError{err}
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), out)
			return err
		},
	}
	cmd.Flags().StringVar(&engine, "engine", "", "engine to declare the tables in: "+strings.Join(lakeddl.Engines(), ", "))
	cmd.Flags().StringVar(&location, "location", "", "the lake: an absolute or relative directory, or s3://BUCKET/PREFIX (default: warehouse.path)")
	return cmd
}

// lakeConfig loads what the config says about the lake: where it is, which
// streams fill it and stats_daily's slices (its columns). It skips
// warehouse.Check: nothing is opened, and this build may not write lakes
// yet. orDefaults: a missing config file means the defaults, for a lake
// named by --location on a machine without the daemon's config.
func lakeConfig(path string, orDefaults bool) (*config.Config, error) {
	cfg, err := config.LoadLocal(path)
	if err != nil && orDefaults {
		if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
			return config.LoadLocal("")
		}
	}
	return cfg, err
}

// absLocation makes a local directory absolute: the engines that read the
// script do not run in this directory.
func absLocation(loc string) (string, error) {
	if strings.Contains(loc, "://") {
		return loc, nil
	}
	abs, err := filepath.Abs(loc)
	if err != nil {
		return "", fmt.Errorf("--location %s: %w", loc, err)
	}
	return abs, nil
}

// lakeModels are the tables of the streams enabled in any network: a
// stream disabled everywhere writes no files, and a DuckDB view over none
// fails. (The config holds every network to the same stats_daily slices.)
func lakeModels(cfg *config.Config) ([]models.Model, error) {
	var ms []models.Model
	for _, name := range models.Names() {
		var s *config.Stream
		for _, n := range cfg.Networks {
			if ns := n.Stream(name); ns != nil && ns.Enabled {
				s = ns
				break
			}
		}
		if s == nil {
			continue
		}
		decl, err := models.Lookup(s.Name)
		if err != nil {
			return nil, err
		}
		m, err := decl.Model(s.Slices)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}
