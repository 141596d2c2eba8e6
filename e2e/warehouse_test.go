package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/s3test"
)

// TestLakeErrorsAreOneLine: what a new lake user gets wrong is named on one
// line, with what to do, and creates nothing: reading a lake never synced,
// a second writer while the daemon writes (readers go on), an S3 bucket
// that does not exist and wrong S3 credentials (never echoed).
func TestLakeErrorsAreOneLine(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e := newLakeEnv(t, s)
	for _, args := range [][]string{{"state"}, {"query", "SELECT 1"}} {
		r := e.syncd(t, args...)
		if r.code == 0 || !oneLine(r.stderr) || !strings.Contains(r.stderr, "does not exist yet: run `syncd sync` first") {
			t.Errorf("%s on a lake never synced: exit %d, %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}

	y, listen := daemonYAML(t)
	e.editConfig(t, "warehouse:\n", strings.Replace(y, "streams:\n", "streams:\n", 1)+"warehouse:\n")
	d := e.startDaemon(t, listen)
	d.waitAllSucceeded(t, 3*time.Minute)
	r := e.syncd(t, "sync")
	if r.code == 0 || !oneLine(r.stderr) || !strings.Contains(r.stderr, "is being written by `syncd run`") {
		t.Errorf("a second writer: exit %d, %q", r.code, r.stderr)
	}
	if r := e.syncd(t, "state"); r.code != 0 || !strings.Contains(r.stdout, "conversions") {
		t.Errorf("syncd state while the daemon writes: exit %d %s", r.code, r.stderr)
	}
	d.stop(t, 10*time.Second)

	srv := s3test.Start(t)
	for _, c := range []struct {
		name, path, secret, want string
	}{
		{"missing bucket", "s3://no-such-bucket/x", srv.SecretKey, `bucket "no-such-bucket" does not exist`},
		{"wrong secret", "s3://" + srv.Bucket + "/x", "wrong-secret-0123456789", "AWS"},
	} {
		e := newLakeEnv(t, s)
		e.extraEnv = []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + c.secret,
			"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(e.dir, "none"), "XDG_CACHE_HOME=" + filepath.Join(e.dir, "cache")}
		writeLakeConfig(t, e, fmt.Sprintf("  kind: parquet\n  path: %s\n  s3: {endpoint: %q, path_style: true}\n", c.path, srv.Endpoint))
		r := e.syncd(t, "sync")
		if r.code == 0 || !oneLine(r.stderr) || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "warehouse.path") {
			t.Errorf("%s: exit %d, %q; want one line naming warehouse.path and %q", c.name, r.code, r.stderr, c.want)
		}
		if strings.Contains(r.stdout+r.stderr, c.secret) {
			t.Errorf("%s: the secret appears in syncd's output", c.name)
		}
	}
}
