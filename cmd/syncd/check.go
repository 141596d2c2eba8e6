package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/load/warehouse"
)

// prober is an extractor that can prove, with one small request, that the
// key may read its endpoint.
type prober interface {
	Probe(ctx context.Context) (total int64, err error)
}

func newCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check the config, the API key and reachability, and that the warehouse is writable",
		Long: `Check everything a sync needs, without syncing: the config is valid, each
enabled stream's endpoint answers this API key (one small request each),
and the warehouse can be opened for writing. Prints one line per check;
exit 1 if any failed.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(g)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "ok    config %s\n", g.configPath)
			names, err := a.selectStreams(nil, true)
			if err != nil {
				return err
			}
			src, err := a.newSource(names, nil)
			if err != nil {
				return err
			}
			// Each failure is printed once, on its FAIL line; the exit error
			// only names the checks that failed.
			var failed []string
			badConfig := false // a failure the config must fix: exit 2
			for _, ex := range src.extractors {
				p, ok := ex.(prober)
				if !ok {
					continue
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 2*a.cfg.API.Timeout+10*time.Second)
				total, err := p.Probe(ctx)
				cancel()
				if err != nil {
					fmt.Fprintf(out, "FAIL  api %s: %s\n", ex.Stream(), a.redact(err.Error()))
					failed = append(failed, "api "+ex.Stream())
					continue
				}
				fmt.Fprintf(out, "ok    api %s (%d rows in the latest window)\n", ex.Stream(), total)
			}
			wh, err := warehouse.Open(cmd.Context(), a.cfg.Warehouse, a.command)
			if err != nil {
				fmt.Fprintf(out, "FAIL  warehouse %s: %s\n", a.cfg.Warehouse.Path, a.redact(err.Error()))
				failed = append(failed, "warehouse")
				var ce *config.Error
				badConfig = errors.As(err, &ce)
			} else {
				wh.Close()
				fmt.Fprintf(out, "ok    warehouse %s is writable\n", a.cfg.Warehouse.Path)
			}
			if len(failed) > 0 {
				err := fmt.Errorf("check failed: %s (the FAIL lines above say why)", strings.Join(failed, ", "))
				if badConfig {
					return usageError{err}
				}
				return err
			}
			return nil
		},
	}
}
