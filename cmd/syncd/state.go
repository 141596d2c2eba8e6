package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load/warehouse"
)

func newStateCmd(g *globals) *cobra.Command {
	var stream string
	cmd := &cobra.Command{
		Use:   "state [--stream NAME]",
		Short: "Show each stream's checkpoint",
		Long: `Show where each stream's next sync starts (its cursor, in UTC) and when it
was last moved. A stream without a checkpoint starts at its start_date.
Backfills in progress show as NAME#backfill; an affiliate key's settle re-read
keeps NAME#settle. A cursor more than a few
minutes in the future shows under problem with the command that fixes it:
sync refuses such a stream rather than silently skip what lies before it.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadLocalApp(g)
			if err != nil {
				return err
			}
			if stream != "" && a.cfg.Stream(stream) == nil {
				return usagef("--stream %q: no such stream", stream)
			}
			ro, err := warehouse.OpenReadOnly(cmd.Context(), a.cfg.Warehouse)
			if err != nil {
				return err
			}
			defer ro.Close()
			cursors, err := ro.Cursors(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "stream\tcursor\tupdated_at\tproblem")
			var future []string
			for _, c := range cursors {
				if stream != "" && c.Stream != stream && c.Stream != checkpoints.BackfillKey(stream) {
					continue
				}
				problem := "-"
				if !checkpoints.IsBackfillKey(c.Stream) && c.InFuture(now) {
					problem = fmt.Sprintf("IN THE FUTURE (now %s): sync refuses this stream; fix: %s", now.Format(time.RFC3339), checkpoints.ResetCommand(c.Stream))
					future = append(future, c.Stream)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Stream, c.Position.UTC().Format(time.RFC3339), c.UpdatedAt.UTC().Format(time.RFC3339), problem)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if len(future) > 0 {
				// Also on stderr, so a script or a reader skimming past the
				// table still sees that these streams are stopped.
				a.log.Error().Strs("streams", future).Time("now", now).
					Msg("cursor in the future: these streams do not sync until their cursor is moved (see the problem column)")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stream, "stream", "", "show only this stream")
	cmd.AddCommand(newStateResetCmd(g))
	return cmd
}

func newStateResetCmd(g *globals) *cobra.Command {
	var stream, to string
	cmd := &cobra.Command{
		Use:   "reset --stream NAME [--to DATE]",
		Short: "Move a stream's checkpoint back (or forward) so the next sync starts there",
		Long: `Move a stream's checkpoint. With --to, the next sync starts at that date
(00:00 UTC); without it, the checkpoint is removed and the next sync starts
at the stream's start_date. No rows are deleted: re-synced rows are upserted.`,
		Example: `  syncd state reset --stream conversions --to 2025-06-01
  syncd state reset --stream clicks`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stream == "" {
				return usagef("--stream is required")
			}
			var pos time.Time
			if to != "" {
				var err error
				if pos, err = parseDateFlag("to", to); err != nil {
					return err
				}
				if pos.After(time.Now()) {
					return usagef("--to %s is in the future", to)
				}
			}
			a, err := loadLocalApp(g)
			if err != nil {
				return err
			}
			if a.cfg.Stream(stream) == nil {
				return usagef("--stream %q: no such stream", stream)
			}
			wh, err := warehouse.Open(cmd.Context(), a.cfg.Warehouse, a.command)
			if err != nil {
				return err
			}
			defer wh.Close()
			if to == "" {
				if err := wh.DeleteCursor(cmd.Context(), stream); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: checkpoint removed; the next sync starts at its start_date\n", stream)
				return nil
			}
			if err := wh.SetCursor(cmd.Context(), checkpoints.Cursor{Stream: stream, Position: pos, UpdatedAt: time.Now().UTC()}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: the next sync starts at %s\n", stream, pos.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&stream, "stream", "", "stream whose checkpoint to move (required)")
	cmd.Flags().StringVar(&to, "to", "", "new checkpoint, YYYY-MM-DD (default: remove it)")
	return cmd
}
