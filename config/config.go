// Package config loads syncd.yaml: ${VAR} expansion, SYNCD_* environment
// overrides, defaults, and validation that names the offending key.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/models"
)

// Config is the whole of syncd.yaml after defaults and validation.
type Config struct {
	API       API
	Warehouse Warehouse
	Streams   []*Stream // every stream, in models.Names() order
	HTTP      HTTP

	keyFrom string // where api.key came from, for messages about it
}

// API is how syncd reaches Affise.
type API struct {
	BaseURL           string
	Key               string
	Timezone          string
	Location          *time.Location
	PageSize          int
	RequestsPerSecond float64
	Concurrency       int
	Timeout           time.Duration
	Role              string // admin | affiliate
	MaxRetries        int
}

// Warehouse is where synced rows land.
type Warehouse struct {
	Kind        string // duckdb | parquet
	Path        string
	MemoryLimit string
}

// HTTP is the daemon's listener.
type HTTP struct {
	Listen string
}

// Stream is one stream's settings.
type Stream struct {
	Name      string
	Enabled   bool
	Schedule  string
	StartDate time.Time // zero: the stream's default
	Lookback  time.Duration
	Slices    []string // stats_daily only
}

// Error is a configuration problem; the CLI maps it to exit code 2.
type Error struct{ Msg string }

func (e *Error) Error() string { return "config: " + e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Stream returns the settings of a stream by name (nil if unknown).
func (c *Config) Stream(name string) *Stream {
	for _, s := range c.Streams {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Defaults as DESIGN.md documents them.
func defaults() *Config {
	c := &Config{
		API: API{
			Timezone:          "UTC",
			PageSize:          500,
			RequestsPerSecond: 3,
			Concurrency:       3,
			Timeout:           60 * time.Second,
			Role:              "admin",
			MaxRetries:        8,
		},
		Warehouse: Warehouse{Kind: "duckdb", Path: "./data/affise.duckdb", MemoryLimit: "1GB"},
		HTTP:      HTTP{Listen: "127.0.0.1:9464"},
	}
	for _, d := range models.Registry() {
		c.Streams = append(c.Streams, &Stream{Name: d.Name, Enabled: true, Schedule: d.Defaults.Schedule,
			Lookback: d.Defaults.Lookback, Slices: slices.Clone(d.Defaults.Slices)})
	}
	return c
}

// Load reads path (which may be empty: defaults plus environment only).
func Load(path string) (*Config, error) { return load(path, false) }

// LoadLocal is Load for commands that only touch the warehouse (query,
// state): the api section may lack its address and key.
func LoadLocal(path string) (*Config, error) { return load(path, true) }

func load(path string, local bool) (*Config, error) {
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, errorf("%s does not exist (copy config.example.yaml and edit it, or pass -c FILE)", path)
			}
			return nil, errorf("reading %s: %v", path, err)
		}
		data = b
	}
	return parse(data, os.Environ(), local)
}

// Parse builds a Config from YAML text; environ (as os.Environ lists it)
// resolves ${VAR} and holds the SYNCD_* overrides.
func Parse(data []byte, environ []string) (*Config, error) {
	return parse(data, environ, false)
}

func parse(data []byte, environ []string, local bool) (*Config, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	expandLookup := lookup
	if local {
		// The API's secrets may be absent where only the warehouse is read.
		expandLookup = func(k string) (string, bool) {
			if v, ok := lookup(k); ok {
				return v, ok
			}
			return "", true
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	tree := map[string]value{} // dotted key -> its value
	if len(doc.Content) > 0 {
		if err := flatten(doc.Content[0], "", tree); err != nil {
			return nil, err
		}
	}
	if err := checkEnvNames(vars); err != nil {
		return nil, err
	}
	// Overrides first: a ${VAR} in a value an override replaces need not
	// be set (api.key: ${AFFISE_API_KEY} with only SYNCD_API_KEY given).
	applyEnv(tree, lookup)
	if err := expandTree(tree, expandLookup); err != nil {
		return nil, err
	}
	c := defaults()
	if err := c.apply(tree); err != nil {
		return nil, err
	}
	if err := c.validate(local); err != nil {
		return nil, err
	}
	return c, nil
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} in one scalar; an unset variable is an error so a
// missing secret is caught at start, not as a 401 an hour later. ref is the
// first variable referred to, to say where a bad value came from.
func expand(key, s string, lookup func(string) (string, bool)) (out, ref string, err error) {
	var missing string
	out = varRef.ReplaceAllStringFunc(s, func(m string) string {
		name := varRef.FindStringSubmatch(m)[1]
		if ref == "" {
			ref = "${" + name + "}"
		}
		v, ok := lookup(name)
		if !ok && missing == "" {
			missing = name
		}
		return v
	})
	if missing != "" {
		return "", "", errorf("%s refers to ${%s}, which is not set in the environment (set it, or override %s with %s)", key, missing, key, EnvName(key))
	}
	return out, ref, nil
}

// expandTree expands ${VAR} in every value written in the YAML; values
// from SYNCD_* overrides are taken as they are.
func expandTree(tree map[string]value, lookup func(string) (string, bool)) error {
	for _, k := range sortedKeys(tree) {
		v := tree[k]
		if v.from != "" {
			continue
		}
		var err error
		if v.isList {
			items := make([]string, len(v.list))
			for i, item := range v.list {
				if items[i], _, err = expand(k, item, lookup); err != nil {
					return err
				}
			}
			v.list = items
		} else if v.scalar, v.from, err = expand(k, v.scalar, lookup); err != nil {
			return err
		}
		tree[k] = v
	}
	return nil
}

// value is one setting as written: a scalar, or a list (slices only).
type value struct {
	scalar string
	list   []string
	isList bool
	// from names where an expanded value came from: the ${VAR} it read or
	// the SYNCD_* variable that overrode it; empty when written literally.
	from string
}

func flatten(n *yaml.Node, prefix string, tree map[string]value) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			if err := flatten(n.Content[i+1], key, tree); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		var items []string
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return errorf("%s (line %d): expected a list of plain values", prefix, item.Line)
			}
			items = append(items, item.Value)
		}
		tree[prefix] = value{list: items, isList: true}
	case yaml.ScalarNode:
		if prefix == "" {
			return errorf("expected a mapping at the top level (api:, warehouse:, streams:, http:)")
		}
		if n.Tag == "!!null" {
			tree[prefix] = value{}
			return nil
		}
		tree[prefix] = value{scalar: n.Value}
	case yaml.AliasNode:
		return flatten(n.Alias, prefix, tree)
	default:
		return errorf("%s (line %d): unsupported YAML value", prefix, n.Line)
	}
	return nil
}

// EnvName is the SYNCD_* variable that overrides a dotted key.
func EnvName(key string) string {
	return "SYNCD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func applyEnv(tree map[string]value, lookup func(string) (string, bool)) {
	for _, key := range Keys() {
		if v, ok := lookup(EnvName(key)); ok {
			tree[key] = value{scalar: v, from: EnvName(key)}
		}
	}
}

// envSections are the SYNCD_ prefixes of config sections. A variable under
// one that names no key is a typo to report, like an unknown YAML key;
// other SYNCD_ variables (SYNCD_CONFIG) are not settings.
var envSections = []string{"SYNCD_API_", "SYNCD_WAREHOUSE_", "SYNCD_HTTP_", "SYNCD_STREAMS_"}

func checkEnvNames(vars map[string]string) error {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[EnvName(k)] = true
	}
	var unknown []string
	for name := range vars {
		if known[name] {
			continue
		}
		for _, p := range envSections {
			if strings.HasPrefix(name, p) {
				unknown = append(unknown, name)
			}
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return errorf("%s; unset it or fix its name (see config.example.yaml for every key)", describeUnknownEnv(unknown[0]))
}

// describeUnknownEnv says why name overrides nothing: no such stream, or
// no such key (shown as the dotted key it would have overridden).
func describeUnknownEnv(name string) string {
	rest, isStream := strings.CutPrefix(name, "SYNCD_STREAMS_")
	if !isStream {
		section, key, _ := strings.Cut(strings.TrimPrefix(name, "SYNCD_"), "_")
		return fmt.Sprintf("environment variable %s overrides no config key (there is no %s.%s)", name, strings.ToLower(section), strings.ToLower(key))
	}
	for _, s := range models.Names() {
		if key, ok := strings.CutPrefix(rest, strings.ToUpper(s)+"_"); ok {
			return fmt.Sprintf("environment variable %s overrides no config key (there is no streams.%s.%s)", name, s, strings.ToLower(key))
		}
	}
	stream := rest
	for _, k := range streamKeys {
		if s, ok := strings.CutSuffix(rest, "_"+strings.ToUpper(k)); ok {
			stream = s
			break
		}
	}
	return fmt.Sprintf("environment variable %s: no such stream %q (streams are %s)", name, strings.ToLower(stream), strings.Join(models.Names(), ", "))
}

var topKeys = map[string][]string{
	"api":       {"base_url", "key", "timezone", "page_size", "requests_per_second", "concurrency", "timeout", "role", "max_retries"},
	"warehouse": {"kind", "path", "memory_limit"},
	"http":      {"listen"},
}

var streamKeys = []string{"enabled", "schedule", "start_date", "lookback", "slices"}

// Keys lists every dotted key syncd.yaml accepts.
func Keys() []string {
	var keys []string
	for _, section := range []string{"api", "warehouse", "http"} {
		for _, k := range topKeys[section] {
			keys = append(keys, section+"."+k)
		}
	}
	for _, d := range models.Registry() {
		for _, k := range streamKeys {
			if k == "slices" && d.Defaults.Slices == nil {
				continue
			}
			keys = append(keys, "streams."+d.Name+"."+k)
		}
	}
	return keys
}

func (c *Config) apply(tree map[string]value) error {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k] = true
	}
	var unknown []string
	for k := range tree {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return errorf("unknown key %s (see config.example.yaml for every key)", describeUnknown(unknown[0]))
	}
	for _, k := range sortedKeys(tree) {
		if err := c.set(k, tree[k]); err != nil {
			return err
		}
	}
	return nil
}

func describeUnknown(k string) string {
	parts := strings.Split(k, ".")
	if parts[0] == "streams" && len(parts) >= 2 {
		known := false
		for _, s := range models.Names() {
			known = known || s == parts[1]
		}
		if !known {
			return fmt.Sprintf("streams.%s: no such stream (streams are %s)", parts[1], strings.Join(models.Names(), ", "))
		}
	}
	return k
}

func sortedKeys(m map[string]value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *Config) set(key string, val value) error {
	v := val.scalar
	// Keys() offers slices only to the streams that take them.
	if val.isList && !strings.HasSuffix(key, ".slices") {
		return errorf("%s: expected a single value, got a list", key)
	}
	var err error
	switch key {
	case "api.base_url":
		c.API.BaseURL = v
	case "api.key":
		c.API.Key = v
		c.keyFrom = val.from
	case "api.timezone":
		c.API.Timezone = v
	case "api.page_size":
		c.API.PageSize, err = parseInt(key, v)
	case "api.requests_per_second":
		c.API.RequestsPerSecond, err = strconv.ParseFloat(v, 64)
		if err != nil {
			err = errorf("%s: %q is not a number", key, v)
		}
	case "api.concurrency":
		c.API.Concurrency, err = parseInt(key, v)
	case "api.timeout":
		c.API.Timeout, err = ParseDuration(key, v)
	case "api.role":
		c.API.Role = v
	case "api.max_retries":
		c.API.MaxRetries, err = parseInt(key, v)
	case "warehouse.kind":
		c.Warehouse.Kind = v
	case "warehouse.path":
		c.Warehouse.Path = v
	case "warehouse.memory_limit":
		c.Warehouse.MemoryLimit = v
	case "http.listen":
		c.HTTP.Listen = v
	default:
		parts := strings.SplitN(key, ".", 3)
		s := c.Stream(parts[1])
		switch parts[2] {
		case "enabled":
			s.Enabled, err = strconv.ParseBool(v)
			if err != nil {
				err = errorf("%s: %q is not true or false", key, v)
			}
		case "schedule":
			s.Schedule = v
		case "start_date":
			if v == "" {
				s.StartDate = time.Time{}
				break
			}
			s.StartDate, err = time.Parse(time.DateOnly, v)
			if err != nil {
				err = errorf("%s: %q is not a date like 2025-01-31", key, v)
			}
		case "lookback":
			s.Lookback, err = ParseDuration(key, v)
		case "slices":
			if val.isList {
				s.Slices = val.list
			} else {
				s.Slices = splitList(v)
			}
		}
	}
	return err
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseInt(key, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errorf("%s: %q is not a whole number", key, v)
	}
	return n, nil
}

// ParseDuration accepts Go durations plus whole days ("7d", "2d12h").
func ParseDuration(key, v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	var days time.Duration
	if i := strings.Index(s, "d"); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, errorf("%s: %q is not a duration like 90s, 6h or 7d", key, v)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errorf("%s: %q is not a duration like 90s, 6h or 7d", key, v)
	}
	return days + d, nil
}

// Lowest start a stream may ask for; older dates are almost surely typos.
var earliestStart = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *Config) validate(local bool) error {
	a := &c.API
	if local {
		// Checked when a command talks to the API.
	} else if a.BaseURL == "" {
		return errorf("api.base_url is missing (the API address of your network, e.g. https://api-yournetwork.affise.com)")
	}
	if err := checkBaseURL(a.BaseURL, local); err != nil {
		return err
	}
	if !local {
		if strings.TrimSpace(a.Key) == "" {
			return errorf("api.key is missing (set AFFISE_API_KEY or SYNCD_API_KEY, or api.key)")
		}
		if err := extract.CheckKey(a.Key); err != nil {
			return errorf("api.key%s %v", c.keySource(), err)
		}
	}
	var err error
	if a.Location, err = time.LoadLocation(a.Timezone); err != nil {
		return errorf("api.timezone: %q is not a time zone name like UTC or Europe/Berlin", a.Timezone)
	}
	if a.PageSize < 1 || a.PageSize > 500 {
		return errorf("api.page_size: %d is outside 1..500 (Affise's maximum is 500)", a.PageSize)
	}
	if a.RequestsPerSecond <= 0 || a.RequestsPerSecond > 1000 {
		return errorf("api.requests_per_second: %v must be above 0 and at most 1000", a.RequestsPerSecond)
	}
	if a.Concurrency < 1 || a.Concurrency > 64 {
		return errorf("api.concurrency: %d is outside 1..64", a.Concurrency)
	}
	if a.Timeout <= 0 {
		return errorf("api.timeout must be above 0")
	}
	if a.MaxRetries < 0 || a.MaxRetries > 100 {
		return errorf("api.max_retries: %d is outside 0..100", a.MaxRetries)
	}
	if a.Role != "admin" && a.Role != "affiliate" {
		return errorf("api.role: %q must be admin or affiliate", a.Role)
	}
	// Which kinds this build can open is load/warehouse's to say.
	if c.Warehouse.Kind != "duckdb" && c.Warehouse.Kind != "parquet" {
		return errorf("warehouse.kind: %q must be duckdb or parquet", c.Warehouse.Kind)
	}
	if strings.TrimSpace(c.Warehouse.Path) == "" {
		return errorf("warehouse.path is missing")
	}
	if !memoryLimit.MatchString(c.Warehouse.MemoryLimit) {
		return errorf("warehouse.memory_limit: %q is not a size like 512MB or 2GB", c.Warehouse.MemoryLimit)
	}
	if err := checkListen(c.HTTP.Listen); err != nil {
		return errorf("http.listen: %q is not host:port", c.HTTP.Listen)
	}
	tomorrow := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	enabled := 0
	for _, s := range c.Streams {
		key := "streams." + s.Name
		if !s.Enabled {
			continue
		}
		enabled++
		if _, err := cron.ParseStandard(s.Schedule); err != nil {
			return errorf("%s.schedule: %q is not a cron spec or @every duration (%v)", key, s.Schedule, err)
		}
		if !s.StartDate.IsZero() {
			if s.StartDate.Before(earliestStart) {
				return errorf("%s.start_date: %s is before 2010-01-01", key, s.StartDate.Format(time.DateOnly))
			}
			if !s.StartDate.Before(tomorrow) {
				return errorf("%s.start_date: %s is in the future", key, s.StartDate.Format(time.DateOnly))
			}
		}
		if s.Lookback > 90*24*time.Hour {
			return errorf("%s.lookback: %s is more than 90 days", key, s.Lookback)
		}
		d, err := models.Lookup(s.Name)
		if err != nil {
			return errorf("%s: %v", key, err)
		}
		if d.Defaults.Slices != nil {
			if _, err := d.Model(s.Slices); err != nil {
				return errorf("%s.slices: %v", key, err)
			}
		}
		if a.Role == "affiliate" && d.AdminOnly {
			return errorf("%s: Affise serves %s to admin keys only; set %s.enabled: false for api.role affiliate", key, s.Name, key)
		}
	}
	if enabled == 0 {
		return errorf("every stream is disabled; enable at least one under streams:")
	}
	return nil
}

// keySource is " (from X)" when api.key came from a variable.
func (c *Config) keySource() string {
	if c.keyFrom == "" {
		return ""
	}
	return " (from " + c.keyFrom + ")"
}

func checkBaseURL(raw string, local bool) error {
	if raw == "" && local {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errorf("api.base_url: %q is not an http(s) URL", raw)
	}
	if u.User != nil || u.RawQuery != "" {
		return errorf("api.base_url must not carry credentials or a query; put the key in api.key")
	}
	return nil
}

var memoryLimit = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

// checkListen accepts host:port as net.Listen takes it ([::1]:9464 too),
// with a numeric port in range.
func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("bad port")
	}
	return nil
}
