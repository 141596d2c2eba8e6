package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBadConfigAndFlagsExitTwoWithOneLine(t *testing.T) {
	s := startSim(t, "--seed", "1", "--conversions", "10", "--days", "2")
	e := newEnv(t, s, "")
	cases := []struct {
		name   string
		config string // replaces the config file when set
		args   []string
		want   string
		env    []string // added to the environment
		secret string   // must not be printed
	}{
		{"unknown flag", "", []string{"sync", "--bogus"}, "unknown flag: --bogus", nil, ""},
		{"unknown stream", "", []string{"sync", "--stream", "leads"}, `"leads": no such stream`, nil, ""},
		{"backfill without from", "", []string{"backfill", "--stream", "conversions"}, "--from is required", nil, ""},
		{"backfill bad date", "", []string{"backfill", "--stream", "conversions", "--from", "2025-02-30"}, "--from", nil, ""},
		{"backfill from after to", "", []string{"backfill", "--stream", "conversions", "--from", "2025-03-01", "--to", "2025-02-01"}, "is after --to", nil, ""},
		{"query format", "", []string{"query", "SELECT 1", "--format", "xml"}, "--format", nil, ""},
		{"unknown command argument", "", []string{"sync", "extra"}, "takes no arguments", nil, ""},
		{"unknown key", "api:\n  base_url: http://127.0.0.1:1\n  key: 0123456789abcdef\n  pagesize: 3\n", []string{"sync"}, "unknown key api.pagesize", nil, ""},
		{"bad duration", "api:\n  base_url: http://127.0.0.1:1\n  key: 0123456789abcdef\nstreams:\n  conversions: {lookback: soon}\n", []string{"sync"}, "streams.conversions.lookback", nil, ""},
		{"bad cron", "api:\n  base_url: http://127.0.0.1:1\n  key: 0123456789abcdef\nstreams:\n  offers: {schedule: \"@sometimes\"}\n", []string{"check"}, "streams.offers.schedule", nil, ""},
		{"missing key", "api:\n  base_url: http://127.0.0.1:1\n", []string{"sync"}, "api.key is missing", nil, ""},
		{"warehouse not writable", "api:\n  base_url: http://127.0.0.1:1\n  key: 0123456789abcdef\nwarehouse: {path: /dev/null/wh/affise.duckdb}\n", []string{"sync"}, "warehouse.path: cannot create directory /dev/null/wh", nil, ""},
		{"future start_date", "api:\n  base_url: http://127.0.0.1:1\n  key: 0123456789abcdef\nstreams:\n  conversions: {start_date: 2999-01-01}\n", []string{"sync"}, "streams.conversions.start_date: 2999-01-01 is in the future", nil, ""},
		{"bad slice", "api:\n  base_url: http://127.0.0.1:1\n  key: 0123456789abcdef\nstreams:\n  stats_daily: {slices: [day, planet]}\n", []string{"sync"}, "planet", nil, ""},
		{"key too short", "api:\n  base_url: http://127.0.0.1:1\n  key: zQ7\n", []string{"sync"}, "api.key is 3 characters long", nil, "zQ7"},
		{"key too short from the environment", "", []string{"check"}, "api.key (from SYNCD_API_KEY) is 1 character long", []string{"SYNCD_API_KEY=Z"}, ""},
		{"key with a line break", "", []string{"sync"}, "api.key (from SYNCD_API_KEY) contains a line break", []string{"SYNCD_API_KEY=secretAA\nsecretBB"}, "secretAA"},
		{"key with a control character", "api:\n  base_url: http://127.0.0.1:1\n  key: \"secretAA\\u0007secretBB\"\n", []string{"check"}, "api.key contains a control character", nil, "secretAA"},
		{"override of an unknown stream", "", []string{"sync"}, "SYNCD_STREAMS_FOO_ENABLED: no such stream \"foo\" (streams are conversions, clicks,", []string{"SYNCD_STREAMS_FOO_ENABLED=false"}, ""},
		{"override of an unknown key", "", []string{"query", "SELECT 1"}, "SYNCD_API_PAGESIZE overrides no config key (there is no api.pagesize)", []string{"SYNCD_API_PAGESIZE=100"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := e.config
			if c.config != "" {
				cfg = filepath.Join(t.TempDir(), "bad.yaml")
				os.WriteFile(cfg, []byte(c.config), 0o600)
			}
			// A regression may start syncing or serving instead of failing.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, "syncd"), append(c.args, "-c", cfg)...)
			cmd.Env = e.environ(c.env...)
			r := e.run(t, cmd)
			if r.code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", r.code, r.stderr)
			}
			if !oneLine(r.stderr) || !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q: want one line containing %q", r.stderr, c.want)
			}
			if c.secret != "" && strings.Contains(r.stdout+r.stderr, c.secret) {
				t.Errorf("the key was printed: %q", r.stderr)
			}
		})
	}
	if _, err := os.Stat(e.db); !os.IsNotExist(err) {
		t.Errorf("a failed start created the warehouse: %v", err)
	}
}

func TestWrongKeyFailsNamingStreamAndLeavesWarehouseUntouched(t *testing.T) {
	s := startSim(t, "--seed", "3", "--conversions", "200", "--days", "3")
	e := newEnv(t, s, "")
	e.mustSync(t)
	good := s.Key
	s.Key = "wrong-key-0123456789"
	r := e.syncd(t, "sync", "--stream", "conversions")
	s.Key = good
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", r.code, r.stderr)
	}
	last := strings.TrimSpace(r.stderr[strings.LastIndex(strings.TrimSpace(r.stderr), "\n")+1:])
	if !strings.Contains(last, "conversions") || !strings.Contains(last, "401") {
		t.Errorf("last line %q should name the stream and the 401", last)
	}
	db := e.openDB(t)
	runs := queryStrings(t, db, "SELECT count(*)::VARCHAR FROM _syncd_runs WHERE error <> ''")
	if runs[0][0] != "1" {
		t.Errorf("failed pass recorded %s times in _syncd_runs", runs[0][0])
	}
	rows := queryStrings(t, db, "SELECT count(*)::VARCHAR FROM conversions")
	if rows[0][0] != "200" {
		t.Errorf("conversions has %s rows after a failed pass, want 200", rows[0][0])
	}
}

func TestAPIKeyNeverAppears(t *testing.T) {
	s := startSim(t, "--seed", "5", "--conversions", "300", "--days", "3", "--fault-rate", "0.1", "--fault-kinds", "500,502,status2,truncated")
	e := newEnv(t, s, "")
	var outputs []string
	for _, args := range [][]string{
		{"--log-level", "debug", "sync"},
		{"--log-level", "debug", "check"},
		{"state"},
		{"query", "SELECT * FROM _syncd_runs"},
		{"query", "SELECT raw FROM partners", "--format", "json"},
		{"--log-level", "debug", "backfill", "--stream", "conversions", "--from", time.Now().AddDate(0, 0, -3).Format(time.DateOnly)},
	} {
		r := e.syncd(t, args...)
		outputs = append(outputs, r.stdout, r.stderr)
	}
	// A wrong key makes the client echo requests in errors: check those too.
	good := s.Key
	s.Key = good + "-wrong"
	r := e.syncd(t, "--log-level", "debug", "sync", "--stream", "offers")
	s.Key = good
	outputs = append(outputs, r.stdout, r.stderr)
	for i, out := range outputs {
		if strings.Contains(out, good) {
			t.Errorf("output %d contains the API key:\n%s", i, tail(out, 2000))
		}
	}
	if strings.Contains(r.stderr, good+"-wrong") {
		t.Errorf("the wrong key was printed: %s", r.stderr)
	}
	// What syncd creates is its owner's alone.
	filepath.Walk(filepath.Dir(e.db), func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: readable beyond its owner", path, info.Mode().Perm())
		}
		return nil
	})
	file, err := os.ReadFile(e.db)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte(good)) {
		t.Error("the warehouse file contains the API key")
	}
	db := e.openDB(t)
	if n := queryStrings(t, db, "SELECT count(*)::VARCHAR FROM partners WHERE raw LIKE '%api_key%'"); n[0][0] != "0" {
		t.Errorf("%s partners rows carry an api_key in raw", n[0][0])
	}
}

// TestKeyOverrideNeedsNoUnsetVariable: SYNCD_API_KEY wins over
// api.key: ${AFFISE_API_KEY} even when AFFISE_API_KEY is not set at all.
func TestKeyOverrideNeedsNoUnsetVariable(t *testing.T) {
	s := startSim(t, "--seed", "1", "--conversions", "10", "--days", "2")
	e := newEnv(t, s, "")
	e.editConfig(t, "key: ${E2E_KEY}", "key: ${AFFISE_API_KEY}")
	cmd := exec.Command(filepath.Join(bin, "syncd"), "sync", "--stream", "offers", "-c", e.config)
	cmd.Env = envWith([]string{"AFFISE_API_KEY", "E2E_KEY", "SYNCD_API_KEY=" + s.Key})
	if r := e.run(t, cmd); r.code != 0 {
		t.Fatalf("exit %d, want 0; stderr: %s", r.code, tail(r.stderr, 2000))
	}
	if n := queryStrings(t, e.openDB(t), "SELECT count(*)::VARCHAR FROM offers"); n[0][0] == "0" {
		t.Error("no offers synced")
	}
}
