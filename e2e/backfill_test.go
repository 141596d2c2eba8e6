package e2e

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// backfill's --from and --to are days of api.timezone's calendar, although
// conversions are asked for by UTC day: every conversion created on the
// day, as the network's clock reads it, is loaded. East of UTC the day
// starts on the UTC day before; west of it, it ends on the UTC day after.
func TestBackfillDaysAreTheNetworksDays(t *testing.T) {
	for _, zone := range []string{"Asia/Tokyo", "America/Los_Angeles"} {
		t.Run(zone, func(t *testing.T) {
			s := startSim(t, "--seed", "5", "--conversions", "800", "--days", "5", "--timezone", zone)
			e := newEnvIn(t, s, zone, "")
			day := time.Now().In(e.loc).AddDate(0, 0, -2).Format(time.DateOnly)
			if r := e.syncd(t, "backfill", "--stream", "conversions", "--from", day, "--to", day); r.code != 0 {
				t.Fatalf("backfill exit %d\n%s", r.code, tail(r.stderr, 4000))
			}
			var want [][]string
			for _, r := range s.truth(t, "conversions") {
				c, err := time.Parse(time.DateTime, str(r["created_at"]))
				if err != nil {
					t.Fatal(err)
				}
				if c.In(e.loc).Format(time.DateOnly) == day {
					want = append(want, []string{str(r["id"]), str(r["created_at"])})
				}
			}
			if len(want) == 0 {
				t.Fatalf("no conversions on %s; the test proves nothing", day)
			}
			db := e.openDB(t)
			var got [][]string
			for _, r := range queryStrings(t, db, `SELECT id, `+tsCol("created_at")+` FROM conversions`) {
				c, err := time.Parse(time.DateTime, r[1])
				if err != nil {
					t.Fatal(err)
				}
				if c.In(e.loc).Format(time.DateOnly) == day {
					got = append(got, r)
				}
			}
			compareRows(t, "conversions of "+day+" in "+zone, got, want)
		})
	}
}

// A backfill into days not loaded commits in units of whole DuckDB row
// groups, which DuckDB writes to the file as they fill, before COMMIT.
// Killed with SIGKILL at random instants, in and between such units, and
// then run to its end, it leaves the same table as a backfill never
// killed: every conversion once, no row lost or doubled.
func TestBackfillKillNineInWholeRowGroups(t *testing.T) {
	s := startSim(t, "--seed", "13", "--conversions", "400000", "--days", "4")
	from := time.Now().UTC().AddDate(0, 0, -5).Format(time.DateOnly)
	to := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	args := []string{"backfill", "--stream", "conversions", "--from", from, "--to", to}
	killed := newEnvIn(t, s, "UTC", "")
	rng := rand.New(rand.NewPCG(13, uint64(time.Now().UnixNano())))
	// Up to three kills, stopping early should a backfill finish.
	kills := killRuns(t, killed, args, 3,
		func() time.Duration { return time.Duration(1500+rng.IntN(8000)) * time.Millisecond },
		func(_ int, wasKilled bool) bool { return wasKilled })
	if r := killed.syncd(t, args...); r.code != 0 {
		t.Fatalf("backfill after %d kills: exit %d\n%s\nthe warehouse's files: %s", kills, r.code, tail(r.stderr, 4000), fileSizes(filepath.Dir(killed.db)))
	}
	clean := newEnvIn(t, s, "UTC", "")
	if r := clean.syncd(t, args...); r.code != 0 {
		t.Fatalf("backfill: exit %d\n%s", r.code, tail(r.stderr, 4000))
	}
	snapshot := func(e *env) [][]string {
		db := e.openDB(t)
		defer db.Close()
		return queryStrings(t, db, `SELECT count(*)::VARCHAR, count(DISTINCT id)::VARCHAR,
			sum(hash(t))::VARCHAR FROM (SELECT * EXCLUDE (_synced_at) FROM conversions) t`)
	}
	want := snapshot(clean)
	if n, _ := strconv.Atoi(want[0][0]); n < 2*122_880 {
		t.Fatalf("%s conversions backfilled: want more than two row groups for the test to mean anything", want[0][0])
	}
	compareRows(t, fmt.Sprintf("conversions after %d kills", kills), snapshot(killed), want)
	t.Logf("%d kills; %s conversions", kills, want[0][0])
}

// fileSizes lists the files under dir with their sizes, for a failure's
// message: what a killed process left (a WAL, DuckDB's temp files) says
// much about a resumed run's memory.
func fileSizes(dir string) string {
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, fmt.Sprintf("%s %d", rel, info.Size()))
		}
		return nil
	})
	return strings.Join(out, ", ")
}
