package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/daemon"
	"github.com/syncd/syncd/internal/tabular"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/warehouse"
	"github.com/syncd/syncd/models"
)

func newQueryCmd(g *globals) *cobra.Command {
	var format, file string
	var networks []string
	var writable bool
	cmd := &cobra.Command{
		Use:   `query "SELECT ..." | --file report.sql [--network NAME]`,
		Short: "Run SQL over the warehouse and print the result",
		Long: `Run one SQL statement over the synced warehouse (DuckDB SQL).

Tables: ` + strings.Join(models.Names(), ", ") + `,
_syncd_state, _syncd_runs, _syncd_meta, _syncd_migrations, and the views daily_revenue,
conversions_by_status, cr_epc_by_offer_day, cr_epc_by_partner_day,
cr_epc_by_country_day. Ready-made reports are in sql/reports/. The
warehouse is opened read-only unless --write is given; with --write, SQL
cannot read or write other files (COPY ... TO works without --write). A
warehouse written by an older syncd is read once a writable command (such
as ` + "`syncd sync`" + `) has upgraded it. While ` + "`syncd run`" + ` holds the warehouse, the query goes to
the daemon, which runs only read-only SELECTs (see the README).

Every table's first column is network (the name of the Affise network in
the config's networks:, "default" for a config with api: alone), and its
key includes it. --network NAME answers as if the warehouse held that
network's rows only: every table and view shows only its rows.`,
		Example: `  syncd query "SELECT status, count(*) FROM conversions GROUP BY 1"
  syncd query --file sql/reports/daily_summary.sql --format csv > summary.csv
  syncd query "SELECT * FROM daily_revenue LIMIT 5" --format json
  syncd query --network beta "SELECT count(*) FROM conversions"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (file != "") {
				return usagef("give exactly one of a SQL argument or --file")
			}
			if format != "table" && format != "csv" && format != "json" {
				return usagef("--format %q: use table, csv or json", format)
			}
			query := ""
			if file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return usagef("--file: %v", err)
				}
				query = string(b)
			} else {
				query = args[0]
			}
			a, err := loadLocalApp(g)
			if err != nil {
				return err
			}
			network, err := a.oneNetwork(networks)
			if err != nil {
				return err
			}
			if !writable {
				return a.readQuery(cmd.Context(), network, query, format, cmd.OutOrStdout())
			}
			a.command += " --write"
			wh, err := warehouse.Open(cmd.Context(), a.cfg.Warehouse, a.command)
			if err != nil {
				return err
			}
			defer wh.Close()
			var q load.Querier = wh
			if network != "" {
				q = wh.ForNetwork(network)
			}
			return printQuery(cmd.Context(), q, query, format, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, csv or json")
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the SQL from this file")
	cmd.Flags().StringSliceVar(&networks, "network", nil, "only this network's rows (a name from the config's networks:; default: every network's)")
	cmd.Flags().BoolVar(&writable, "write", false, "open the warehouse writable (for UPDATE/DELETE/CREATE; no file access)")
	return cmd
}

// readQuery runs query over the warehouse opened read-only, or, while
// `syncd run` holds a DuckDB file, through the daemon, which admits only
// read-only SELECTs. network "" sees every network's rows; a name, that
// network's only.
func (a *app) readQuery(ctx context.Context, network, query, format string, out io.Writer) error {
	ro, err := warehouse.OpenReadOnly(ctx, a.cfg.Warehouse)
	if locked := daemonHolds(err); locked != nil {
		req := daemon.QueryRequest{SQL: query, Format: format, Network: network}
		if rerr := daemon.QueryRemoteRequest(ctx, a.cfg.HTTP.Listen, req, out); rerr != nil {
			if locked.Holder != "" {
				return a.askingDaemonFailed(locked, rerr)
			}
			return fmt.Errorf("%w; asking a daemon at %s failed too: %w", err, a.cfg.HTTP.Listen, rerr)
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer ro.Close()
	var q load.Querier = ro
	if network != "" {
		q = ro.ReadNetwork(network)
	}
	return printQuery(ctx, q, query, format, out)
}

// daemonHolds is the lock error of a warehouse the daemon holds, nil for
// any other err: DuckDB admits one process per file, so while `syncd run`
// holds it, the daemon answers on its loopback listener (http.listen). A
// holder without an owner file may be an older daemon.
func daemonHolds(err error) *load.LockError {
	var locked *load.LockError
	if errors.As(err, &locked) && (locked.Holder == "" || locked.Holder == "syncd run") {
		return locked
	}
	return nil
}

// askingDaemonFailed is the error of a command that found the warehouse
// held (daemonHolds) and could not ask the daemon either.
func (a *app) askingDaemonFailed(locked *load.LockError, err error) error {
	return fmt.Errorf("%s, and asking it at http.listen %s failed: %w", locked.InUse(), a.cfg.HTTP.Listen, err)
}

// printQuery runs query on q and prints its rows in format.
func printQuery(ctx context.Context, q load.Querier, query, format string, out io.Writer) error {
	// Only the statement's own failure is prefixed, as it always was; one
	// while printing comes as the printer reports it.
	printing := false
	err := q.Query(ctx, query, func(rows *sql.Rows) error {
		printing = true
		return tabular.Write(out, rows, format)
	})
	if err != nil && !printing {
		return fmt.Errorf("query: %w", err)
	}
	return err
}
