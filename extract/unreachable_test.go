package extract

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unreachableClient is a client with the production backoff (1s base), so
// the test shows how long a user waits.
func unreachableClient(t *testing.T, baseURL string, hc *http.Client) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{BaseURL: baseURL, Key: testKey, RequestsPerSecond: 100, Timeout: 5 * time.Second, HTTPClient: hc, MaxRetries: 8})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestUnreachableServerFailsFast: a refused connection, a plain-HTTP server
// behind https://, an untrusted certificate and an unknown host are retried
// once or twice, quickly, then fail in plain words instead of after minutes
// of backoff.
func TestUnreachableServerFailsFast(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	plainAddr := plain.Listener.Addr().String()
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshakes are the point
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	tlsAddr := tlsSrv.Listener.Addr().String()
	refusedAddr := closedPort(t)
	// Name resolution stays on this machine: the dialer fails as the
	// resolver does for a name that does not exist.
	noDNS := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
	}}}

	cases := []struct {
		name, url string
		hc        *http.Client
		want      string
		is        error
	}{
		{"connection refused", "http://" + refusedAddr, nil,
			"nothing is listening at " + refusedAddr + " (connection refused)", syscall.ECONNREFUSED},
		{"https to a plain HTTP server", "https://" + plainAddr, nil,
			"TLS handshake failed: the server at " + plainAddr + " does not speak HTTPS; use http:// or check api.base_url", http.ErrSchemeMismatch},
		{"untrusted certificate", "https://" + tlsAddr, nil,
			"TLS handshake failed: the certificate of " + tlsAddr + " is not trusted", nil},
		{"unknown host", "https://api-nowhere.invalid", noDNS,
			"cannot resolve host api-nowhere.invalid (DNS: no such host); check api.base_url", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := unreachableClient(t, tc.url, tc.hc)
			s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
			start := time.Now()
			_, err := s.Probe(context.Background())
			took := time.Since(start)
			if err == nil {
				t.Fatal("no error")
			}
			if took > 10*time.Second {
				t.Errorf("failed after %s; want seconds", took)
			}
			var re *RequestError
			if !errors.As(err, &re) || re.Temporary || re.Attempts < 2 || re.Attempts > 3 {
				t.Errorf("want a permanent RequestError after 2-3 attempts, got %#v", re)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "timezone=") {
				t.Errorf("error %q\n want one line containing %q, without the request URL", msg, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error does not wrap %v", tc.is)
			}
			t.Logf("%s after %s", msg, took.Round(time.Millisecond))
		})
	}
}

// TestRefusedThenUpRecovers: a server that comes up during the quick
// retries is used; the quick retries are not a verdict on the first try.
func TestRefusedThenUpRecovers(t *testing.T) {
	f := newFakeAPI(t, 3, "conversions")
	addr := closedPort(t)
	c := unreachableClient(t, "http://"+addr, nil)
	up := make(chan *httptest.Server, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			up <- nil
			return
		}
		srv := httptest.NewUnstartedServer(f)
		srv.Listener.Close()
		srv.Listener = l
		srv.Start()
		up <- srv
	}()
	s := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
	_, err := s.Probe(context.Background())
	if srv := <-up; srv != nil {
		defer srv.Close()
	} else {
		t.Skip("could not listen on the refused address again")
	}
	if err != nil {
		t.Fatalf("the server came up within the quick retries, yet: %v", err)
	}
}

// TestUnreachableVerdictIsShared: after one request gave up on a refused
// connection, the next ones (other streams of the run) try once, not three
// times, until the verdict expires.
func TestUnreachableVerdictIsShared(t *testing.T) {
	addr := closedPort(t)
	c := unreachableClient(t, "http://"+addr, nil)
	for i, want := range []int{3, 1, 1} {
		_, err := mustStream(NewExtractor("offers", c, testModel{}, Options{})).Probe(context.Background())
		var re *RequestError
		if !errors.As(err, &re) || re.Attempts != want {
			t.Fatalf("request %d: want %d attempts, got %v", i+1, want, err)
		}
	}
	c.unreachableAt.Store(time.Now().Add(-unreachableVerdict).UnixNano())
	_, err := mustStream(NewExtractor("offers", c, testModel{}, Options{})).Probe(context.Background())
	var re *RequestError
	if !errors.As(err, &re) || re.Attempts != 3 {
		t.Fatalf("after the verdict expired: want 3 attempts, got %v", err)
	}
}

// closedPort is a loopback address nothing listens on: connecting to it is
// refused at once.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
