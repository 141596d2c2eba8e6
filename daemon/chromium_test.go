package daemon

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
)

// chromiumPath finds a headless-capable Chromium (Debian's `chromium`).
func chromiumPath() string {
	if p := os.Getenv("SYNCD_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// TestStatusPageScreenshot renders the status page of a daemon with a
// populated warehouse, a failing stream and the clicks retention alarm in
// headless Chromium and checks the screenshot is a real picture. Set
// SYNCD_SCREENSHOT_DIR to keep the PNG.
func TestStatusPageScreenshot(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	now := time.Now().UTC()
	wh, db := openWarehouse(t)
	seedConversions(t, db, now, 35)
	d, err := New(Config{Warehouse: wh, Version: "test", Jobs: []Job{
		idleJob("conversions", 15*time.Minute), idleJob("clicks", time.Hour),
		idleJob("stats_daily", time.Hour), idleJob("offers", 6*time.Hour),
	}})
	if err != nil {
		t.Fatal(err)
	}
	st := d.byKey[jobKey{models.DefaultNetwork, "conversions"}]
	st.begin(now.Add(-3 * time.Minute))
	st.finish(now.Add(-2*time.Minute), pipeline.Result{Rows: 1834, Read: 1850, Committed: load.Committed{Inserted: 1800, Updated: 34, Unchanged: 16},
		Requests: 12, Duration: 38 * time.Second, CursorBefore: now.Add(-17 * time.Minute)}, now.Add(-2*time.Minute), "", false)
	cl := d.byKey[jobKey{models.DefaultNetwork, "clicks"}]
	cl.begin(now.Add(-time.Minute))
	cl.finish(now, pipeline.Result{Requests: 7, Retries: 6}, now.Add(-(5*24+6)*time.Hour), "clicks window 2025-06-01T00:00Z..2025-06-01T01:00Z: GET /3.0/stats/clicks page 1: HTTP 500: Internal Server Error (after 7 attempts)", false)
	sd := d.byKey[jobKey{models.DefaultNetwork, "stats_daily"}]
	sd.begin(now.Add(-10 * time.Second))
	sd.mu.Lock()
	sd.progressAt, sd.progressDone, sd.progressTotal, sd.progressRows = now, 3, 8, 420
	sd.mu.Unlock()

	img, _ := screenshot(t, chromium, d, "status.png")
	b := img.Bounds()
	if b.Dx() < 1000 || b.Dy() < 800 {
		t.Errorf("screenshot is %dx%d", b.Dx(), b.Dy())
	}
	// Not one colour, and the alarm's red and the chart's blue bars are there.
	colours := map[[3]uint32]int{}
	var red, blue int
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			colours[[3]uint32{r, g, bl}]++
			if near(r, 0xdc, g, 0x26, bl, 0x26) {
				red++
			}
			if near(r, 0x25, g, 0x63, bl, 0xeb) {
				blue++
			}
		}
	}
	if len(colours) < 20 {
		t.Errorf("screenshot has only %d colours", len(colours))
	}
	if red < 50 {
		t.Errorf("no red alarm line in the screenshot (%d red pixels)", red)
	}
	if blue < 200 {
		t.Errorf("no revenue bars in the screenshot (%d blue pixels)", blue)
	}
	// Unhealthy (clicks failed every pass since start): a red header.
	if r, g, bl := pixel(img, 4, 4); !near(r, 0xb9, g, 0x1c, bl, 0x1c) {
		t.Errorf("header of an unhealthy daemon is #%02x%02x%02x, want red #b91c1c", r, g, bl)
	}
}

// TestStatusPageAmberWhenFailing: a stream whose last pass failed turns
// the header amber while the daemon is still healthy (it succeeded since
// start and is not stale), and each stream's last pass shows what it read
// and stored and its cursor's move.
func TestStatusPageAmberWhenFailing(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	now := time.Now().UTC()
	d, err := New(Config{Version: "test", Jobs: []Job{idleJob("conversions", 15*time.Minute), idleJob("offers", 6*time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	cur := now.Add(-5 * time.Minute).Truncate(time.Minute)
	st := d.byKey[jobKey{models.DefaultNetwork, "conversions"}]
	st.begin(now.Add(-20 * time.Minute))
	st.finish(now.Add(-19*time.Minute), pipeline.Result{Rows: 12, Read: 1850, Committed: load.Committed{Inserted: 2, Updated: 10, Unchanged: 1838},
		Requests: 14, Retries: 2, Duration: 72 * time.Second, CursorBefore: cur.Add(-time.Hour)}, cur, "", false)
	st.begin(now.Add(-2 * time.Minute))
	st.finish(now.Add(-time.Minute), pipeline.Result{Requests: 8, Retries: 7, Duration: 30 * time.Second, CursorBefore: cur, Cursor: cur}, cur,
		"conversions window 2025-06-01T00:00Z..2025-06-01T01:00Z: HTTP 503 (after 8 attempts)", false)
	of := d.byKey[jobKey{models.DefaultNetwork, "offers"}]
	of.begin(now.Add(-3 * time.Minute))
	of.finish(now.Add(-2*time.Minute), pipeline.Result{Read: 40, Committed: load.Committed{Unchanged: 40}, Requests: 1, Duration: 900 * time.Millisecond},
		time.Time{}, "", false)
	if s := d.Status(); s[0].State != StateFailing || s[0].Problem != "" {
		t.Fatalf("conversions is %s (problem %q); the case needs failing and healthy", s[0].State, s[0].Problem)
	}

	img, dom := screenshot(t, chromium, d, "status-amber.png")
	if r, g, bl := pixel(img, 4, 4); !near(r, 0xd9, g, 0x77, bl, 0x06) {
		t.Errorf("header with a failing stream is #%02x%02x%02x, want amber #d97706", r, g, bl)
	}
	for _, want := range []string{
		`data-level="warn"`, "healthy, but conversions failing",
		// The failed pass's own summary, and the cursor it left alone.
		"0 read · 0 new · 0 updated · 0 unchanged · 8 requests (7 retried)", "took 30s",
		"cursor " + cur.Format("01-02 15:04") + " → " + cur.Format("01-02 15:04"),
		"40 read · 0 new · 0 updated · 40 unchanged · 1 request",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}

	// Once it succeeds again, the header is back to its dark colour.
	st.begin(now)
	st.finish(now, pipeline.Result{Read: 1850, Committed: load.Committed{Unchanged: 1850}, Requests: 4, Duration: 4 * time.Second, CursorBefore: cur}, cur, "", false)
	img, dom = screenshot(t, chromium, d, "status-ok.png")
	if r, g, bl := pixel(img, 4, 4); !near(r, 0x11, g, 0x18, bl, 0x27) {
		t.Errorf("header of a healthy daemon is #%02x%02x%02x, want #111827", r, g, bl)
	}
	if !strings.Contains(dom, "1,850 read · 0 new · 0 updated · 1,850 unchanged · 4 requests") || !strings.Contains(dom, `data-level="ok"`) {
		t.Errorf("the rendered page lacks the new pass's summary or the ok level")
	}
}

// screenshot serves d's status page and renders it in headless Chromium:
// the picture, and the DOM as rendered. Set SYNCD_SCREENSHOT_DIR to keep
// the PNG as name.
func screenshot(t *testing.T, chromium string, d *Daemon, name string) (image.Image, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"

	dir := t.TempDir()
	shot := filepath.Join(dir, "status.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	chrome := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, chromium, append([]string{
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--disable-dev-shm-usage", "--hide-scrollbars",
			"--user-data-dir=" + filepath.Join(dir, "profile"),
			"--window-size=" + envOr("SYNCD_SCREENSHOT_SIZE", "1200,1100")}, append(args, url)...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
		return stdout.Bytes()
	}
	chrome("--screenshot=" + shot)
	dom := string(chrome("--dump-dom"))
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if keep := os.Getenv("SYNCD_SCREENSHOT_DIR"); keep != "" {
		_ = os.WriteFile(filepath.Join(keep, name), data, 0o644)
	}
	if len(data) < 20<<10 {
		t.Errorf("screenshot is only %d bytes", len(data))
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	return img, dom
}

func pixel(img image.Image, x, y int) (r, g, b uint32) {
	r, g, b, _ = img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y).RGBA()
	return r >> 8, g >> 8, b >> 8
}

func near(r, wr, g, wg, b, wb uint32) bool {
	d := func(a, w uint32) bool { return a+12 >= w && a <= w+12 }
	return d(r, wr) && d(g, wg) && d(b, wb)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestStatusPageTwoNetworks renders a two-network daemon whose beta
// network fails every pass: the page has a section of streams per
// network, a revenue chart per network and currency, and a red header
// naming beta.
func TestStatusPageTwoNetworks(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	money := func(cur string, base float64) []load.DayMoney {
		var out []load.DayMoney
		for i := range 20 {
			out = append(out, load.DayMoney{Day: today.AddDate(0, 0, -i), Currency: cur, Revenue: base + float64(10*i), Payouts: base / 2, Conversions: 3})
		}
		return out
	}
	readers := map[string]load.Reader{
		"alpha": &moneyWarehouse{fakeWarehouse: newFakeWarehouse(), days: money("EUR", 300)},
		"beta":  &moneyWarehouse{fakeWarehouse: newFakeWarehouse(), days: money("USD", 900)},
	}
	d, err := New(Config{Version: "test", NetworkReader: func(n string) load.Reader { return readers[n] }, Jobs: []Job{
		networkJob("alpha", "conversions", 15*time.Minute, nil), networkJob("alpha", "offers", 6*time.Hour, nil),
		networkJob("beta", "conversions", 15*time.Minute, nil), networkJob("beta", "offers", 6*time.Hour, nil),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"conversions", "offers"} {
		a := d.byKey[jobKey{"alpha", s}]
		a.begin(now.Add(-time.Minute))
		a.finish(now, pipeline.Result{Read: 40, Committed: load.Committed{Inserted: 40}, Rows: 40, Requests: 2, Duration: time.Second}, now.Add(-5*time.Minute), "", false)
		b := d.byKey[jobKey{"beta", s}]
		b.begin(now.Add(-time.Minute))
		b.finish(now, pipeline.Result{Requests: 1}, time.Time{}, s+" window: GET /3.0/stats/"+s+": HTTP 401: the API key is not valid", false)
	}

	img, dom := screenshot(t, chromium, d, "status-networks.png")
	for _, want := range []string{
		"Network alpha: streams", "Network beta: streams", "alpha · EUR", "beta · USD",
		"network beta: every pass since start failed: conversions, offers", "HTTP 401: the API key is not valid",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if i, j := strings.Index(dom, "alpha · EUR"), strings.Index(dom, "beta · USD"); i < 0 || j < i {
		t.Error("the charts are not in the networks' order")
	}
	if r, g, bl := pixel(img, 4, 4); !near(r, 0xb9, g, 0x1c, bl, 0x1c) {
		t.Errorf("header with a failing network is #%02x%02x%02x, want red #b91c1c", r, g, bl)
	}
}
