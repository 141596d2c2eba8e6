package main

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/internal/passview"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/warehouse"
)

// app is what every command starts from: the loaded config and a logger.
type app struct {
	cfg    *config.Config
	log    zerolog.Logger
	redact func(string) string
	// command names this process in the warehouse's owner file.
	command string
	// line is the progress line at the bottom of the terminal, which the
	// log writes above; nil when stderr is not a terminal, so no progress
	// ever reaches a log file, a pipe or JSON.
	line *passview.Line
}

// redactingWriter is the last line of defence: whatever is logged passes
// through redact before it reaches the terminal or the journal.
type redactingWriter struct {
	w      io.Writer
	redact func(string) string
}

func (r redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func loadApp(g *globals) (*app, error) { return newApp(g, config.Load) }

// loadLocalApp is for commands that only read or move warehouse state: they
// work without the API key in the environment.
func loadLocalApp(g *globals) (*app, error) { return newApp(g, config.LoadLocal) }

func newApp(g *globals, loadConfig func(string) (*config.Config, error)) (*app, error) {
	path := g.configPath
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && path == "syncd.yaml" && os.Getenv("SYNCD_API_KEY") != "" {
		// No file but the environment carries the essentials: run on defaults.
		path = ""
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	// A kind this build cannot open is a config error, before any work.
	if err := warehouse.Check(cfg.Warehouse); err != nil {
		return nil, err
	}
	setGoMemoryLimit(cfg.Warehouse.Kind)
	g.apiKeys = g.apiKeys[:0]
	for _, n := range cfg.Networks {
		g.apiKeys = append(g.apiKeys, n.API.Key)
	}
	g.pgPassword = cfg.Postgres.Password
	log, line, err := newLogger(g.logLevel, g.redact)
	if err != nil {
		return nil, err
	}
	return &app{cfg: cfg, log: log, redact: g.redact, command: g.command, line: line}, nil
}

// newLogger writes JSON when stderr is not a terminal and readable lines
// when it is; on a terminal, above the progress line it returns too.
func newLogger(level string, redact func(string) string) (zerolog.Logger, *passview.Line, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, nil, usagef("--log-level %q: use debug, info, warn or error", level)
	}
	var w io.Writer = redactingWriter{os.Stderr, redact}
	var line *passview.Line
	if fd := int(os.Stderr.Fd()); term.IsTerminal(fd) {
		line = passview.NewLine(w, func() int {
			width, _, err := term.GetSize(fd)
			if err != nil {
				return 0
			}
			return width
		})
		w = zerolog.ConsoleWriter{Out: line, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), line, nil
}

// tracker draws passes' progress on the terminal's progress line; nil
// when stderr is not a terminal.
func (a *app) tracker() *passview.Tracker {
	if a.line == nil {
		return nil
	}
	return passview.NewTracker(a.line, nil)
}

// startLoad is what every loading command starts from: per selected
// network, the selected streams' extractors sharing one client (one
// request budget) and the network's view of the warehouse, which is open
// for writing and returned too (closing it closes every view). opts, when
// not nil, gives each network's client its options.
func (a *app) startLoad(ctx context.Context, nets []*config.Network, requested []string, defaultAll bool, opts func(network string) []extract.ClientOption) ([]*source, load.Warehouse, error) {
	names, err := a.selectStreams(nets, requested, defaultAll)
	if err != nil {
		return nil, nil, err
	}
	wh, err := warehouse.Open(ctx, a.cfg.Warehouse, a.command)
	if err != nil {
		return nil, nil, err
	}
	var srcs []*source
	for _, n := range nets {
		if len(names[n.Name]) == 0 {
			continue
		}
		view := wh.ForNetwork(n.Name)
		var clientOpts []extract.ClientOption
		if opts != nil {
			clientOpts = opts(n.Name)
		}
		src, err := a.newSource(n, names[n.Name], view.Currencies, clientOpts...)
		if err != nil {
			_ = wh.Close()
			return nil, nil, err
		}
		src.sink = view
		srcs = append(srcs, src)
	}
	return srcs, wh, nil
}
