package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/extract"
)

// globals are the flags every command shares, and the API key once the
// config is loaded, so anything printed can be scrubbed of it.
type globals struct {
	configPath string
	logLevel   string
	apiKeys    []string // every network's
	pgPassword string
	// command is the running command ("syncd sync"), recorded next to the
	// warehouse it opens for writing so a refused process can name it.
	command string
}

// redact masks the networks' API keys and the Postgres endpoint's password
// in s, and any API-Key=value text (before the config is loaded, only the
// latter).
func (g *globals) redact(s string) string {
	s = extract.Redact(s)
	for _, k := range g.apiKeys {
		s = extract.RedactKey(s, k)
	}
	return extract.RedactKey(s, g.pgPassword)
}

func newRootCmd() (*cobra.Command, *globals) {
	g := &globals{}
	root := &cobra.Command{
		Use:   "syncd",
		Short: "Keep a SQL warehouse in step with an Affise network",
		Long: `syncd pages through an Affise network's conversions, clicks, postbacks,
custom statistics, offers, partners and advertisers (Affise API 3.0), and
loads them into a DuckDB file, or a Parquet lake on disk or S3, that you
query with SQL (syncd query, the Postgres endpoint of syncd run, or any
engine reading Parquet). Every window of data is committed together with
its checkpoint, so a sync can be interrupted at any moment and resumed
without losing or doubling a row.

Several Affise networks share one warehouse when the config lists them
under networks: (every row carries its network); --network NAME limits
sync, backfill, check, plan, state, verify, query and report to one or some.

Start with:  syncd check -c syncd.yaml   then   syncd plan   then   syncd sync
Config reference: config.example.yaml (every key, documented).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defaultConfig := os.Getenv("SYNCD_CONFIG")
	if defaultConfig == "" {
		defaultConfig = "syncd.yaml"
	}
	root.PersistentFlags().StringVarP(&g.configPath, "config", "c", defaultConfig, "config file (env SYNCD_CONFIG)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) { g.command = cmd.CommandPath() }
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newSyncCmd(g),
		newBackfillCmd(g),
		newQueryCmd(g),
		newStateCmd(g),
		newPlanCmd(g),
		newCheckCmd(g),
		newRunCmd(g),
		newHealthcheckCmd(g),
		newLakeCmd(g),
		newVerifyCmd(g),
		newReportCmd(g),
		newVersionCmd(),
	)
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
		if c.Args == nil {
			c.Args = noArgs
		}
	}
	return root, g
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q (see syncd %s --help)", cmd.Name(), strings.Join(args, " "), cmd.Name())
	}
	return nil
}
