package s3test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStartServesABucketAndStops(t *testing.T) {
	var endpoint string
	t.Run("server", func(t *testing.T) {
		t0 := time.Now()
		s := Start(t)
		t.Logf("versitygw answered in %v", time.Since(t0))
		endpoint = s.Endpoint
		ok, err := s.Client(t).BucketExists(context.Background(), s.Bucket)
		if err != nil || !ok {
			t.Fatalf("bucket %s: exists=%v, %v", s.Bucket, ok, err)
		}
		env := s.Env()
		if !slices.Contains(env, "AWS_ACCESS_KEY_ID="+s.AccessKey) || !slices.Contains(env, "AWS_SECRET_ACCESS_KEY="+s.SecretKey) {
			t.Errorf("Env = %q", env)
		}
		if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") || s.Region != "us-east-1" {
			t.Errorf("Server = %+v", s)
		}
	})
	// The test's end stops the server.
	addr := strings.TrimPrefix(endpoint, "http://")
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("%s still answers after its test ended", endpoint)
	}
}

// tb records what Start does without versitygw, where a real T would
// stop the test.
type tb struct {
	testing.TB
	skipped, failed string
}

func (r *tb) Helper()           {}
func (r *tb) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); panic(r) }
func (r *tb) Fatal(args ...any) { r.failed = fmt.Sprint(args...); panic(r) }

func startWithout(t *testing.T) (r *tb) {
	r = &tb{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
	}()
	Start(r)
	return r
}

func TestStartWithoutVersitygw(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CI", "")
	if r := startWithout(t); !strings.Contains(r.skipped, Install) || r.failed != "" {
		t.Errorf("without CI: skipped %q, failed %q; want a skip naming %q", r.skipped, r.failed, Install)
	}
	t.Setenv("CI", "true")
	if r := startWithout(t); !strings.Contains(r.failed, Install) || r.skipped != "" {
		t.Errorf("under CI: skipped %q, failed %q; want a failure naming %q", r.skipped, r.failed, Install)
	}
}
