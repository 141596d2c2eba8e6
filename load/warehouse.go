package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/models"
)

// ErrLocked is an open refused because another process holds the
// warehouse (a running `syncd run`); a reader may ask that process instead.
var ErrLocked = errors.New("database is locked by another process")

// ErrNoWarehouse is a read-only open of a DuckDB warehouse nothing was
// written to yet.
var ErrNoWarehouse = errors.New("does not exist yet: run `syncd sync` first")

// LockError is a warehouse another process holds: who, as far as the sink
// could tell, and what to do. It matches ErrLocked.
type LockError struct {
	Path    string
	PID     int    // as DuckDB reports it; 0 when it did not
	Holder  string // the syncd command holding the file, e.g. "syncd run"; "" when unknown
	Program string // the holder's executable name, as DuckDB reports it
}

func (e *LockError) Error() string { return e.InUse() + ": " + e.advice() }

func (e *LockError) Unwrap() error { return ErrLocked }

// InUse says who holds the warehouse, without what to do about it.
func (e *LockError) InUse() string {
	who := "another process"
	switch {
	case e.Holder != "":
		who = "`" + e.Holder + "`"
	case e.Program != "":
		who += ", " + e.Program
	}
	if e.PID > 0 {
		who += " (PID " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("the warehouse %s is in use by %s", e.Path, who)
}

func (e *LockError) advice() string {
	switch {
	case e.Holder == "syncd run":
		return "stop it, or query through it with `syncd query`"
	case e.Holder != "":
		return "wait for it to finish, or stop it"
	}
	return "stop it or wait for it to finish (a DuckDB file being written is open in one process at a time)"
}

// Querier runs a person's own SQL over the warehouse (`syncd query`), with
// that person's rights: nothing checks the statement (the daemon's clients
// go through package sqlguard instead). read gets the result's rows, which
// stay the warehouse's: Query closes them when read returns. An error of
// the statement comes back before read is called; read's error comes back
// as it is. Safe for concurrent use.
type Querier interface {
	Query(ctx context.Context, stmt string, read func(*sql.Rows) error) error
}

// ReadOnly is a warehouse opened only to read (`syncd state`, `syncd
// query`): nothing opened this way can change it. Close it once, after
// the last read.
type ReadOnly interface {
	Reader
	Querier
	// FirstDay and ChangedHours are Sink's, so a pass can be planned
	// (`syncd plan`) without the right to load.
	FirstDay(ctx context.Context, m models.Model) (day time.Time, found bool, err error)
	ChangedHours(ctx context.Context, set string) ([]time.Time, error)
	// Network is the network whose cursors and runs the Reader reads.
	Network() string
	// ReadNetwork is the same warehouse as network sees it: its Reader
	// parts (cursors, runs, money, changed hours, FirstDay) are network's,
	// and its Querier answers as if the warehouse held only network's
	// rows (`syncd query --network`; the warehouse as opened sees every
	// network's). (Warehouse.ForNetwork is the same
	// for a warehouse opened to write; one type may be both.) The view
	// shares the receiver's handle: closing either closes both, once.
	ReadNetwork(network string) ReadOnly
	Close() error
}

// Warehouse is a warehouse opened for writing, as load/warehouse opens it:
// loads go through its Sink, syncd's own reads through its Reader, a
// person's SQL (`syncd query --write`) through its Querier, cursors moved
// by hand (`syncd state reset`, nothing else) through its Admin, and the
// daemon's clients' SQL through ClientDB. The concurrency each part
// allows is stated on it; one Close ends them all, after every Tx ended.
type Warehouse interface {
	Sink
	Reader
	Querier
	checkpoints.Admin
	// ClientDB is a pool over the warehouse for clients' SQL, which
	// package sqlguard checks statement by statement: loads never use its
	// connections, and no SQL on it reaches a file or the network. The
	// warehouse owns the pool (Close closes it; the caller must not). It
	// fails for a warehouse that cannot serve clients' SQL.
	ClientDB() (*sql.DB, error)
	// ForNetwork is the same warehouse as network sees it: its Sink,
	// Reader and Admin parts are network's (see Sink), its Querier
	// answers as if the warehouse held only network's rows (as
	// ReadNetwork's), its ClientDB sees every network. Views share the receiver's handle and
	// may be used concurrently with it: closing any one closes them all,
	// once, after every Tx of every view ended.
	ForNetwork(network string) Warehouse
}
