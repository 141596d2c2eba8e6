package warehouse

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/lake"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/load/lake/lakesql"
)

// lakeWarehouse is a Parquet lake with SQL over it, as one network sees
// it: loads, cursors and runs go to the lake's view of the network, SQL to
// an in-memory DuckDB reading its files (every network's). Every
// network's view shares one lakeShared.
type lakeWarehouse struct {
	*lake.Sink
	*lakeShared
	// only, set on a view ForNetwork or ReadNetwork made, has Query see
	// only that network's rows (`syncd query --network`); the warehouse as
	// opened sees every network's.
	only string
}

// lakeShared is what the views of one opened lake share, closed once.
type lakeShared struct {
	sql     *lakesql.DB
	refresh *refresher
	closeB  func() error

	closeOnce sync.Once
	closeErr  error
}

var (
	_ load.Warehouse = (*lakeWarehouse)(nil)
	_ load.ReadOnly  = (*lakeWarehouse)(nil)
)

func (w *lakeWarehouse) Query(ctx context.Context, stmt string, read func(*sql.Rows) error) error {
	if w.only != "" {
		return w.sql.QueryNetwork(ctx, w.only, stmt, read)
	}
	return w.sql.Query(ctx, stmt, read)
}

func (w *lakeWarehouse) ClientDB() (*sql.DB, error) { return w.sql.ClientDB() }

// Close stops the refresher, then closes the SQL, the lake (its lock)
// and the bucket: once, whichever network's view it is called on.
func (w *lakeWarehouse) Close() error {
	w.closeOnce.Do(func() {
		if w.refresh != nil {
			w.refresh.stop()
		}
		err := errors.Join(w.sql.Close(), w.Sink.Close())
		if w.closeB != nil {
			err = errors.Join(err, w.closeB())
		}
		w.closeErr = err
	})
	return w.closeErr
}

// openBucket opens the lake's storage: a local directory or an S3 prefix.
func openBucket(ctx context.Context, cfg config.Warehouse, create bool) (bucket.Bucket, func() error, error) {
	if cfg.IsS3() {
		s3, err := bucket.OpenS3(ctx, cfg.Path, bucket.S3Config{Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region, PathStyle: bool(cfg.S3.PathStyle)})
		if err != nil {
			return nil, nil, fmt.Errorf("warehouse.path %w", err)
		}
		return s3, s3.Close, nil
	}
	if !create {
		if _, err := os.Stat(cfg.Path); errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("lake %s: %w", cfg.Path, lake.ErrNoLake)
		}
	}
	if err := os.MkdirAll(cfg.Path, 0o755); err != nil {
		return nil, nil, &config.Error{Msg: fmt.Sprintf("warehouse.path: cannot create directory %s (%v); choose a writable path", cfg.Path, errors.Unwrap(err))}
	}
	b, err := bucket.OpenDir(cfg.Path)
	if err != nil {
		return nil, nil, &config.Error{Msg: fmt.Sprintf("warehouse.path: %s is not usable as a lake (%v); choose a writable directory", cfg.Path, err)}
	}
	return b, nil, nil
}

// mirrorDir is where a lake on S3 is mirrored for SQL: one directory per
// lake under the user's cache directory.
func mirrorDir(cfg config.Warehouse) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	h := sha256.Sum256([]byte(cfg.S3.Endpoint + "\x00" + cfg.Path))
	return filepath.Join(base, "syncd", "lake-"+hex.EncodeToString(h[:8]))
}

func openLake(ctx context.Context, cfg config.Warehouse, command string) (load.Warehouse, error) {
	b, closeB, err := openBucket(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	r := newRefresher()
	lk, err := lake.Open(ctx, b, command, lake.OnCommit(func(string) { r.poke() }))
	if err != nil {
		closeAll(closeB)
		return nil, err
	}
	db, err := lakesql.Open(ctx, lk, lakesql.Options{MemoryLimit: cfg.MemoryLimit, Sandboxed: true, MirrorDir: mirrorDir(cfg), ReportingCurrency: cfg.ReportingCurrency})
	if err != nil {
		_ = lk.Close()
		closeAll(closeB)
		return nil, err
	}
	r.start(db.Refresh)
	return &lakeWarehouse{Sink: lk, lakeShared: &lakeShared{sql: db, refresh: r, closeB: closeB}}, nil
}

func openLakeReadOnly(ctx context.Context, cfg config.Warehouse) (load.ReadOnly, error) {
	b, closeB, err := openBucket(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	lk, err := lake.OpenReadOnly(ctx, b)
	if err != nil {
		closeAll(closeB)
		return nil, err
	}
	db, err := lakesql.Open(ctx, lk, lakesql.Options{MemoryLimit: cfg.MemoryLimit, MirrorDir: mirrorDir(cfg), ReportingCurrency: cfg.ReportingCurrency})
	if err != nil {
		closeAll(closeB)
		return nil, err
	}
	return &lakeWarehouse{Sink: lk, lakeShared: &lakeShared{sql: db, closeB: closeB}}, nil
}

func closeAll(f func() error) {
	if f != nil {
		_ = f()
	}
}

// refresher refreshes the lake's SQL after commits, off the committing
// goroutine: pokes while a refresh runs fold into one more.
type refresher struct {
	pokes chan struct{}
	done  chan struct{}
	quit  chan struct{}
}

func newRefresher() *refresher {
	return &refresher{pokes: make(chan struct{}, 1), done: make(chan struct{}), quit: make(chan struct{})}
}

func (r *refresher) poke() {
	select {
	case r.pokes <- struct{}{}:
	default:
	}
}

func (r *refresher) start(refresh func(context.Context) error) {
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.quit:
				return
			case <-r.pokes:
				// A failed refresh leaves the last good view; the next
				// commit tries again.
				_ = refresh(context.Background())
			}
		}
	}()
}

func (r *refresher) stop() {
	close(r.quit)
	<-r.done
}

// ForNetwork implements load.Warehouse: the lake as network sees it,
// sharing w's lock, SQL and refresher. Its Query sees network's rows only
// (as the DuckDB warehouse's view does, for `syncd query --network`); its
// ClientDB is the shared pool, every network's.
func (w *lakeWarehouse) ForNetwork(network string) load.Warehouse {
	return &lakeWarehouse{Sink: w.Sink.ForNetwork(network), lakeShared: w.lakeShared, only: network}
}

// ReadNetwork implements load.ReadOnly, as ForNetwork.
func (w *lakeWarehouse) ReadNetwork(network string) load.ReadOnly {
	return &lakeWarehouse{Sink: w.Sink.ForNetwork(network), lakeShared: w.lakeShared, only: network}
}
