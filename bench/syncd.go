package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// warehouse is where a syncd run loads: a DuckDB file or a Parquet lake.
type warehouse struct {
	Kind string // duckdb | parquet
	Path string
}

// size is the bytes the warehouse occupies on disk (a lake's whole tree;
// a DuckDB file with its WAL).
func (w warehouse) size() (int64, error) {
	var n int64
	root := w.Path
	if w.Kind == "duckdb" {
		for _, p := range []string{w.Path, w.Path + ".wal"} {
			if st, err := os.Stat(p); err == nil {
				n += st.Size()
			}
		}
		return n, nil
	}
	err := filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// syncdRun is one syncd command against a simulator with its own config
// and warehouse in dir.
type syncdRun struct {
	bin string
	dir string
	wh  warehouse
	cfg string
}

// apiSettings are the api keys a run sets besides the simulator's address;
// everything else (memory, batch sizes) is syncd's default.
type apiSettings struct {
	RequestsPerSecond int
	Concurrency       int
	PageSize          int
}

func newSyncdRun(bin, dir string, s *sim, kind string, api apiSettings) (*syncdRun, error) {
	wh := warehouse{Kind: kind, Path: filepath.Join(dir, "wh", "affise.duckdb")}
	if kind == "parquet" {
		wh.Path = filepath.Join(dir, "lake")
	}
	cfg := fmt.Sprintf(`api:
  base_url: %s
  key: %s
  timezone: UTC
  requests_per_second: %d
  concurrency: %d
  page_size: %d
warehouse:
  kind: %s
  path: %s
`, s.URL, simKey, api.RequestsPerSecond, api.Concurrency, api.PageSize, kind, wh.Path)
	p := filepath.Join(dir, "syncd.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return &syncdRun{bin: bin, dir: dir, wh: wh, cfg: p}, nil
}

func (r *syncdRun) run(ctx context.Context, stop <-chan struct{}, args ...string) (result, error) {
	return runChild(ctx, r.dir, nil, stop, r.bin, append(args, "-c", r.cfg, "--log-level", "info")...)
}

// backfill re-syncs conversions of the days [from, to].
func (r *syncdRun) backfill(ctx context.Context, stop <-chan struct{}, from, to time.Time) (result, error) {
	return r.run(ctx, stop, "backfill", "--stream", "conversions", "--from", from.Format(time.DateOnly), "--to", to.Format(time.DateOnly))
}

var rowsRe = regexp.MustCompile(`"rows":([0-9]+)`)

// loggedRows is the rows of the last "backfill finished" line of a run's
// log (JSON lines).
func loggedRows(log string) (int64, error) {
	m := rowsRe.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("no rows in syncd's log:\n%s", tail(log, 2000))
	}
	return strconv.ParseInt(m[len(m)-1][1], 10, 64)
}
