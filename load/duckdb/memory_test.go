package duckdb

import "testing"

func TestLimitBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"128MB", 128e6, true},
		{"256MiB", 256 << 20, true},
		{"1.5GB", 1.5e9, true},
		{"512 KiB", 512 << 10, true},
		{"80%", 0, false},
		{"lots", 0, false},
	} {
		got, ok := limitBytes(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("limitBytes(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
