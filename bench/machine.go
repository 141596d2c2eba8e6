package bench

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where a bench ran.
type machine struct {
	CPU     string
	Cores   int
	RAM     string
	Go      string
	DuckDB  string
	Syncd   string
	Commit  string
	Date    time.Time
	Workers string // other load on the machine, as the load average shows it
}

func describeMachine(ctx context.Context, syncdBin string) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC()}
	m.CPU = firstField("/proc/cpuinfo", "model name")
	if kb := firstField("/proc/meminfo", "MemTotal"); kb != "" {
		var n int64
		if _, err := fmt.Sscanf(kb, "%d", &n); err == nil {
			m.RAM = fmt.Sprintf("%.1f GiB", float64(n)/(1<<20))
		}
	}
	if db, err := sql.Open("duckdb", ""); err == nil {
		_ = db.QueryRowContext(ctx, "SELECT library_version || ' (' || source_id || ')' FROM pragma_version()").Scan(&m.DuckDB)
		_ = db.Close()
	}
	if out, err := exec.CommandContext(ctx, syncdBin, "version").Output(); err == nil {
		m.Syncd = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty", "--abbrev=12").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.Workers = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// firstField is the value of the first "key : value" line of a /proc file.
func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
