package warehousesql

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

//go:embed views/*.sql
var viewFiles embed.FS

//go:embed reports/*.sql
var reportFiles embed.FS

// Requirement is one table a view reads and the columns it needs from it.
type Requirement struct {
	Table   string
	Columns []string
}

// View is one CREATE OR REPLACE VIEW statement.
type View struct {
	Name     string // the view's name, equal to the file name without .sql
	SQL      string
	Requires []Requirement
}

// Query is one report: a SELECT over tables and views.
type Query struct {
	Name string // file name without .sql
	SQL  string
}

// Views returns every view, ordered by name. The files are embedded, so
// an error is a defect of this build (TestViewsParse catches it), returned
// rather than panicked so a caller decides.
func Views() ([]View, error) { return loadViews() }

// Reports returns every report, ordered by name.
func Reports() ([]Query, error) { return loadReports() }

// Report returns the SQL of the named report ("top_offers" or
// "top_offers.sql").
func Report(name string) (string, error) {
	reports, err := loadReports()
	if err != nil {
		return "", err
	}
	name = strings.TrimSuffix(path.Base(name), ".sql")
	for _, r := range reports {
		if r.Name == name {
			return r.SQL, nil
		}
	}
	names := make([]string, len(reports))
	for i, r := range reports {
		names[i] = r.Name
	}
	return "", fmt.Errorf("no report %q (have: %s)", name, strings.Join(names, ", "))
}

var (
	identRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	requiresRe = regexp.MustCompile(`^--\s*requires:\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)\s*$`)
	createRe   = regexp.MustCompile(`(?i)CREATE\s+OR\s+REPLACE\s+VIEW\s+([A-Za-z_][A-Za-z0-9_]*)\s+AS\b`)
)

func loadViews() ([]View, error) {
	files, err := fs.Glob(viewFiles, "views/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []View
	for _, f := range files {
		b, err := viewFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		v := View{Name: strings.TrimSuffix(path.Base(f), ".sql"), SQL: strings.TrimSpace(string(b))}
		m := createRe.FindStringSubmatch(v.SQL)
		if m == nil || m[1] != v.Name {
			return nil, fmt.Errorf("%s: must contain CREATE OR REPLACE VIEW %s AS", f, v.Name)
		}
		for _, line := range strings.Split(v.SQL, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "--") || !strings.Contains(line, "requires:") {
				continue
			}
			rm := requiresRe.FindStringSubmatch(line)
			if rm == nil {
				return nil, fmt.Errorf("%s: malformed requires line %q", f, line)
			}
			r := Requirement{Table: rm[1]}
			for _, c := range strings.Split(rm[2], ",") {
				c = strings.TrimSpace(c)
				if !identRe.MatchString(c) {
					return nil, fmt.Errorf("%s: bad column %q in %q", f, c, line)
				}
				r.Columns = append(r.Columns, c)
			}
			v.Requires = append(v.Requires, r)
		}
		if len(v.Requires) == 0 {
			return nil, fmt.Errorf("%s: no -- requires: lines", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func loadReports() ([]Query, error) {
	files, err := fs.Glob(reportFiles, "reports/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Query
	for _, f := range files {
		b, err := reportFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Query{Name: strings.TrimSuffix(path.Base(f), ".sql"), SQL: strings.TrimSpace(string(b))})
	}
	return out, nil
}
