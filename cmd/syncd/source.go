package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// source is one network's side of a run: one client (one request budget)
// shared by the extractors of the selected streams, and, for loading
// commands, the network's view of the warehouse.
type source struct {
	network    *config.Network
	client     *extract.Client
	extractors []extract.Extractor
	sink       load.Warehouse // nil where nothing is loaded
}

// newSource builds network n's extractors of names. currencies, when not
// nil, lists the currencies stats_daily asks for one by one (the
// warehouse's, of that network).
func (a *app) newSource(n *config.Network, names []string, currencies func(context.Context) ([]string, error), opts ...extract.ClientOption) (*source, error) {
	api := n.API
	retries := api.MaxRetries
	if retries == 0 {
		retries = -1 // the client reads 0 as "its default"
	}
	client, err := extract.NewClient(extract.ClientConfig{
		Network:           n.Name,
		BaseURL:           api.BaseURL,
		Key:               api.Key,
		KeySetting:        n.APISetting("key"),
		BaseURLSetting:    n.APISetting("base_url"),
		Timezone:          api.Timezone,
		Location:          api.Location,
		PageSize:          api.PageSize,
		RequestsPerSecond: api.RequestsPerSecond,
		Concurrency:       api.Concurrency,
		Timeout:           api.Timeout,
		MaxRetries:        retries,
		Logger:            a.log,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%sapi: %w", a.label(n.Name), err)
	}
	src := &source{network: n, client: client}
	for _, name := range names {
		s := n.Stream(name)
		decl, err := models.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", a.label(n.Name), name, err)
		}
		m, err := decl.Model(s.Slices)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", a.label(n.Name), name, err)
		}
		ex, err := extract.New(client, decl, m, extract.Options{
			StartDate:    s.StartDate,
			Lookback:     s.Lookback,
			SettleWindow: s.SettleWindow,
			UpdateFilter: api.Role == "admin",
			Slices:       s.Slices,
			Currencies:   currencies,
		})
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", a.label(n.Name), name, err)
		}
		src.extractors = append(src.extractors, ex)
	}
	return src, nil
}

// names lists the streams of src's extractors, in order.
func names(src *source) []string {
	out := make([]string, len(src.extractors))
	for i, ex := range src.extractors {
		out[i] = ex.Stream()
	}
	return out
}

// label is what a message about network starts with: "network beta: ",
// or nothing for the one network of a config with api: alone, whose
// messages read as they always have.
func (a *app) label(network string) string {
	if !a.cfg.Several() && network == models.DefaultNetwork {
		return ""
	}
	return "network " + network + ": "
}

// column is the network as a row of a summary shows it: "" unless the
// config has several networks (then summaries have a network column).
func (a *app) column(network string) string {
	if !a.cfg.Several() {
		return ""
	}
	return network
}

// selectNetworks validates --network (names, comma lists allowed) against
// the config's networks; none given is every network.
func (a *app) selectNetworks(requested []string) ([]*config.Network, error) {
	if len(requested) == 0 {
		return a.cfg.Networks, nil
	}
	seen := map[string]bool{}
	var out []*config.Network
	for _, r := range requested {
		r = strings.TrimSpace(r)
		n := a.cfg.Network(r)
		if n == nil {
			return nil, usagef("--network %q: no such network (networks are %s)", r, strings.Join(a.cfg.NetworkNames(), ", "))
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// oneNetwork is selectNetworks for commands that read one network's rows
// (query, report): "" when none was given (every network's rows).
func (a *app) oneNetwork(requested []string) (string, error) {
	nets, err := a.selectNetworks(requested)
	switch {
	case err != nil:
		return "", err
	case len(requested) == 0:
		return "", nil
	case len(nets) > 1:
		return "", usagef("--network: give one network (rows of every network: leave --network out)")
	}
	return nets[0].Name, nil
}

// networkFlag is the --network flag's help text.
const networkFlag = "only these networks (comma-separated names of the config's networks:; default: every network)"
