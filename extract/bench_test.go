package extract

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/models"
)

// BenchmarkPageDecode is the decoding a window's walk does per page: the
// conversions fixture's reply (100 items) from body bytes to Arrow rows,
// keys included, cutting a record every 10,000 rows. One op is one page;
// ns/item is the figure to compare.
// "compact" is the same reply without the fixture's indentation, as the
// API sends it.
func BenchmarkPageDecode(b *testing.B) {
	body, ok := readFixture(b, "3.0.stats.conversions@get.json")
	if !ok {
		b.Skip("fixtures not found")
	}
	var c bytes.Buffer
	if err := json.Compact(&c, body); err != nil {
		b.Fatal(err)
	}
	b.Run("fixture", func(b *testing.B) { benchPage(b, body) })
	b.Run("compact", func(b *testing.B) { benchPage(b, c.Bytes()) })
}

func benchPage(b *testing.B, body []byte) {
	bld := models.Conversions().NewBuilder(memory.NewGoAllocator(), models.DefaultNetwork, time.UTC, time.Now())
	defer bld.Release()
	seen := func([]byte) bool { return false }
	items := 0
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := benchDecodePage(body, "conversions", bld, seen)
		if err != nil {
			b.Fatal(err)
		}
		items += n
		if bld.Len() >= 10000 {
			bld.NewRecord().Release()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(items), "ns/item")
}

func benchDecodePage(body []byte, list string, bld models.Builder, seen func([]byte) bool) (int, error) {
	r, err := decodePage(body, list)
	if err != nil {
		return 0, err
	}
	for _, it := range r.items {
		if _, err := bld.AppendNew(it, seen); err != nil {
			return 0, err
		}
	}
	return len(r.items), nil
}
