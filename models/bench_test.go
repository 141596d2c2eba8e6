package models

import (
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/internal/fixtures"
)

// BenchmarkConversionsAppend decodes the fixture's 100 conversions over and
// over, cutting a record every 10,000 rows as the extractor does; it reports
// rows/s (one row per op) and bytes/s of source JSON.
func BenchmarkConversionsAppend(b *testing.B) {
	objs := fixtures.AffiseList(b, "3.0.stats.conversions@get.json", "conversions")
	benchAppend(b, Conversions(), objs)
}

func BenchmarkClicksAppend(b *testing.B) {
	benchAppend(b, Clicks(), fixtures.AffiseList(b, "3.0.stats.clicks@get.json", "clicks"))
}

func BenchmarkPartnersAppend(b *testing.B) {
	benchAppend(b, Partners(), fixtures.AffiseList(b, "3.0.admin.partners@get.json", "partners"))
}

func benchAppend(b *testing.B, m Model, objs []json.RawMessage) {
	size := 0
	for _, o := range objs {
		size += len(o)
	}
	bld := m.NewBuilder(memory.NewGoAllocator(), DefaultNetwork, berlin, syncedAt)
	defer bld.Release()
	b.SetBytes(int64(size / len(objs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := bld.Append(objs[i%len(objs)]); err != nil {
			b.Fatal(err)
		}
		if bld.Len() == 10000 {
			bld.NewRecord().Release()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
