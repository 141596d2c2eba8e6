package models

import (
	"fmt"
	"strings"
)

// Streams lists every stream, in the order syncd runs and reports them.
var Streams = []string{
	"conversions", "clicks", "server_postbacks", "affiliate_postbacks",
	"stats_daily", "offers", "partners", "advertisers",
}

// ByName returns a stream's model; slices are used by stats_daily only.
func ByName(stream string, slices []string) (Model, error) {
	switch stream {
	case "conversions":
		return Conversions(), nil
	case "clicks":
		return Clicks(), nil
	case "server_postbacks":
		return ServerPostbacks(), nil
	case "affiliate_postbacks":
		return AffiliatePostbacks(), nil
	case "stats_daily":
		return StatsDaily(slices)
	case "offers":
		return Offers(), nil
	case "partners":
		return Partners(), nil
	case "advertisers":
		return Advertisers(), nil
	}
	return nil, fmt.Errorf("unknown stream %q (streams: %s)", stream, strings.Join(Streams, ", "))
}
