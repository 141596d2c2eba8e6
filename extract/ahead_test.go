package extract

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// The pages after page 2 are fetched at once: page 3 is answered only
// once page 4 has been asked for, which a walk fetching one page after
// the other never does.
func TestPagesAreFetchedAhead(t *testing.T) {
	asked4 := make(chan struct{})
	var once sync.Once
	srv, _ := hostileServer(t, func(w http.ResponseWriter, r *http.Request, p int, _ int64) {
		ids := map[int][]string{1: {"a", "b", "c"}, 2: {"d", "e", "f"}, 3: {"g", "h", "i"}, 4: {"j"}}[p]
		next := p + 1
		switch p {
		case 3:
			select {
			case <-asked4:
			case <-time.After(20 * time.Second):
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"status":2,"error":"page 4 was never asked for while page 3 was under way"}`))
				return
			}
		case 4:
			once.Do(func() { close(asked4) })
			next = 0
		}
		w.Write([]byte(page(p, 10, next, ids...)))
	})
	c := testClient(t, srv, ClientConfig{PageSize: 3, Concurrency: 3})
	s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
	ids, _, reqs, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}; !slices.Equal(ids, want) || reqs != 4 {
		t.Fatalf("rows %v in %d requests, want %v in 4", ids, reqs, want)
	}
}

// A page fetched ahead on the word of total_count is dropped unread when
// the walk ends before it: its rows never reach the warehouse.
func TestAPageFetchedAheadPastTheEndIsDropped(t *testing.T) {
	srv, _ := hostileServer(t, func(w http.ResponseWriter, r *http.Request, p int, _ int64) {
		switch p {
		case 1:
			w.Write([]byte(page(1, 15, 2, "a", "b", "c")))
		case 2:
			w.Write([]byte(page(2, 15, 3, "d", "e", "f")))
		case 3: // the end after all, and the count says so
			w.Write([]byte(page(3, 9, 0, "g", "h", "i")))
		default: // rows that are not there
			w.Write([]byte(page(p, 15, p+1, "x", "y", "z")))
		}
	})
	c := testClient(t, srv, ClientConfig{PageSize: 3, Concurrency: 4}, WithRewalks(1))
	s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
	ids, _, reqs, err := collect(t, context.Background(), s, Window{From: time.Now().Add(-time.Hour), To: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}; !slices.Equal(ids, want) {
		t.Fatalf("rows %v, want %v", ids, want)
	}
	// Two walks (total_count changed while paging), each of pages 1-3,
	// and pages 4 and 5 of each unless cancelled before they left.
	if reqs < 6 || reqs > 10 {
		t.Fatalf("%d requests, want 6..10", reqs)
	}
}
