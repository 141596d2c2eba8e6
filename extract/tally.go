package extract

import (
	"context"
	"sync/atomic"
)

// Tally counts, as they happen, the HTTP attempts and the retries of the
// requests made under a context that carries it (WithTally), as
// net/http/httptrace attaches a trace. Streams share one Client, so its
// Stats cannot tell one pass's retries from another's; a pass puts a Tally
// of its own in the context it fetches with. Safe for concurrent use.
type Tally struct{ requests, retries atomic.Int64 }

// Requests is the HTTP attempts made so far, retries included.
func (t *Tally) Requests() int64 { return t.requests.Load() }

// Retries is the attempts made so far beyond the first of each page.
func (t *Tally) Retries() int64 { return t.retries.Load() }

type tallyKey struct{}

// WithTally returns ctx carrying t: every request made under it counts in t.
func WithTally(ctx context.Context, t *Tally) context.Context {
	return context.WithValue(ctx, tallyKey{}, t)
}

// tallyOf is ctx's Tally, or nil.
func tallyOf(ctx context.Context) *Tally {
	t, _ := ctx.Value(tallyKey{}).(*Tally)
	return t
}
