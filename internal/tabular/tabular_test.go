package tabular

import (
	"math/big"
	"testing"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
)

func TestDecimalTextKeepsItsScale(t *testing.T) {
	for _, c := range []struct {
		v     int64
		scale uint8
		want  string
	}{
		{662900, 2, "6629.00"}, {5, 2, "0.05"}, {-5, 2, "-0.05"}, {-135252, 2, "-1352.52"},
		{0, 4, "0.0000"}, {42, 0, "42"}, {13525200, 4, "1352.5200"},
	} {
		got := Text(duckdbdriver.Decimal{Width: 18, Scale: c.scale, Value: big.NewInt(c.v)})
		if got != c.want {
			t.Errorf("%d scale %d: %q, want %q", c.v, c.scale, got, c.want)
		}
	}
}
