package main

import (
	"context"
	"fmt"

	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/models"
)

// source is the Affise side of a run: one client (one request budget) shared
// by the extractors of the selected streams.
type source struct {
	client     *extract.Client
	extractors []extract.Extractor
}

// newSource builds the extractors of names. currencies, when not nil,
// lists the currencies stats_daily asks for one by one (the warehouse's).
func (a *app) newSource(names []string, currencies func(context.Context) ([]string, error), opts ...extract.ClientOption) (*source, error) {
	api := a.cfg.API
	retries := api.MaxRetries
	if retries == 0 {
		retries = -1 // the client reads 0 as "its default"
	}
	client, err := extract.NewClient(extract.ClientConfig{
		BaseURL:           api.BaseURL,
		Key:               api.Key,
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
		return nil, fmt.Errorf("api: %w", err)
	}
	src := &source{client: client}
	for _, name := range names {
		s := a.cfg.Stream(name)
		decl, err := models.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m, err := decl.Model(s.Slices)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
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
			return nil, fmt.Errorf("%s: %w", name, err)
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
