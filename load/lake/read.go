package lake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// countsMoney is the daily_revenue view's rule: declined and not_found
// add nothing.
var countsMoney = map[string]bool{"confirmed": true, "pending": true, "hold": true}

// DailyMoney implements load.Reader, for the view's network. It reads only the conversions
// partitions of the asked days, each file as a rename left it, so it
// sees committed data only and takes no lock.
func (s *Sink) DailyMoney(ctx context.Context, from, to time.Time) ([]load.DayMoney, bool, error) {
	conv := models.Conversions()
	table := conv.Table()
	if err := s.checkNetwork(); err != nil {
		return nil, false, fmt.Errorf("lake: daily money: %w", err)
	}
	parts, err := partitions(ctx, s.b, table, s.network)
	if err != nil {
		return nil, false, fmt.Errorf("lake: daily money: %w", err)
	}
	if len(parts) == 0 {
		return nil, false, nil
	}
	type sums struct {
		rev, pay decimal128.Num
		n        int64
	}
	type dayCurrency struct {
		day time.Time
		cur string
	}
	byDay := map[dayCurrency]*sums{}
	sc := conv.Schema()
	col := func(name string) int { return sc.FieldIndices(name)[0] }
	scale := sc.Field(col("revenue")).Type.(*arrow.Decimal128Type).Scale
	for _, p := range parts {
		// A partition holds one UTC day of created_at: skip the others
		// unread.
		if d, ok := p.day(); ok && (d.Before(from.Truncate(24*time.Hour)) || !d.Before(to)) {
			continue
		}
		_, err := scanObject(ctx, s.b, fileKey(table, p), sc, s.mem, func(rec arrow.RecordBatch) error {
			created := rec.Column(col("created_at")).(*array.Timestamp)
			unit := created.DataType().(*arrow.TimestampType).Unit
			status := rec.Column(col("status")).(*array.String)
			currency := rec.Column(col("currency")).(*array.String)
			rev := rec.Column(col("revenue")).(*array.Decimal128)
			pay := rec.Column(col("payouts")).(*array.Decimal128)
			for i := range int(rec.NumRows()) {
				if created.IsNull(i) {
					continue
				}
				t := created.Value(i).ToTime(unit).UTC()
				if t.Before(from) || !t.Before(to) {
					continue
				}
				k := dayCurrency{day: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
				if currency.IsValid(i) {
					k.cur = currency.Value(i)
				}
				sm := byDay[k]
				if sm == nil {
					sm = &sums{}
					byDay[k] = sm
				}
				sm.n++
				if status.IsNull(i) || !countsMoney[status.Value(i)] {
					continue
				}
				if rev.IsValid(i) {
					sm.rev = sm.rev.Add(rev.Value(i))
				}
				if pay.IsValid(i) {
					sm.pay = sm.pay.Add(pay.Value(i))
				}
			}
			return nil
		})
		// A partition replaced away since it was listed reads as not
		// found, which is no error.
		if err != nil {
			return nil, true, fmt.Errorf("lake: daily money: partition %s/%s: %w", table, p, err)
		}
	}
	out := make([]load.DayMoney, 0, len(byDay))
	for k, sm := range byDay {
		out = append(out, load.DayMoney{Day: k.day, Currency: k.cur, Revenue: sm.rev.ToFloat64(scale), Payouts: sm.pay.ToFloat64(scale), Conversions: sm.n})
	}
	slices.SortFunc(out, func(a, b load.DayMoney) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		return strings.Compare(a.Currency, b.Currency)
	})
	return out, true, nil
}

// FirstDay implements load.Sink: the day of the table's first partition,
// read from the object names alone. A day a replace left empty still
// counts, which only lowers the floor a caller asks from.
func (s *Sink) FirstDay(ctx context.Context, m models.Model) (time.Time, bool, error) {
	if m.DayColumn() == "" {
		return time.Time{}, false, nil
	}
	if err := s.checkNetwork(); err != nil {
		return time.Time{}, false, fmt.Errorf("lake: first day of %s: %w", m.Table(), err)
	}
	parts, err := partitions(ctx, s.b, m.Table(), s.network)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("lake: first day of %s: %w", m.Table(), err)
	}
	for _, p := range parts { // in key order, so in day order
		if d, ok := p.day(); ok {
			return d, true, nil
		}
	}
	return time.Time{}, false, nil
}

// ChangedHours implements load.Sink.
func (s *Sink) ChangedHours(ctx context.Context, set string) ([]time.Time, error) {
	sets, err := readChanged(ctx, s.b, s.layout)
	if err != nil {
		return nil, fmt.Errorf("lake: changed hours of %s: %w", set, err)
	}
	return sets[s.network][set], nil
}

// Currencies implements load.Reader: the currency column of every
// conversions partition, read alone.
func (s *Sink) Currencies(ctx context.Context) ([]string, error) {
	conv := models.Conversions()
	if err := s.checkNetwork(); err != nil {
		return nil, fmt.Errorf("lake: currencies: %w", err)
	}
	parts, err := partitions(ctx, s.b, conv.Table(), s.network)
	if err != nil {
		return nil, fmt.Errorf("lake: currencies: %w", err)
	}
	seen := map[string]bool{}
	for _, p := range parts {
		err := scanColumn(ctx, s.b, fileKey(conv.Table(), p), "currency", s.mem, func(a arrow.Array) error {
			str, ok := a.(*array.String)
			if !ok {
				return fmt.Errorf("currency column is %s", a.DataType())
			}
			for i := range str.Len() {
				if str.IsValid(i) && str.Value(i) != "" {
					seen[str.Value(i)] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("lake: currencies: partition %s: %w", p, err)
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
