package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
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
	var networks []string
	cmd := &cobra.Command{
		Use:   "check [--network a,b]",
		Short: "Check the config, the API key and reachability, and that the warehouse is writable",
		Long: `Check everything a sync needs, without syncing: the config is valid, each
enabled stream's endpoint answers this API key (one small request each),
and the warehouse can be opened for writing. Prints one line per check;
exit 1 if any failed.

With several networks (networks: in the config) every network's API is
checked, at once, each line starting "network NAME:"; --network checks
only those networks' APIs.`,
		Example: `  syncd check -c syncd.yaml
  syncd check --network beta`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(g)
			if err != nil {
				return err
			}
			nets, err := a.selectNetworks(networks)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "ok    config %s\n", g.configPath)
			names, err := a.selectStreams(nets, nil, true)
			if err != nil {
				return err
			}
			// The networks are probed at once (an unreachable one waits out
			// its timeouts), and printed in the config's order.
			lines := make([][]string, len(nets))
			failedBy := make([][]string, len(nets))
			var wg sync.WaitGroup
			for i, n := range nets {
				src, err := a.newSource(n, names[n.Name], nil)
				if err != nil {
					return err
				}
				wg.Go(func() { lines[i], failedBy[i] = a.probe(cmd.Context(), src) })
			}
			wg.Wait()
			var failed []string
			for i := range nets {
				for _, line := range lines[i] {
					fmt.Fprintln(out, line)
				}
				failed = append(failed, failedBy[i]...)
			}
			badConfig := false // a failure the config must fix: exit 2
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
	cmd.Flags().StringSliceVar(&networks, "network", nil, networkFlag)
	return cmd
}

// probe proves each of src's streams readable with one small request: its
// lines to print and the checks that failed. Each failure is printed once,
// on its FAIL line: streams that fail for the same reason (a wrong key, a
// server down) share one.
func (a *app) probe(ctx context.Context, src *source) (lines, failed []string) {
	label := a.label(src.network.Name)
	var probeFailures []probeFailure
	for _, ex := range src.extractors {
		p, ok := ex.(prober)
		if !ok {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 2*src.network.API.Timeout+10*time.Second)
		total, err := p.Probe(pctx)
		cancel()
		if err != nil {
			probeFailures = append(probeFailures, probeFailure{ex.Stream(), a.redact(err.Error())})
			failed = append(failed, label+"api "+ex.Stream())
			continue
		}
		lines = append(lines, fmt.Sprintf("ok    %sapi %s (%d rows in the latest window)", label, ex.Stream(), total))
	}
	for _, line := range groupFailures(probeFailures) {
		lines = append(lines, strings.Replace(line, "FAIL  ", "FAIL  "+label, 1))
	}
	if label != "" && len(probeFailures) > 0 {
		// One entry per network: "network beta: api conversions, clicks".
		streams := make([]string, len(probeFailures))
		for i, f := range probeFailures {
			streams[i] = f.stream
		}
		failed = []string{label + "api " + strings.Join(streams, ", ")}
	}
	return lines, failed
}

// probeFailure is one stream's failed probe.
type probeFailure struct{ stream, msg string }

var (
	requestPrefix  = regexp.MustCompile(`^[A-Z]+ /\S* (page \d+: )?`)
	attemptsSuffix = regexp.MustCompile(` \(after \d+ attempts\)$`)
)

// groupFailures turns failed probes into FAIL lines: one per stream, or
// one for all streams that failed for the same reason (the request's
// endpoint aside), in order of first failure.
func groupFailures(fs []probeFailure) []string {
	type group struct {
		reason  string
		streams []string
		first   string
	}
	var groups []*group
	byReason := map[string]*group{}
	for _, f := range fs {
		reason := attemptsSuffix.ReplaceAllString(requestPrefix.ReplaceAllString(f.msg, ""), "")
		g := byReason[reason]
		if g == nil {
			g = &group{reason: reason, first: f.msg}
			byReason[reason] = g
			groups = append(groups, g)
		}
		g.streams = append(g.streams, f.stream)
	}
	lines := make([]string, 0, len(groups))
	for _, g := range groups {
		if len(g.streams) == 1 {
			lines = append(lines, fmt.Sprintf("FAIL  api %s: %s", g.streams[0], g.first))
			continue
		}
		lines = append(lines, fmt.Sprintf("FAIL  api %s (%d streams, the same failure): %s", strings.Join(g.streams, ", "), len(g.streams), g.reason))
	}
	return lines
}
