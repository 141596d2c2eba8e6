package daemon

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// statusPage is what the template renders.
type statusPage struct {
	Now     time.Time
	Started time.Time
	Uptime  string
	Version string
	Healthy bool
	Summary string // healthSummary: /healthz's first line when unhealthy
	// Level colours the header: "ok", "warn" (healthy, but a stream's
	// last pass failed: amber before it turns stale) or "bad" (unhealthy).
	Level   string
	Warning string // what "warn" is about
	// Groups are the streams per network, in the order the networks come;
	// one group without a name while the daemon runs the default network
	// alone.
	Groups []streamGroup
	Alarms []string
	// Money is the revenue chart per network: amounts of different
	// networks or currencies are never added or drawn on one scale.
	Money      []moneyBlock
	Verify     []verifyView
	RefreshSec int
}

// streamGroup is one network's streams on the status page.
type streamGroup struct {
	Network string // "" while the daemon runs the default network alone
	Streams []streamRow
}

// moneyBlock is one network's revenue charts, one per currency.
type moneyBlock struct {
	Network  string // "" while the daemon runs the default network alone
	Charts   []currencyChart
	Note     string
	HasChart bool
}

type currencyChart struct {
	Network  string // "" while the daemon runs the default network alone
	Currency string
	Chart    chart
	Days     []DayMoney
}

type streamRow struct {
	StreamStatus
	Schedule    string
	StaleAfter  string
	LastSuccess string
	LastPass    string
	// LastSummary is what the last pass read and stored, LastMove its
	// cursor before -> after.
	LastSummary string
	LastMove    string
	CursorText  string
	LagText     string
	NextText    string
	Progress    string
	Alarm       bool
}

func (d *Daemon) serveStatusPage(w http.ResponseWriter, r *http.Request) {
	now := d.now()
	p := statusPage{
		Now:        now.UTC(),
		Started:    d.started.UTC(),
		Uptime:     humanDuration(now.Sub(d.started)),
		Version:    d.cfg.Version,
		RefreshSec: 30,
	}
	var statuses []StreamStatus
	groups := map[string]int{} // network -> index in p.Groups
	for _, s := range d.Status() {
		who := d.label(s.Network, s.Stream)
		row := streamRow{StreamStatus: s, Schedule: "every " + humanDuration(s.Interval), StaleAfter: humanDuration(s.Staleness)}
		row.LastSuccess = "never"
		if !s.LastSuccess.IsZero() {
			row.LastSuccess = ago(now, s.LastSuccess)
		}
		if s.HasLast {
			row.LastPass, row.LastSummary, row.LastMove = lastPassText(now, s)
		}
		if !s.Cursor.IsZero() {
			row.CursorText = s.Cursor.UTC().Format("2006-01-02 15:04 MST")
			row.LagText = humanDuration(s.Behind) + " behind"
			if s.Behind == 0 {
				row.LagText = "on time"
			}
			if s.Cursor.After(now) {
				row.LagText = humanDuration(s.Cursor.Sub(now)) + " ahead of now"
			}
		}
		switch {
		case s.Running:
			row.NextText = "running since " + ago(now, s.PassStarted)
			if s.ProgressTotal > 0 {
				row.Progress = fmt.Sprintf("window %d/%d, %s rows read, %s requests", s.ProgressDone, s.ProgressTotal, count(s.ProgressRows), count(s.ProgressReqs))
			}
		case !s.NextRun.IsZero():
			if s.NextRun.After(now) {
				row.NextText = "in " + humanDuration(s.NextRun.Sub(now))
			} else {
				row.NextText = "due"
			}
		}
		if s.CursorInFuture {
			row.Alarm = true
			p.Alarms = append(p.Alarms, fmt.Sprintf(
				"%s: the stored cursor (%s) is %s ahead of now, so every pass of it is refused: syncing from there would silently skip everything before it. "+
					"Check the clock; if it is right, stop syncd run, run `%s` (re-syncs from start_date, nothing doubles; or add --to YYYY-MM-DD, the last day known to be fully loaded) and start it again.",
				who, row.CursorText, humanDuration(s.Cursor.Sub(now)), s.Fix))
		}
		if s.Problem == ProblemFailingSinceStart {
			row.Alarm = true
			p.Alarms = append(p.Alarms, fmt.Sprintf("%s: every pass since the daemon started failed (%d so far); its last error is below.", who, s.PassesSinceStart))
		}
		if s.RetentionRisk {
			row.Alarm = true
			clicks := "the clicks cursor"
			if d.multi {
				clicks = "network " + s.Network + "'s clicks cursor"
			}
			p.Alarms = append(p.Alarms, fmt.Sprintf(
				"Clicks retention alarm: %s is %s behind (more than %s). Affise drops clicks after about 7 days: clicks older than that are lost for good.",
				clicks, humanDuration(s.CursorLag), humanDuration(d.cfg.ClicksAlarmLag)))
		}
		i, ok := groups[s.Network]
		if !ok {
			i = len(p.Groups)
			groups[s.Network] = i
			g := streamGroup{}
			if d.multi {
				g.Network = s.Network
			}
			p.Groups = append(p.Groups, g)
		}
		p.Groups[i].Streams = append(p.Groups[i].Streams, row)
		statuses = append(statuses, s)
	}
	p.Summary = healthSummary(statuses, d.multi)
	p.Healthy = p.Summary == ""
	p.Level = "ok"
	if !p.Healthy {
		p.Level = "bad"
	} else if failing := d.failingStreams(statuses); len(failing) > 0 {
		p.Level = "warn"
		p.Warning = strings.Join(failing, ", ") + " failing"
	}
	for _, n := range d.networks {
		p.Money = append(p.Money, d.moneyBlock(r.Context(), n, now))
	}
	for _, vf := range d.verifiers {
		v := vf.view()
		if !d.multi {
			v.Network = ""
		}
		p.Verify = append(p.Verify, v)
	}
	var buf bytes.Buffer
	if err := statusTmpl.Execute(&buf, p); err != nil {
		d.log.Error().Str("error", err.Error()).Msg("rendering the status page")
		http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	if !p.Healthy {
		// Still 200: the page rendered; /healthz is the health signal.
		w.Header().Set("X-Syncd-Unhealthy", p.Summary)
	}
	_, _ = w.Write(buf.Bytes())
}

// humanDuration prints 3d4h, 2h5m, 4m10s, 1.5s.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m := int(d.Minutes())
		s := int(d.Seconds()) % 60
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h := int(d.Hours())
		m := int(d.Minutes()) % 60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days := int(d.Hours()) / 24
		h := int(math.Mod(d.Hours(), 24))
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}

// failingStreams names the streams whose last pass failed.
func (d *Daemon) failingStreams(ss []StreamStatus) []string {
	var out []string
	for _, s := range ss {
		if s.Failures > 0 {
			out = append(out, d.label(s.Network, s.Stream))
		}
	}
	return out
}

// moneyBlock reads network's revenue chart; a network whose money cannot
// be read says so in its own block and leaves the others' alone.
func (d *Daemon) moneyBlock(ctx context.Context, network string, now time.Time) moneyBlock {
	b := moneyBlock{}
	if d.multi {
		b.Network = network
	}
	rd := d.reader(network)
	if rd == nil {
		b.Note = "No warehouse to chart."
		return b
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	charts, ok, err := dailyMoney(ctx, rd, now)
	cancel()
	switch {
	case err != nil:
		b.Note = "Could not read the chart data: " + oneLine(d.redact(err.Error()), 300)
	case !ok:
		b.Note = "No conversions synced yet: the chart appears after the first conversions pass."
	default:
		b.HasChart = true
		money := false
		for _, c := range charts {
			ch := buildChart(c.Days)
			money = money || ch.HasMoney
			b.Charts = append(b.Charts, currencyChart{Network: b.Network, Currency: c.Currency, Chart: ch, Days: c.Days})
		}
		if !money {
			b.Note = "No revenue or payouts in the last 30 days."
		}
	}
	return b
}

// lastPassText is a stream's last pass on the status page: when and how
// long; what it read and what its commits stored; its cursor's move.
func lastPassText(now time.Time, s StreamStatus) (pass, summary, move string) {
	pass = fmt.Sprintf("%s, took %s", ago(now, s.LastEnd), humanDuration(s.LastDuration))
	summary = fmt.Sprintf("%s read · %s new · %s updated · %s unchanged · %s", count(s.LastRead),
		count(s.LastInserted), count(s.LastUpdated), count(s.LastUnchanged), plural(s.LastRequests, "request"))
	if s.LastRetries > 0 {
		summary += fmt.Sprintf(" (%s retried)", count(s.LastRetries))
	}
	f := func(t time.Time) string {
		if t.IsZero() {
			return "none"
		}
		return t.UTC().Format("01-02 15:04")
	}
	if !s.LastCursorBefore.IsZero() || !s.Cursor.IsZero() {
		move = "cursor " + f(s.LastCursorBefore) + " → " + f(s.Cursor)
	}
	return pass, summary, move
}

// plural is "1 request", "2 requests", "1,850 requests".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

// count prints n with thousands separators.
func count(n int64) string {
	if n < 0 {
		return "-" + count(-n)
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func ago(now, t time.Time) string {
	if t.After(now) {
		return "just now"
	}
	return humanDuration(now.Sub(t)) + " ago"
}

var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"money": money,
	"day":   func(t time.Time) string { return t.Format("Mon 2006-01-02") },
	"ts":    func(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") },
	"plus":  func(a, b float64) float64 { return a + b },
	// State names are identifiers (cursor_in_future); people read words.
	"stateText": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
}).Parse(statusHTML))

const statusHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{{.RefreshSec}}">
<title>syncd {{if .Healthy}}ok{{else}}UNHEALTHY: {{.Summary}}{{end}}</title>
<style>
  :root { color-scheme: light; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; color: #111827; background: #f3f4f6; }
  header { background: #111827; color: #f9fafb; padding: 14px 24px; display: flex; align-items: baseline; gap: 18px; flex-wrap: wrap; }
  header h1 { font-size: 20px; margin: 0; }
  header .meta { color: #9ca3af; font-size: 13px; }
  header.level-warn { background: #d97706; }
  header.level-warn .meta { color: #fef3c7; }
  header.level-bad { background: #b91c1c; }
  header.level-bad .meta { color: #fee2e2; }
  main { padding: 16px 24px 32px; max-width: 1200px; }
  .pill { display: inline-block; padding: 1px 9px; border-radius: 999px; font-weight: 600; font-size: 12px; }
  .health-ok { background: #059669; color: #fff; }
  .health-bad { background: #dc2626; color: #fff; }
  .health-warn { background: #fef3c7; color: #92400e; }
  .pass-summary { font-variant-numeric: tabular-nums; }
  .alarm { background: #fee2e2; color: #991b1b; border-left: 6px solid #dc2626; padding: 10px 14px; margin: 12px 0; font-weight: 600; }
  section { background: #fff; border-radius: 8px; box-shadow: 0 1px 2px rgba(0,0,0,.08); padding: 14px 18px; margin: 16px 0; overflow-x: auto; }
  h2 { font-size: 16px; margin: 0 0 10px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
  th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #6b7280; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.alarm-row td { background: #fef2f2; }
  tr.alarm-row td.lag { color: #dc2626; font-weight: 700; }
  .state-fresh { background: #d1fae5; color: #065f46; }
  .state-running { background: #dbeafe; color: #1e40af; }
  .state-waiting { background: #e5e7eb; color: #374151; }
  .state-failing { background: #fef3c7; color: #92400e; }
  .state-stale { background: #fee2e2; color: #991b1b; }
  .state-cursor_in_future { background: #dc2626; color: #fff; }
  .err { color: #b91c1c; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; max-width: 420px; word-break: break-word; }
  .muted { color: #6b7280; }
  .legend span { display: inline-block; margin-right: 18px; }
  .legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
  .totals { margin: 6px 0 10px; }
  .totals b { font-variant-numeric: tabular-nums; }
  svg text { font: 11px system-ui, sans-serif; fill: #6b7280; }
  details summary { cursor: pointer; color: #374151; margin-top: 8px; }
</style>
</head>
<body>
<header class="level-{{.Level}}" data-level="{{.Level}}">
  <h1>syncd</h1>
  {{if not .Healthy}}<span class="pill health-bad">{{.Summary}}</span>{{else if .Warning}}<span class="pill health-warn">healthy, but {{.Warning}}</span>{{else}}<span class="pill health-ok">healthy</span>{{end}}
  <span class="meta">{{ts .Now}} · up {{.Uptime}} (since {{ts .Started}}){{if .Version}} · {{.Version}}{{end}}</span>
</header>
<main>
{{range .Alarms}}<div class="alarm" role="alert">⚠ {{.}}</div>
{{end}}
{{range .Groups}}
<section class="network" data-network="{{.Network}}">
  <h2>{{if .Network}}Network {{.Network}}: streams{{else}}Streams{{end}}</h2>
  <table>
    <thead><tr><th>Stream</th><th>State</th><th>Schedule</th><th>Last success</th><th>Last pass</th><th>Cursor</th><th>Next</th><th>Last error</th></tr></thead>
    <tbody>
    {{range .Streams}}
    <tr{{if .Alarm}} class="alarm-row"{{end}}>
      <td><b>{{.Stream}}</b></td>
      <td><span class="pill state-{{.State}}">{{stateText .State}}</span>{{if .Running}}{{if ne .State "running"}} <span class="pill state-running">running</span>{{end}}{{end}}</td>
      <td class="muted">{{.Schedule}}<br>stale after {{.StaleAfter}}</td>
      <td>{{.LastSuccess}}</td>
      <td class="last-pass" data-network="{{.Network}}" data-stream="{{.Stream}}">{{if .LastPass}}{{.LastPass}}<br><span class="pass-summary">{{.LastSummary}}</span>{{if .LastMove}}<br><span class="muted">{{.LastMove}}</span>{{end}}{{else}}<span class="muted">none yet</span>{{end}}{{if .Progress}}<br><span class="muted">now: {{.Progress}}</span>{{end}}</td>
      <td class="lag">{{if .CursorText}}{{.CursorText}}<br>{{.LagText}}{{else}}<span class="muted">none</span>{{end}}</td>
      <td>{{.NextText}}</td>
      <td>{{if .LastError}}<div class="err">{{.LastError}}</div>{{if gt .Failures 0}}<span class="muted">{{.Failures}} failed in a row</span>{{end}}{{else}}<span class="muted">—</span>{{end}}</td>
    </tr>
    {{end}}
    </tbody>
  </table>
</section>
{{end}}
<section>
  <h2>Revenue, payouts and profit per day{{if gt (len .Money) 1}}, network{{end}} and currency (UTC, last 30 days)</h2>
  {{range .Money}}
  <div class="money" data-network="{{.Network}}">
  {{if .HasChart}}
  {{range .Charts}}{{$cur := or .Currency "no currency"}}{{$net := .Network}}
  <h3>{{if .Network}}{{.Network}} · {{end}}{{$cur}}</h3>
  <div class="legend">{{range .Chart.Series}}<span><i style="background:{{.Color}}"></i>{{.Name}}</span>{{end}}</div>
  <div class="totals muted">30 days: revenue <b>{{money .Chart.Totals.Revenue}} {{$cur}}</b> · payouts <b>{{money .Chart.Totals.Payouts}} {{$cur}}</b> · profit <b>{{money .Chart.Totals.Profit}} {{$cur}}</b> · {{.Chart.Totals.Converts}} conversions</div>
  {{with .Chart}}{{$c := .}}
  <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{.W}} {{.H}}" width="100%" role="img" aria-label="Daily revenue, payouts and profit{{if $net}} of network {{$net}}{{end}} in {{$cur}}">
    {{range .Ticks}}<line x1="{{$c.Left}}" x2="{{plus $c.Left $c.PlotW}}" y1="{{.Y}}" y2="{{.Y}}" stroke="#e5e7eb"/>
    <text x="{{plus $c.Left -6}}" y="{{plus .Y 4}}" text-anchor="end">{{.Label}}</text>
    {{end}}
    <line x1="{{.Left}}" x2="{{plus .Left .PlotW}}" y1="{{.ZeroY}}" y2="{{.ZeroY}}" stroke="#6b7280"/>
    {{range .RevenueBars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="#2563eb"><title>{{.Title}}</title></rect>{{end}}
    {{range .PayoutBars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="#f59e0b"><title>{{.Title}}</title></rect>{{end}}
    <polyline points="{{.ProfitPoints}}" fill="none" stroke="#059669" stroke-width="2.5" stroke-linejoin="round"/>
    {{range .ProfitMarkers}}<circle cx="{{.X}}" cy="{{.Y}}" r="3" fill="#059669"><title>{{.Title}}</title></circle>{{end}}
    {{range .Labels}}<text x="{{.X}}" y="{{plus $c.Top (plus $c.PlotH 18)}}" text-anchor="middle">{{.Label}}</text>{{end}}
  </svg>
  {{end}}
  <details><summary>Numbers ({{if $net}}{{$net}} · {{end}}{{$cur}})</summary>
  <table>
    <thead><tr><th>Day</th><th>Conversions</th><th>Revenue</th><th>Payouts</th><th>Profit</th></tr></thead>
    <tbody>{{range .Days}}<tr><td>{{day .Day}}</td><td class="num">{{.Converts}}</td><td class="num">{{money .Revenue}}</td><td class="num">{{money .Payouts}}</td><td class="num">{{money .Profit}}</td></tr>{{end}}</tbody>
  </table>
  </details>
  {{end}}
  {{if .Note}}<p class="muted">{{if .Network}}Network {{.Network}}: {{end}}{{.Note}}</p>{{end}}
  {{else}}
  <p class="muted">{{if .Network}}Network {{.Network}}: {{end}}{{.Note}}</p>
  {{end}}
  </div>
  {{end}}
</section>
{{range .Verify}}
<section class="verify" data-network="{{.Network}}">
  <h2>{{if .Network}}Network {{.Network}}: verification{{else}}Verification{{end}} against Affise (last {{.Days}} days, per day and currency)</h2>
  {{if not .Ran}}<p class="muted">Not run yet: it runs on its schedule (verify.schedule).</p>
  {{else if .Error}}<p class="alarm">The last verification, at {{ts .At}}, failed: {{.Error}}</p>
  {{else if .Bad}}<p class="alarm">At {{ts .At}}: days differ from Affise's own numbers: {{.Bad}}. Run <code>syncd verify --repair{{if .Network}} --network {{.Network}}{{end}}</code> to re-sync them.</p>
  {{else}}<p>At {{ts .At}}: all {{.Rows}} day-currency rows agree with Affise ({{.Requests}} requests).</p>{{end}}
</section>
{{end}}
<p class="muted">Machine-readable: <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a> · <a href="/api/status">/api/status</a>. This page reloads every {{.RefreshSec}}s.</p>
</main>
</body>
</html>
`
