package affisesim

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

var (
	benchOnce sync.Once
	benchSim  *Sim
)

func bigSim(b *testing.B) *Sim {
	benchOnce.Do(func() {
		start := time.Now()
		s, err := New(Config{Key: testKey, Seed: 1, Conversions: 1_000_000, Days: 30, Now: testAnchor,
			Clock: func() time.Time { return testAnchor }})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("generated 1M conversions in %v", time.Since(start))
		benchSim = s
	})
	return benchSim
}

// BenchmarkServeConversionsPages serves 1M conversions in pages of 500
// through the real HTTP stack (loopback server + client), one page per op.
func BenchmarkServeConversionsPages(b *testing.B) {
	for _, q := range []struct{ name, query string }{
		{"all", ""},
		{"status_filter", "&status[]=1&status[]=2"},
		{"update_window", "&update_from_date=2025-01-01&update_to_date=2025-03-16"},
	} {
		b.Run(q.name, func(b *testing.B) {
			s := bigSim(b)
			srv := httptest.NewServer(s)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			pages := 1_000_000 / 500
			var bytes int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				u := fmt.Sprintf("%s/3.0/stats/conversions?date_from=2025-01-01&date_to=2025-03-16&limit=500&page=%d%s", srv.URL, i%pages+1, q.query)
				req, _ := http.NewRequest("GET", u, nil)
				req.Header.Set("API-Key", testKey)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
				bytes += n
			}
			el := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/el, "pages/s")
			b.ReportMetric(float64(b.N)*500/el, "rows/s")
			b.ReportMetric(float64(bytes)/el/1e6, "MB/s")
		})
	}
}
