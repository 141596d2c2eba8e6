package extract

import (
	"context"
	"fmt"
	"time"
)

// Probe fetches the first page of the stream's latest window: one request
// that proves the address, the key and the key's right to this endpoint,
// without loading anything. It returns the window's total_count.
func (s *Stream) Probe(ctx context.Context) (int64, error) {
	windows := s.Plan(time.Time{}, s.c.now().UTC())
	if len(windows) == 0 {
		return 0, fmt.Errorf("%s: nothing to probe", s.decl.Name)
	}
	reply, _, err := s.c.getPage(ctx, s.decl.Endpoint, s.decl.ListKey, s.query(windows[len(windows)-1]), 1)
	if err != nil {
		return 0, err
	}
	if reply.pagination == nil {
		return int64(len(reply.items)), nil
	}
	return reply.pagination.TotalCount.v, nil
}
