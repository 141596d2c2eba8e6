package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/load/lake/lakeddl"
	"github.com/syncd/syncd/models"
)

// syncd runs the CLI in a fresh directory holding no syncd.yaml, with
// only files the test writes; it returns stdout and the error run reports.
func syncd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	t.Chdir(dir)
	t.Setenv("SYNCD_CONFIG", "")
	root, _ := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "syncd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// With --location and no config file, every stream's table is declared,
// as the defaults enable them all.
func TestLakeDDLLocationWithoutConfig(t *testing.T) {
	out, err := syncd(t, t.TempDir(), "lake", "ddl", "--engine", "trino", "--location", "s3://bucket/affise")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range models.Names() {
		if !strings.Contains(out, `CREATE TABLE IF NOT EXISTS hive.affise."`+name+`" (`) {
			t.Errorf("no table %s in\n%s", name, out)
		}
	}
	if !strings.Contains(out, "external_location = 's3://bucket/affise/conversions'") {
		t.Errorf("conversions not at the given location:\n%s", out)
	}
}

// Without --location the lake is warehouse.path, made absolute; disabled
// streams have no table, and stats_daily's columns follow its slices.
func TestLakeDDLLocationFromConfig(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, `
warehouse:
  kind: parquet
  path: ./lake
streams:
  clicks:
    enabled: false
  stats_daily:
    slices: [day, country]
`)
	out, err := syncd(t, dir, "lake", "ddl", "--engine", "duckdb")
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := "read_parquet('" + filepath.Join(wd, "lake") + "/conversions/network=*/date=*/*.parquet'"; !strings.Contains(out, want) {
		t.Errorf("want %s in\n%s", want, out)
	}
	if strings.Contains(out, `VIEW "clicks"`) {
		t.Errorf("a view for the disabled clicks:\n%s", out)
	}
	stats := out[strings.Index(out, `VIEW "stats_daily"`):]
	stats = stats[:strings.Index(stats, ";")]
	if !strings.Contains(stats, `"country"`) || strings.Contains(stats, `"offer_id"`) {
		t.Errorf("stats_daily does not follow its slices:\n%s", stats)
	}
}

func TestLakeDDLErrors(t *testing.T) {
	dir := t.TempDir()
	duck := writeConfig(t, dir, "warehouse:\n  kind: duckdb\n  path: ./data/affise.duckdb\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"lake", "ddl", "--location", "/srv/lake"}, "use one of " + strings.Join(lakeddl.Engines(), ", ")},
		{[]string{"lake", "ddl", "--engine", "postgres", "--location", "/srv/lake"}, "use one of " + strings.Join(lakeddl.Engines(), ", ")},
		{[]string{"lake", "ddl", "--engine", "athena", "--location", "/srv/lake"}, "s3://"},
		{[]string{"lake", "ddl", "--engine", "spark", "--location", "gs://b/lake"}, "s3://"},
		{[]string{"-c", duck, "lake", "ddl", "--engine", "duckdb"}, "warehouse.kind is duckdb"},
		{[]string{"lake", "ddl", "--engine", "duckdb", "extra"}, "no arguments"},
	} {
		_, err := syncd(t, dir, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != exitUsage {
			t.Errorf("syncd %s: %v (exit %d), want a usage error saying %q", strings.Join(c.args, " "), err, exitCode(err), c.want)
		}
	}
	// Without --location, a missing config is the config's error, not
	// the defaults.
	if _, err := syncd(t, t.TempDir(), "lake", "ddl", "--engine", "duckdb"); err == nil || !strings.Contains(err.Error(), "syncd.yaml does not exist") {
		t.Errorf("no config, no --location: %v", err)
	}
}

// --help is the manual: every engine, where the location comes from, and
// examples.
func TestLakeDDLHelp(t *testing.T) {
	out, err := syncd(t, t.TempDir(), "lake", "ddl", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(lakeddl.Engines(), "Examples:", "warehouse.path", "--location", "--engine", "partition") {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	out, err = syncd(t, t.TempDir(), "--help")
	if err != nil || !strings.Contains(out, "Work with a Parquet lake warehouse") {
		t.Errorf("syncd --help does not list lake: %v\n%s", err, out)
	}
	out, err = syncd(t, t.TempDir(), "lake", "--help")
	if err != nil || !strings.Contains(out, "date=YYYY-MM-DD") || !strings.Contains(out, "ddl ") {
		t.Errorf("syncd lake --help: %v\n%s", err, out)
	}
}

// Athena reads only the networks its projection lists: the config's.
func TestLakeDDLProjectsTheConfigsNetworks(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, `
networks:
  - name: alpha
    api: {base_url: "http://127.0.0.1:1", key: "k1"}
  - name: beta-2
    api: {base_url: "http://127.0.0.1:2", key: "k2"}
warehouse:
  kind: parquet
  path: s3://bucket/lake
`)
	out, err := syncd(t, dir, "lake", "ddl", "--engine", "athena")
	if err != nil {
		t.Fatal(err)
	}
	if want := "'projection.network.values' = 'alpha,beta-2'"; !strings.Contains(out, want) {
		t.Errorf("want %s in\n%s", want, out)
	}
}
