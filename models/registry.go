package models

import (
	"fmt"
	"strings"
)

// Registry lists every stream, one line each, in the order syncd runs and
// reports them. Adding a stream is its file, a handler in the simulator and
// a line here.
func Registry() []*Stream {
	return []*Stream{
		conversionsStream(),
		clicksStream(),
		serverPostbacksStream(),
		affiliatePostbacksStream(),
		statsDailyStream(),
		offersStream(),
		partnersStream(),
		advertisersStream(),
		currencyRatesStream(),
	}
}

// Names lists the streams' names in Registry order.
func Names() []string {
	var names []string
	for _, s := range Registry() {
		names = append(names, s.Name)
	}
	return names
}

// Lookup returns the declaration of the named stream.
func Lookup(name string) (*Stream, error) {
	for _, s := range Registry() {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown stream %q (streams: %s)", name, strings.Join(Names(), ", "))
}

// ByName returns a stream's table; slices are used by stats_daily only.
func ByName(stream string, slices []string) (Model, error) {
	s, err := Lookup(stream)
	if err != nil {
		return nil, err
	}
	return s.Model(slices)
}

// ChangedConversions is the set of hours whose conversions changed: the
// conversions stream records it, stats_daily re-reads and consumes it, so
// Affise's recomputed past days reach stats_daily whatever their age.
const ChangedConversions = "conversions"
