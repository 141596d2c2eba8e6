package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPostgresSettings: the postgres section is off by default, takes its
// password from the environment, and SYNCD_POSTGRES_* overrides it like
// any other section.
func TestPostgresSettings(t *testing.T) {
	base := "api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\n"
	c, err := Parse([]byte(base), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Postgres.Enabled() || c.Postgres.User != "syncd" {
		t.Errorf("default postgres = %+v", c.Postgres)
	}
	c, err = Parse([]byte(base+"postgres:\n  listen: 127.0.0.1:5433\n  password: ${SYNCD_PG_PASSWORD}\n"), env(map[string]string{"SYNCD_PG_PASSWORD": "s3cret-pass"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Postgres.Enabled() || c.Postgres.Password != "s3cret-pass" || c.Postgres.User != "syncd" || c.Postgres.TLS() {
		t.Errorf("postgres = %+v", c.Postgres)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err = Parse([]byte(base), env(map[string]string{
		"SYNCD_POSTGRES_LISTEN":   "0.0.0.0:5433",
		"SYNCD_POSTGRES_USER":     "grafana",
		"SYNCD_POSTGRES_PASSWORD": "from-env-1",
		"SYNCD_POSTGRES_TLS_CERT": cert,
		"SYNCD_POSTGRES_TLS_KEY":  key,
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Postgres{Listen: "0.0.0.0:5433", User: "grafana", Password: "from-env-1", TLSCert: cert, TLSKey: key}
	if c.Postgres != want || !c.Postgres.TLS() {
		t.Errorf("postgres = %+v, want %+v", c.Postgres, want)
	}
	// SYNCD_POSTGRES_PASSWORD replaces a ${VAR} that is not set.
	if _, err := Parse([]byte(base+"postgres:\n  listen: 127.0.0.1:5433\n  password: ${SYNCD_PG_PASSWORD}\n"), env(map[string]string{"SYNCD_POSTGRES_PASSWORD": "override-1"})); err != nil {
		t.Errorf("override of an unset variable: %v", err)
	}
	if _, err := Parse([]byte(base), env(map[string]string{"SYNCD_POSTGRES_PORT": "5433"})); err == nil || !strings.Contains(err.Error(), "postgres.port") {
		t.Errorf("SYNCD_POSTGRES_PORT: %v", err)
	}
	// syncd query and syncd state do not serve Postgres: the daemon's
	// password need not be in their environment.
	if _, err := parse([]byte(base+"postgres:\n  listen: 127.0.0.1:5433\n  password: ${SYNCD_PG_PASSWORD}\n"), env(nil), true); err != nil {
		t.Errorf("a local load without the password: %v", err)
	}
}

// TestPostgresErrors: each mistake is one line naming the key, and none
// shows the password.
func TestPostgresErrors(t *testing.T) {
	base := "api:\n  base_url: http://127.0.0.1:1\n  key: abcd1234\npostgres:\n"
	const secret = "hunter2-\u00e9t\u00e9"
	cases := []struct{ yaml, want string }{
		{base + "  listen: 127.0.0.1:5433\n", "postgres.password is missing"},
		{base + "  listen: 5433\n  password: pw123456\n", "postgres.listen"},
		{base + "  listen: 127.0.0.1:5433\n  password: \"" + secret + "\"\n", "postgres.password: use printable ASCII"},
		{base + "  listen: 127.0.0.1:5433\n  password: \" " + "pw123456\"\n", "postgres.password: use printable ASCII"},
		{base + "  listen: 127.0.0.1:5433\n  password: pw123456\n  user: \"\"\n", "postgres.user"},
		{base + "  listen: 127.0.0.1:5433\n  password: pw123456\n  tls_cert: /x.pem\n", "postgres.tls_cert and postgres.tls_key go together"},
		{base + "  listen: 127.0.0.1:5433\n  password: pw123456\n  tls_cert: /nonexistent/c.pem\n  tls_key: /nonexistent/k.pem\n", "postgres.tls_cert: open /nonexistent/c.pem"},
		{base + "  listen: 127.0.0.1:5433\n  password: ${SYNCD_PG_PASSWORD}\n", "${SYNCD_PG_PASSWORD}"},
		{base + "  port: 5433\n", "unknown key postgres.port"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), env(nil))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q: got %v, want a config error", c.yaml, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "hunter2") || strings.Contains(msg, "pw123456") {
			t.Errorf("%q:\n got  %v\n want one line containing %q and no password", c.yaml, err, c.want)
		}
	}
}
