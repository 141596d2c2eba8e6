package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// simKey is the API key the simulators of a bench run accept.
const simKey = "bench-key-0123456789"

// sim is a running bin/affise-sim.
type sim struct {
	URL string
	cmd *exec.Cmd
}

// requests is the simulator's /_sim/requests.
type requests struct {
	Total      int            `json:"total"`
	ByEndpoint map[string]int `json:"by_endpoint"`
	ByCode     map[string]int `json:"by_code"`
}

// startSim starts bin on a free loopback port with the flags given, its
// history ending at anchor, and waits until it answers.
func startSim(ctx context.Context, bin string, anchor time.Time, flags ...string) (*sim, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	args := append([]string{"--key", simKey, "--addr", addr, "--anchor", anchor.Format(time.RFC3339)}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	s := &sim{URL: "http://" + addr, cmd: cmd}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if err := s.control(ctx, http.MethodGet, "/_sim/info", nil); err == nil {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Close()
			return nil, fmt.Errorf("simulator %v did not answer", args)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *sim) Close() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func (s *sim) control(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("simulator %s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (s *sim) Requests(ctx context.Context) (requests, error) {
	var r requests
	err := s.control(ctx, http.MethodGet, "/_sim/requests", &r)
	return r, err
}

func (s *sim) ResetRequests(ctx context.Context) error {
	return s.control(ctx, http.MethodPost, "/_sim/requests/reset", nil)
}

// page fetches one page of an API list as the raw bytes served.
func (s *sim) page(ctx context.Context, endpoint string, q map[string]string, page, limit int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+endpoint, nil)
	if err != nil {
		return nil, err
	}
	v := req.URL.Query()
	for k, x := range q {
		v.Set(k, x)
	}
	v.Set("page", strconv.Itoa(page))
	v.Set("limit", strconv.Itoa(limit))
	req.URL.RawQuery = v.Encode()
	req.Header.Set("API-Key", simKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s page %d: %s", endpoint, page, resp.Status)
	}
	return io.ReadAll(resp.Body)
}
