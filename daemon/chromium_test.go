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
	"testing"
	"time"

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
	st := d.byName["conversions"]
	st.begin(now.Add(-3 * time.Minute))
	st.finish(now.Add(-2*time.Minute), pipeline.Result{Rows: 1834, Requests: 12, Duration: 38 * time.Second}, now.Add(-2*time.Minute), "", false)
	cl := d.byName["clicks"]
	cl.begin(now.Add(-time.Minute))
	cl.finish(now, pipeline.Result{Requests: 7}, now.Add(-(5*24+6)*time.Hour), "clicks window 2025-06-01T00:00Z..2025-06-01T01:00Z: GET /3.0/stats/clicks page 1: HTTP 500: Internal Server Error (after 7 attempts)", false)
	sd := d.byName["stats_daily"]
	sd.begin(now.Add(-10 * time.Second))
	sd.mu.Lock()
	sd.progressAt, sd.progressDone, sd.progressTotal, sd.progressRows = now, 3, 8, 420
	sd.mu.Unlock()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d.Handler()}
	go srv.Serve(ln)
	defer srv.Close()

	dir := t.TempDir()
	shot := filepath.Join(dir, "status.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"),
		"--screenshot="+shot, "--window-size="+envOr("SYNCD_SCREENSHOT_SIZE", "1200,900"),
		"http://"+ln.Addr().String()+"/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	if keep := os.Getenv("SYNCD_SCREENSHOT_DIR"); keep != "" {
		_ = os.WriteFile(filepath.Join(keep, "status.png"), data, 0o644)
	}
	if len(data) < 20<<10 {
		t.Errorf("screenshot is only %d bytes", len(data))
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
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
	_ = image.Point{}
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
