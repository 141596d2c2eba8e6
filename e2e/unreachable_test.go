package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestUnreachableAPIFailsInSeconds: a refused connection and https://
// against the plain-HTTP simulator fail `syncd sync`, `syncd check` and the
// daemon's passes within seconds, saying what is wrong in plain words. They
// used to be retried with the backoff meant for an overloaded API: minutes.
func TestUnreachableAPIFailsInSeconds(t *testing.T) {
	s := startSim(t, "--seed", "1", "--conversions", "10", "--days", "2")
	refused := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	simAddr := strings.TrimPrefix(s.URL, "http://")
	cases := []struct {
		name, baseURL, want string
	}{
		{"connection refused", "http://" + refused, "nothing is listening at " + refused + " (connection refused)"},
		{"https to a plain HTTP server", "https://" + simAddr, "TLS handshake failed: the server at " + simAddr + " does not speak HTTPS; use http:// or check api.base_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y, listen := daemonYAML(t)
			e := newEnv(t, s, y)
			e.editConfig(t, "base_url: "+s.URL, "base_url: "+c.baseURL)

			for _, cmd := range []string{"sync", "check"} {
				start := time.Now()
				r := e.syncd(t, cmd)
				took := time.Since(start)
				if r.code != 1 {
					t.Errorf("syncd %s: exit %d, want 1\nstderr: %s", cmd, r.code, tail(r.stderr, 2000))
				}
				if took > 20*time.Second {
					t.Errorf("syncd %s took %s to fail; want seconds", cmd, took.Round(time.Second))
				}
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				last := lines[len(lines)-1]
				if cmd == "check" {
					last = r.stdout
				}
				if cmd == "check" && strings.Count(r.stdout, c.want) != 1 {
					t.Errorf("syncd check says %q %d times, want once (streams failing alike share a line):\n%s", c.want, strings.Count(r.stdout, c.want), r.stdout)
				}
				if !strings.Contains(last, c.want) {
					t.Errorf("syncd %s: output does not say %q:\nstdout: %s\nstderr: %s", cmd, c.want, r.stdout, tail(r.stderr, 2000))
				}
				t.Logf("syncd %s failed after %s: %s", cmd, took.Round(100*time.Millisecond), last)
			}

			d := e.startDaemon(t, listen)
			d.waitFor(t, 30*time.Second, "every stream's pass to fail saying why", func() (bool, string) {
				st, err := d.status()
				if err != nil {
					return false, err.Error()
				}
				var pending []string
				for _, x := range st.Streams {
					if x.Failures == 0 || !strings.Contains(x.LastError, c.want) {
						pending = append(pending, fmt.Sprintf("%s (failures %d: %s)", x.Stream, x.Failures, x.LastError))
					}
				}
				return len(st.Streams) > 0 && len(pending) == 0, strings.Join(pending, "; ")
			})
			d.stop(t, 10*time.Second)
		})
	}
}
