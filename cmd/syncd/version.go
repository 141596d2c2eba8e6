package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/load/duckdb"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print syncd's version and the DuckDB it embeds",
		RunE: func(cmd *cobra.Command, _ []string) error {
			duck := "unknown"
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, d := range info.Deps {
					if d.Path == "github.com/duckdb/duckdb-go/v2" {
						duck = d.Version
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "syncd %s (%s, DuckDB %s, duckdb-go %s)\n", version, runtime.Version(), duckdb.LibraryVersion(), duck)
			return nil
		},
	}
}
