package daemon

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncd/syncd/load"
)

// chartDays is how many days (today included, UTC) the revenue chart shows.
const chartDays = 30

// DayMoney is one day of the revenue chart.
type DayMoney struct {
	Day      time.Time
	Revenue  float64
	Payouts  float64
	Profit   float64
	Converts int64
}

// currencyDays is the chart data of one currency.
type currencyDays struct {
	Currency string // "" for conversions that carry none
	Days     []DayMoney
	total    int64 // conversions over the days, to order the currencies
}

// dailyMoney reads the last chartDays days ending today (UTC), per
// currency, one entry per day, zero where nothing happened; the currency
// with the most conversions comes first. ok is false when the conversions
// table does not exist yet.
func dailyMoney(ctx context.Context, r load.Reader, now time.Time) (charts []currencyDays, ok bool, err error) {
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -(chartDays - 1))
	to := today.AddDate(0, 0, 1)
	sums, ok, err := r.DailyMoney(ctx, from, to)
	if err != nil || !ok {
		return nil, ok, err
	}
	byCurrency := map[string]map[string]DayMoney{}
	for _, s := range sums {
		if byCurrency[s.Currency] == nil {
			byCurrency[s.Currency] = map[string]DayMoney{}
		}
		byCurrency[s.Currency][s.Day.UTC().Format(time.DateOnly)] = DayMoney{Revenue: s.Revenue, Payouts: s.Payouts, Converts: s.Conversions}
	}
	for cur, byDay := range byCurrency {
		c := currencyDays{Currency: cur}
		for i := range chartDays {
			day := from.AddDate(0, 0, i)
			m := byDay[day.Format(time.DateOnly)]
			m.Day = day
			m.Profit = m.Revenue - m.Payouts
			c.total += m.Converts
			c.Days = append(c.Days, m)
		}
		charts = append(charts, c)
	}
	slices.SortFunc(charts, func(a, b currencyDays) int {
		if a.total != b.total {
			return cmp.Compare(b.total, a.total)
		}
		return strings.Compare(a.Currency, b.Currency)
	})
	return charts, true, nil
}

// chart is the server-rendered SVG of the revenue, payouts and profit per
// day: everything is computed here, the template only prints numbers.
type chart struct {
	W, H          int
	Left, Top     float64
	PlotW, PlotH  float64
	ZeroY         float64
	Ticks         []chartTick
	Labels        []chartLabel
	Series        []chartSeries
	Totals        DayMoney
	HasMoney      bool
	BarW          float64
	RevenueBars   []chartBar
	PayoutBars    []chartBar
	ProfitPoints  string
	ProfitMarkers []chartPoint
}

type chartTick struct {
	Y     float64
	Label string
}

type chartLabel struct {
	X     float64
	Label string
}

type chartSeries struct {
	Name, Color string
}

type chartBar struct {
	X, Y, W, H float64
	Title      string
}

type chartPoint struct {
	X, Y  float64
	Title string
}

const (
	colorRevenue = "#2563eb"
	colorPayouts = "#f59e0b"
	colorProfit  = "#059669"
)

func buildChart(days []DayMoney) chart {
	c := chart{W: 1000, H: 320, Left: 70, Top: 16}
	c.PlotW = float64(c.W) - c.Left - 16
	c.PlotH = float64(c.H) - c.Top - 40
	c.Series = []chartSeries{{"Revenue", colorRevenue}, {"Payouts", colorPayouts}, {"Profit", colorProfit}}
	lo, hi := 0.0, 0.0
	for _, d := range days {
		hi = math.Max(hi, math.Max(d.Revenue, math.Max(d.Payouts, d.Profit)))
		lo = math.Min(lo, math.Min(d.Profit, math.Min(d.Revenue, d.Payouts)))
		c.Totals.Revenue += d.Revenue
		c.Totals.Payouts += d.Payouts
		c.Totals.Profit += d.Profit
		c.Totals.Converts += d.Converts
		if d.Revenue != 0 || d.Payouts != 0 {
			c.HasMoney = true
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	y := func(v float64) float64 { return c.Top + c.PlotH*(hi-v)/(hi-lo) }
	for v := lo; v <= hi+step/2; v += step {
		c.Ticks = append(c.Ticks, chartTick{Y: round1(y(v)), Label: money(v)})
	}
	c.ZeroY = round1(y(0))
	n := max(len(days), 1)
	slot := c.PlotW / float64(n)
	c.BarW = round1(slot * 0.36)
	var pts []string
	for i, d := range days {
		x0 := c.Left + slot*float64(i)
		mid := x0 + slot/2
		title := d.Day.Format("Mon 2006-01-02")
		c.RevenueBars = append(c.RevenueBars, bar(x0+slot*0.12, c.BarW, y(d.Revenue), c.ZeroY,
			fmt.Sprintf("%s revenue %s (%d conversions)", title, money(d.Revenue), d.Converts)))
		c.PayoutBars = append(c.PayoutBars, bar(x0+slot*0.12+c.BarW, c.BarW, y(d.Payouts), c.ZeroY,
			fmt.Sprintf("%s payouts %s", title, money(d.Payouts))))
		py := round1(y(d.Profit))
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", mid, py))
		c.ProfitMarkers = append(c.ProfitMarkers, chartPoint{X: round1(mid), Y: py, Title: fmt.Sprintf("%s profit %s", title, money(d.Profit))})
		if i%5 == 0 || i == len(days)-1 {
			c.Labels = append(c.Labels, chartLabel{X: round1(mid), Label: d.Day.Format("Jan 2")})
		}
	}
	c.ProfitPoints = strings.Join(pts, " ")
	return c
}

func bar(x, w, yv, zero float64, title string) chartBar {
	top, h := yv, zero-yv
	if h < 0 {
		top, h = zero, -h
	}
	return chartBar{X: round1(x), Y: round1(top), W: w, H: round1(h), Title: title}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// money prints 1234567.8 as "1,234,567.80", and large values compactly.
func money(v float64) string {
	neg := v < 0
	v = math.Abs(v)
	var s string
	switch {
	case v >= 1e9:
		s = strconv.FormatFloat(v/1e9, 'f', 2, 64) + "B"
	case v >= 1e7:
		s = strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
		intPart, frac, _ := strings.Cut(s, ".")
		var b strings.Builder
		for i, r := range intPart {
			if i > 0 && (len(intPart)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(r)
		}
		s = b.String() + "." + frac
	}
	if neg {
		return "-" + s
	}
	return s
}
