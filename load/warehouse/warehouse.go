// Package warehouse opens the warehouse syncd.yaml configures. It is the
// one place that chooses a sink by warehouse.kind: everything above load/
// holds the load interfaces it returns and names no sink.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
)

// Check says whether this build can open cfg's kind of warehouse; when it
// cannot, the error is a *config.Error naming warehouse.kind. Commands
// call it as soon as the config is loaded, so a kind not available fails
// before any work, as any other config error does.
func Check(cfg config.Warehouse) error {
	switch cfg.Kind {
	case "duckdb":
		return nil
	case "parquet":
		return nil
	default:
		return &config.Error{Msg: fmt.Sprintf("warehouse.kind: %q must be duckdb or parquet", cfg.Kind)}
	}
}

// Open opens cfg's warehouse for writing, creating it when missing and
// upgrading an older schema in place. It is sandboxed: no SQL run on it
// (ClientDB, Query) reaches a file or the network. command names this
// process (e.g. "syncd run") to another that finds the warehouse locked.
// Close it once, after every Tx ended.
func Open(ctx context.Context, cfg config.Warehouse, command string) (load.Warehouse, error) {
	if err := Check(cfg); err != nil {
		return nil, err
	}
	if cfg.Kind == "parquet" {
		return openLake(ctx, cfg, command)
	}
	dir := filepath.Dir(cfg.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &config.Error{Msg: fmt.Sprintf("warehouse.path: cannot create directory %s (%v); choose a writable path", dir, errors.Unwrap(err))}
	}
	// Caught before DuckDB tries, so the message names the setting to fix.
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return nil, &config.Error{Msg: fmt.Sprintf("warehouse.path: directory %s is not writable (%v); choose a writable path", dir, err)}
	}
	s, err := duckdb.Open(ctx, cfg.Path, duckdb.WithMemoryLimit(cfg.MemoryLimit), duckdb.WithThreads(cfg.Threads), duckdb.Sandboxed(), duckdb.Owner(command),
		duckdb.ReportingCurrency(cfg.ReportingCurrency))
	if err != nil {
		return nil, err // not a nil *duckdb.Sink in a non-nil interface
	}
	return s, nil
}

// OpenReadOnly opens cfg's existing warehouse only to read. Its Querier
// runs a person's SQL with that person's rights, so, unlike Open, it
// keeps DuckDB's file functions (COPY ... TO, read_csv). It fails with
// load.ErrLocked while another process (a running `syncd run`) holds the
// warehouse.
func OpenReadOnly(ctx context.Context, cfg config.Warehouse) (load.ReadOnly, error) {
	if err := Check(cfg); err != nil {
		return nil, err
	}
	if cfg.Kind == "parquet" {
		return openLakeReadOnly(ctx, cfg)
	}
	if _, err := os.Stat(cfg.Path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("warehouse %s %w", cfg.Path, load.ErrNoWarehouse)
	}
	s, err := duckdb.Open(ctx, cfg.Path, duckdb.ReadOnly())
	if err != nil {
		return nil, err
	}
	return s, nil
}
