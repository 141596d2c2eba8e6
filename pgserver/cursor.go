package pgserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// cursor runs a portal's statement in a goroutine of its own and hands
// its rows over one at a time, so a suspended portal keeps its place and
// the session keeps serving messages.
type cursor struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	cols   chan []column // the columns, first
	rows   chan [][]byte // then the rows, encoded; closed at the end
	done   chan struct{}
	err    error // set before done closes
	count  int
	hdr    []column
}

// open starts the portal's statement. The running-statements bound is
// waited for here, inside the statement's time.
func (s *session) open(ctx context.Context, p *portal) *cursor {
	qctx, cancel := s.statementContext(ctx)
	c := &cursor{ctx: qctx, cancel: cancel, cols: make(chan []column, 1), rows: make(chan [][]byte, 64), done: make(chan struct{})}
	want := p.stmt.columns
	formats := p.formats
	go func() {
		defer close(c.done)
		defer close(c.rows)
		defer func() {
			if r := recover(); r != nil {
				c.err = fmt.Errorf("internal error reading the result: %v", r)
			}
		}()
		select {
		case s.srv.running <- struct{}{}:
			defer func() { <-s.srv.running }()
		case <-qctx.Done():
			c.err = qctx.Err()
			return
		}
		types := pgtype.NewMap()
		c.err = s.srv.cfg.Querier.Query(qctx, p.stmt.run, p.args, func(rows *sql.Rows) error {
			cts, err := rows.ColumnTypes()
			if err != nil {
				return err
			}
			cols := make([]column, len(cts))
			for i, ct := range cts {
				cols[i] = columnOf(ct.Name(), ct.DatabaseTypeName())
			}
			if want != nil {
				if len(want) != len(cols) {
					return errPlanChanged
				}
				for i := range cols {
					if cols[i].oid != want[i].oid && want[i].oid != pgtype.TextOID {
						return errPlanChanged
					}
					cols[i] = want[i]
				}
			}
			c.cols <- cols
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					return err
				}
				row := make([][]byte, len(cols))
				for i, v := range vals {
					b, err := encodeValue(types, cols[i].oid, formatOf(formats, i), v, nil)
					if err != nil {
						return fmt.Errorf("column %s: %w", cols[i].name, err)
					}
					row[i] = b
				}
				select {
				case c.rows <- row:
				case <-qctx.Done():
					return qctx.Err()
				}
			}
			return rows.Err()
		})
	}()
	return c
}

var errPlanChanged = &sqlError{code: "0A000", msg: "cached plan must not change result type"}

// header waits for the statement's columns.
func (c *cursor) header() ([]column, error) {
	if c.hdr != nil {
		return c.hdr, nil
	}
	select {
	case cols := <-c.cols:
		c.hdr = cols
		return cols, nil
	case <-c.done:
		select {
		case cols := <-c.cols:
			c.hdr = cols
			return cols, nil
		default:
		}
		if c.err == nil {
			return nil, errors.New("the statement returned no result")
		}
		return nil, c.err
	}
}

// next is the next row, or nil at the end.
func (c *cursor) next() ([][]byte, error) {
	if c.hdr == nil {
		if _, err := c.header(); err != nil {
			return nil, err
		}
	}
	row, ok := <-c.rows
	if ok {
		c.count++
		return row, nil
	}
	<-c.done
	return nil, c.err
}

// close stops the statement (when still running) and waits for it.
func (c *cursor) close() {
	c.cancel(context.Canceled)
	<-c.done
}
