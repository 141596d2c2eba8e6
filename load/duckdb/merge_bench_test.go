package duckdb

import (
	"fmt"
	"testing"
	"time"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// BenchmarkMergeVsDeleteInsert compares the two ways to apply a
// de-duplicated stage of 100k conversions, half of them held, to a table
// of 200k: DELETE of the held keys then INSERT (what Tx does), or one
// MERGE INTO (DuckDB >= 1.4). Each round runs in a transaction that is
// rolled back, so both see the same table.
func BenchmarkMergeVsDeleteInsert(b *testing.B) {
	s, _ := openTest(b)
	up := load.Target{Model: models.Conversions(), Mode: models.Upsert}
	for _, recs := range [][]int{{0, 200_000}, {150_000, 100_000}} {
		tx, err := s.Begin(bg, up)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range conversionBatches(b, recs[0], recs[1], 20_000) {
			if err := tx.Write(bg, r); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := tx.Commit(bg, &checkpoints.Cursor{Stream: "x", Position: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	// The stage: ids 150k..250k, as a plain table, with a change.
	if _, err := s.DB().Exec(`CREATE TABLE stage AS SELECT * REPLACE ('paid2' AS payment_status) FROM conversions WHERE id >= (SELECT min(id) FROM (SELECT id FROM conversions ORDER BY id OFFSET 150000))`); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().Exec(`DELETE FROM conversions WHERE id >= (SELECT min(id) FROM (SELECT id FROM conversions ORDER BY id OFFSET 200000))`); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, sql string }{
		{"delete+insert", `DELETE FROM conversions WHERE id IN (SELECT id FROM stage); INSERT INTO conversions SELECT * FROM stage`},
		{"merge", `MERGE INTO conversions t USING stage s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *`},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				conn, err := s.DB().Conn(bg)
				if err != nil {
					b.Fatal(err)
				}
				for _, q := range []string{"BEGIN", c.sql, "ROLLBACK"} {
					if _, err := conn.ExecContext(bg, q); err != nil {
						b.Fatal(fmt.Errorf("%s: %w", q, err))
					}
				}
				conn.Close()
			}
		})
	}
}
