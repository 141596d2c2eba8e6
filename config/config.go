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
	duckdbdefaults "github.com/syncd/syncd/load/duckdb/defaults"
	"github.com/syncd/syncd/models"
)

// Config is the whole of syncd.yaml after defaults and validation.
type Config struct {
	// Networks are the Affise networks synced into the one warehouse, in
	// the config's order (networks:); a config with the top-level api:
	// alone has one, named models.DefaultNetwork. Never empty.
	Networks  []*Network
	Warehouse Warehouse
	HTTP      HTTP
	Postgres  Postgres
	Verify    Verify
}

// Network is one Affise network: its own API settings and its streams
// (the shared streams: with the network's own streams: on top).
type Network struct {
	Name    string
	API     API
	Streams []*Stream // every stream, in models.Names() order

	keys keyNames // which key each setting came from, for messages
}

// keyNames names the keys a network's settings came from: the network's
// own (networks[i].api.page_size) where it set them, the shared ones
// (api.page_size) otherwise.
type keyNames struct {
	prefix  string          // "networks[i]."; "" for a config with api: alone
	api     map[string]bool // api keys the network's api: (or its override) set
	streams map[string]bool // "clicks" and "clicks.schedule" its streams: set
	keyFrom string          // where the key came from, for messages about it
}

func (k keyNames) apiKey(key string) string {
	if k.api[key] {
		return k.prefix + "api." + key
	}
	return "api." + key
}

// ownAPIKey is the network's own key even when it did not set it: what a
// missing setting should be given as.
func (k keyNames) ownAPIKey(key string) string { return k.prefix + "api." + key }

func (k keyNames) streamKey(stream, key string) string {
	own := k.streams[stream+"."+key] || (key == "" && k.streams[stream])
	name := "streams." + stream
	if own {
		name = k.prefix + name
	}
	if key != "" {
		name += "." + key
	}
	return name
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
	Kind string `yaml:"kind"` // duckdb | parquet
	// Path is the DuckDB file, or the lake's directory or s3://bucket/prefix.
	Path        string `yaml:"path"`
	MemoryLimit string `yaml:"memory_limit"`
	// Threads is DuckDB's worker threads (duckdb kind); see
	// DefaultWarehouseThreads.
	Threads int         `yaml:"threads"`
	S3      WarehouseS3 `yaml:"s3"`
	// ReportingCurrency is the top-level reporting_currency, which the
	// warehouse records for its converted views.
	ReportingCurrency string `yaml:"-"`
}

// WarehouseS3 is how a lake at an s3:// path is reached. Credentials are
// not here: they come from the AWS chain (environment, profiles, roles).
type WarehouseS3 struct {
	Endpoint  string `yaml:"endpoint"` // "" for AWS
	Region    string `yaml:"region"`
	PathStyle flag   `yaml:"path_style"`
}

// IsS3 says whether the warehouse is a lake on S3.
func (w Warehouse) IsS3() bool { return strings.HasPrefix(w.Path, "s3://") }

// DefaultWarehouseThreads is warehouse.threads' default (see
// duckdbdefaults.Threads for why one).
const DefaultWarehouseThreads = duckdbdefaults.Threads

// Default warehouse paths, by kind.
const (
	defaultDuckDBPath = "./data/affise.duckdb"
	defaultLakePath   = "./data/lake"
)

// HTTP is the daemon's listener.
type HTTP struct {
	Listen string `yaml:"listen"`
}

// Postgres is the daemon's Postgres wire endpoint, which BI tools read the
// warehouse through while the daemon writes it. Listen "" turns it off.
type Postgres struct {
	Listen   string `yaml:"listen"`
	User     string `yaml:"user"`
	Password string `yaml:"password"` // a secret: never echoed in errors
	TLSCert  string `yaml:"tls_cert"`
	TLSKey   string `yaml:"tls_key"`
}

// Verify is the daemon's scheduled check of the warehouse against Affise
// (syncd verify). Schedule "" turns it off.
type Verify struct {
	Schedule string `yaml:"schedule"`
	Days     whole  `yaml:"days"`
}

// Enabled says whether the daemon serves Postgres clients.
func (p Postgres) Enabled() bool { return p.Listen != "" }

// TLS says whether the endpoint speaks TLS (both files set).
func (p Postgres) TLS() bool { return p.TLSCert != "" && p.TLSKey != "" }

// Stream is one stream's settings.
type Stream struct {
	Name      string
	Enabled   bool
	Schedule  string
	StartDate time.Time // zero: the stream's default
	Lookback  time.Duration
	Slices    []string // stats_daily only
	// SettleWindow (conversions, affiliate keys): how far back by creation
	// date passes re-read, a slice each (see README).
	SettleWindow time.Duration
}

// Error is a configuration problem; the CLI maps it to exit code 2.
type Error struct {
	Msg string
	Err error // the cause, if any
}

func (e *Error) Error() string { return "config: " + e.Msg }

func (e *Error) Unwrap() error { return e.Err }

func errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Msg: err.Error(), Err: errors.Unwrap(err)}
}

// Network returns the network of that name (nil if there is none).
func (c *Config) Network(name string) *Network {
	for _, n := range c.Networks {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Several says whether the config has more than one network: then what
// syncd prints names the network of each row.
func (c *Config) Several() bool { return len(c.Networks) > 1 }

// NetworkNames lists the networks' names, in the config's order.
func (c *Config) NetworkNames() []string {
	out := make([]string, len(c.Networks))
	for i, n := range c.Networks {
		out[i] = n.Name
	}
	return out
}

// Stream returns the network's settings of a stream by name (nil if
// unknown).
func (n *Network) Stream(name string) *Stream {
	for _, s := range n.Streams {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// file is syncd.yaml as written: its yaml tags are the keys, so decoding
// refuses any other, and Keys lists them.
type file struct {
	API       apiFile   `yaml:"api"`
	Warehouse Warehouse `yaml:"warehouse"`
	HTTP      HTTP      `yaml:"http"`
	Postgres  Postgres  `yaml:"postgres"`
	Verify    Verify    `yaml:"verify"`
	// ReportingCurrency is the currency the *_rc columns convert money to.
	ReportingCurrency string `yaml:"reporting_currency"`
	// Streams are decoded one by one into streams: which keys a stream
	// takes depends on its declaration.
	Streams map[string]yaml.Node `yaml:"streams"`
	// Networks are decoded one by one into nets: each over the top-level
	// api and streams.
	Networks []networkFile `yaml:"networks"`

	streams     []*streamSettings // in models.Registry() order
	hasNetworks bool              // networks: is in the file (maybe empty)
	nets        []*netSettings
}

// networkFile is one item of networks: as written.
type networkFile struct {
	Name    string               `yaml:"name"`
	API     yaml.Node            `yaml:"api"`
	Streams map[string]yaml.Node `yaml:"streams"`
}

// netSettings is one network's settings: the top-level api and streams
// with the network's own on top, key by key.
type netSettings struct {
	name    string
	api     apiFile
	streams []*streamSettings
	keys    keyNames
	// configured are the streams named in streams: or the network's.
	configured map[string]bool
}

type apiFile struct {
	BaseURL           string   `yaml:"base_url"`
	Key               string   `yaml:"key"`
	Timezone          string   `yaml:"timezone"`
	PageSize          whole    `yaml:"page_size"`
	RequestsPerSecond number   `yaml:"requests_per_second"`
	Concurrency       whole    `yaml:"concurrency"`
	Timeout           duration `yaml:"timeout"`
	Role              string   `yaml:"role"`
	MaxRetries        whole    `yaml:"max_retries"`
}

type streamFile struct {
	Enabled   flag     `yaml:"enabled"`
	Schedule  string   `yaml:"schedule"`
	StartDate date     `yaml:"start_date"`
	Lookback  duration `yaml:"lookback"`
}

// streamSettings is one stream's settings. A stream decodes into the
// part of it that its declaration takes (keys): slices for a stream with
// default slices, settle_window for one with a default settle window,
// streamFile alone otherwise, which refuses the other keys.
type streamSettings struct {
	decl         *models.Stream
	streamFile   `yaml:",inline"`
	Slices       list     `yaml:"slices"`
	SettleWindow duration `yaml:"settle_window"`
	withSlices   slicesFile
	withSettle   settleFile
}

type slicesFile struct {
	*streamFile `yaml:",inline"`
	Slices      *list `yaml:"slices"`
}

type settleFile struct {
	*streamFile  `yaml:",inline"`
	SettleWindow *duration `yaml:"settle_window"`
}

func (s *streamSettings) keys() any {
	switch {
	case s.decl.Defaults.Slices != nil:
		return &slicesFile{streamFile: &s.streamFile, Slices: &s.Slices}
	case s.decl.Defaults.SettleWindow != 0:
		return &settleFile{streamFile: &s.streamFile, SettleWindow: &s.SettleWindow}
	}
	return &s.streamFile
}

// defaults holds every default, as DESIGN.md documents them; a stream's
// come from its declaration.
func defaults() *file {
	f := &file{
		API: apiFile{
			Timezone:          "UTC",
			PageSize:          500,
			RequestsPerSecond: 3,
			Concurrency:       3,
			Timeout:           duration(60 * time.Second),
			Role:              "admin",
			MaxRetries:        8,
		},
		Warehouse:         Warehouse{Kind: "duckdb", Path: defaultDuckDBPath, MemoryLimit: duckdbdefaults.MemoryLimit, Threads: DefaultWarehouseThreads, S3: WarehouseS3{Region: "us-east-1"}},
		HTTP:              HTTP{Listen: "127.0.0.1:9464"},
		Postgres:          Postgres{User: "syncd"},
		Verify:            Verify{Schedule: "@every 6h", Days: 7},
		ReportingCurrency: "USD",
	}
	for _, d := range models.Registry() {
		f.streams = append(f.streams, &streamSettings{
			decl:         d,
			streamFile:   streamFile{Enabled: true, Schedule: d.Defaults.Schedule, Lookback: duration(d.Defaults.Lookback)},
			Slices:       slices.Clone(d.Defaults.Slices),
			SettleWindow: duration(d.Defaults.SettleWindow),
		})
	}
	return f
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
			return nil, errorf("reading %s: %w", path, err)
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
	root, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	nets := networkNodes(root)
	if err := checkEnvNames(vars, nets); err != nil {
		return nil, err
	}
	from := map[string]string{} // dotted key -> the variable it came from
	// Overrides first: a ${VAR} in a value an override replaces need not
	// be set (api.key: ${AFFISE_API_KEY} with only SYNCD_API_KEY given).
	applyEnv(root, nets, lookup, from)
	if err := expandTree(root, "", expandLookup, from, nets.envName); err != nil {
		return nil, err
	}
	f := defaults()
	if err := f.decode(root); err != nil {
		return nil, err
	}
	c := f.config(from)
	if err := c.validate(local); err != nil {
		return nil, err
	}
	return c, nil
}

// parseYAML returns the top-level mapping, ready for the edits before
// decoding (see blockCopy); an empty file is an empty mapping.
func parseYAML(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
	}
	if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, errorf("expected a mapping at the top level (api: or networks:, warehouse:, streams:, http:, postgres:, verify:)")
	}
	return blockCopy(doc.Content[0]), nil
}

// decode fills f from the tree, over its defaults; each network's
// settings are the top-level ones with its own decoded on top.
func (f *file) decode(root *yaml.Node) error {
	if err := decodeStrict(root, "", f); err != nil {
		return err
	}
	if err := decodeStreams(f.streams, f.Streams, "streams"); err != nil {
		return err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "networks" {
			f.hasNetworks = true
		}
	}
	for i, nf := range f.Networks {
		prefix := fmt.Sprintf("networks[%d]", i)
		ns := &netSettings{name: nf.Name, api: f.API, configured: map[string]bool{},
			keys: keyNames{prefix: prefix + ".", api: map[string]bool{}, streams: map[string]bool{}}}
		if nf.API.Kind != 0 && nf.API.ShortTag() != "!!null" {
			if err := decodeStrict(&nf.API, prefix+".api", &ns.api); err != nil {
				return err
			}
			for j := 0; j+1 < len(nf.API.Content); j += 2 {
				ns.keys.api[nf.API.Content[j].Value] = true
			}
		}
		for _, s := range f.streams {
			c := *s
			c.Slices = slices.Clone(s.Slices)
			ns.streams = append(ns.streams, &c)
		}
		if err := decodeStreams(ns.streams, nf.Streams, prefix+".streams"); err != nil {
			return err
		}
		for name, n := range nf.Streams {
			ns.configured[name] = true
			ns.keys.streams[name] = true
			for j := 0; j+1 < len(n.Content); j += 2 {
				ns.keys.streams[name+"."+n.Content[j].Value] = true
			}
		}
		// A shared stream is the network's choice only where it says
		// enabled: the shared streams: of the example name currency_rates
		// for its schedule, which must not turn it on for an affiliate key.
		for name, n := range f.Streams {
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == "enabled" {
					ns.configured[name] = true
				}
			}
		}
		f.nets = append(f.nets, ns)
	}
	return nil
}

// decodeStreams decodes the streams written under prefix (streams: or a
// network's) into the settings of each, which hold what lies below.
func decodeStreams(settings []*streamSettings, written map[string]yaml.Node, prefix string) error {
	names := make([]string, 0, len(written))
	for name := range written {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(models.Names(), name) {
			return errorf("unknown key %s.%s: no such stream (streams are %s) (see config.example.yaml for every key)", prefix, name, strings.Join(models.Names(), ", "))
		}
	}
	for _, s := range settings {
		if n, ok := written[s.decl.Name]; ok {
			if err := decodeStrict(&n, prefix+"."+s.decl.Name, s.keys()); err != nil {
				return err
			}
		}
	}
	return nil
}

// config builds the Config; from (dotted key -> variable) says where each
// network's key came from.
func (f *file) config(from map[string]string) *Config {
	c := &Config{
		Warehouse: f.Warehouse,
		HTTP:      f.HTTP,
		Postgres:  f.Postgres,
		Verify:    f.Verify,
	}
	c.Warehouse.ReportingCurrency = f.ReportingCurrency
	if c.Warehouse.Kind == "parquet" && c.Warehouse.Path == defaultDuckDBPath {
		c.Warehouse.Path = defaultLakePath
	}
	nets := f.nets
	if !f.hasNetworks {
		configured := map[string]bool{}
		for name := range f.Streams {
			configured[name] = true
		}
		nets = []*netSettings{{name: models.DefaultNetwork, api: f.API, streams: f.streams, configured: configured}}
	}
	for _, ns := range nets {
		a := ns.api
		n := &Network{Name: ns.name, keys: ns.keys,
			API: API{BaseURL: a.BaseURL, Key: a.Key, Timezone: a.Timezone, PageSize: int(a.PageSize),
				RequestsPerSecond: float64(a.RequestsPerSecond), Concurrency: int(a.Concurrency),
				Timeout: time.Duration(a.Timeout), Role: a.Role, MaxRetries: int(a.MaxRetries)}}
		n.keys.keyFrom = from[n.keys.apiKey("key")]
		for _, s := range ns.streams {
			enabled := bool(s.Enabled)
			if !ns.configured[s.decl.Name] && s.decl.Defaults.AdminDefault && a.Role != "admin" {
				// On by default only where Affise serves it, so a config
				// written before the stream existed keeps working.
				enabled = false
			}
			n.Streams = append(n.Streams, &Stream{Name: s.decl.Name, Enabled: enabled, Schedule: s.Schedule,
				StartDate: time.Time(s.StartDate), Lookback: time.Duration(s.Lookback), Slices: s.Slices,
				SettleWindow: time.Duration(s.SettleWindow)})
		}
		c.Networks = append(c.Networks, n)
	}
	return c
}

func (w Warehouse) checkS3() error {
	if !w.IsS3() {
		if w.S3.Endpoint != "" || w.S3.PathStyle {
			return errorf("warehouse.s3 applies to s3:// paths only; warehouse.path %q is local", w.Path)
		}
		return nil
	}
	if w.Kind != "parquet" {
		return errorf("warehouse.path: %q is on S3, where only kind: parquet can live; set warehouse.kind: parquet or a local path", w.Path)
	}
	bucket, _, _ := strings.Cut(strings.TrimPrefix(w.Path, "s3://"), "/")
	if !s3Bucket.MatchString(bucket) {
		return errorf("warehouse.path: %q does not name a bucket: use s3://bucket/prefix", w.Path)
	}
	if strings.TrimSpace(w.S3.Region) == "" {
		return errorf("warehouse.s3.region is missing (e.g. us-east-1)")
	}
	if e := w.S3.Endpoint; e != "" {
		if strings.Contains(e, "@") {
			return errorf("warehouse.s3.endpoint must not hold credentials; they come from the AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), profiles or roles")
		}
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return errorf("warehouse.s3.endpoint: %q is not a server address like http://127.0.0.1:7070 or https://s3.example.com", e)
		}
	}
	return nil
}

// currencyCode is an ISO 4217 code, as Affise names currencies.
var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// s3Bucket is S3's bucket naming rule, loosely: what it refuses anyway.
var s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Lowest start a stream may ask for; older dates are almost surely typos.
var earliestStart = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *Config) validate(local bool) error {
	if len(c.Networks) == 0 {
		return errorf("networks: the list is empty; name at least one network (or remove networks: and use api: alone)")
	}
	seen := map[string]string{} // environment name -> network
	for i, n := range c.Networks {
		if len(c.Networks) > 1 || n.keys.prefix != "" {
			key := fmt.Sprintf("networks[%d].name", i)
			switch prev, dup := seen[envPart(n.Name)]; {
			case n.Name == "":
				return errorf("%s is missing (lowercase a-z, 0-9, '_' and '-', e.g. %s: alpha)", key, key)
			case !models.ValidNetworkName(n.Name):
				return errorf("%s %q: use lowercase a-z, 0-9, '_' and '-' (1 to 40 characters, not starting with '_' or '-')", key, n.Name)
			case dup && prev == n.Name:
				return errorf("networks: %q given twice", n.Name)
			case dup:
				return errorf("networks: %q and %q share the environment prefix SYNCD_NETWORKS_%s_; rename one", prev, n.Name, envPart(n.Name))
			}
			seen[envPart(n.Name)] = n.Name
		}
		if err := n.validate(local); err != nil {
			return err
		}
	}
	// One table per stream holds every network's rows: stats_daily's
	// columns are its slices, so they are the same for all.
	for _, n := range c.Networks[1:] {
		first := c.Networks[0]
		if !slices.Equal(n.Stream("stats_daily").Slices, first.Stream("stats_daily").Slices) {
			return errorf("%s: %v differ from network %s's %v; every network shares the stats_daily table, so set the slices once under the shared streams:",
				n.keys.streamKey("stats_daily", "slices"), n.Stream("stats_daily").Slices, first.Name, first.Stream("stats_daily").Slices)
		}
	}
	// Which kinds this build can open is load/warehouse's to say.
	if c.Warehouse.Kind != "duckdb" && c.Warehouse.Kind != "parquet" {
		return errorf("warehouse.kind: %q must be duckdb or parquet", c.Warehouse.Kind)
	}
	if strings.TrimSpace(c.Warehouse.Path) == "" {
		return errorf("warehouse.path is missing")
	}
	if !currencyCode.MatchString(c.Warehouse.ReportingCurrency) {
		return errorf("reporting_currency: %q is not a currency code like USD or EUR", c.Warehouse.ReportingCurrency)
	}
	if err := c.Warehouse.checkS3(); err != nil {
		return err
	}
	if !memoryLimit.MatchString(c.Warehouse.MemoryLimit) {
		return errorf("warehouse.memory_limit: %q is not a size like 512MB or 2GB", c.Warehouse.MemoryLimit)
	}
	if c.Warehouse.Threads < 1 || c.Warehouse.Threads > 1024 {
		return errorf("warehouse.threads: %d is not a thread count; use 1 (the default) up to the machine's cores", c.Warehouse.Threads)
	}
	if err := checkListen(c.HTTP.Listen); err != nil {
		return errorf("http.listen: %q is not host:port", c.HTTP.Listen)
	}
	if v := c.Verify; v.Schedule != "" {
		if _, err := cron.ParseStandard(v.Schedule); err != nil {
			return errorf("verify.schedule: %q is not a cron spec or @every duration (%v); \"\" turns the check off", v.Schedule, err)
		}
		if v.Days < 1 || v.Days > 366 {
			return errorf("verify.days: %d is outside 1..366", v.Days)
		}
	}
	return c.Postgres.check(local)
}

// validate checks one network's api and streams; each error names the key
// the bad value came from (the network's own, or the shared one).
func (n *Network) validate(local bool) error {
	a, k := &n.API, n.keys
	if local {
		// Checked when a command talks to the API.
	} else if a.BaseURL == "" {
		return errorf("%s is missing (the API address of your network, e.g. https://api-yournetwork.affise.com)", k.ownAPIKey("base_url"))
	}
	if err := checkBaseURL(k.apiKey("base_url"), a.BaseURL, local); err != nil {
		return err
	}
	if !local {
		if strings.TrimSpace(a.Key) == "" {
			if k.prefix == "" {
				return errorf("api.key is missing (set AFFISE_API_KEY or SYNCD_API_KEY, or api.key)")
			}
			return errorf("%s is missing (set %s, or %s)", k.ownAPIKey("key"), networkEnvName(n.Name, "key"), k.ownAPIKey("key"))
		}
		if err := extract.CheckKey(a.Key); err != nil {
			return errorf("%s%s %v", k.apiKey("key"), n.keySource(), err)
		}
	}
	var err error
	if a.Location, err = time.LoadLocation(a.Timezone); err != nil {
		return errorf("%s: %q is not a time zone name like UTC or Europe/Berlin", k.apiKey("timezone"), a.Timezone)
	}
	if a.PageSize < 1 || a.PageSize > 500 {
		return errorf("%s: %d is outside 1..500 (Affise's maximum is 500)", k.apiKey("page_size"), a.PageSize)
	}
	if a.RequestsPerSecond <= 0 || a.RequestsPerSecond > 1000 {
		return errorf("%s: %v must be above 0 and at most 1000", k.apiKey("requests_per_second"), a.RequestsPerSecond)
	}
	if a.Concurrency < 1 || a.Concurrency > 64 {
		return errorf("%s: %d is outside 1..64", k.apiKey("concurrency"), a.Concurrency)
	}
	if a.Timeout <= 0 {
		return errorf("%s must be above 0", k.apiKey("timeout"))
	}
	if a.MaxRetries < 0 || a.MaxRetries > 100 {
		return errorf("%s: %d is outside 0..100", k.apiKey("max_retries"), a.MaxRetries)
	}
	if a.Role != "admin" && a.Role != "affiliate" {
		return errorf("%s: %q must be admin or affiliate", k.apiKey("role"), a.Role)
	}
	tomorrow := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	enabled := 0
	for _, s := range n.Streams {
		key := func(sub string) string { return k.streamKey(s.Name, sub) }
		if !s.Enabled {
			continue
		}
		enabled++
		if _, err := cron.ParseStandard(s.Schedule); err != nil {
			return errorf("%s: %q is not a cron spec or @every duration (%v)", key("schedule"), s.Schedule, err)
		}
		if !s.StartDate.IsZero() {
			if s.StartDate.Before(earliestStart) {
				return errorf("%s: %s is before 2010-01-01", key("start_date"), s.StartDate.Format(time.DateOnly))
			}
			if !s.StartDate.Before(tomorrow) {
				return errorf("%s: %s is in the future", key("start_date"), s.StartDate.Format(time.DateOnly))
			}
		}
		if s.Lookback > 90*24*time.Hour {
			return errorf("%s: %s is more than 90 days", key("lookback"), s.Lookback)
		}
		d, err := models.Lookup(s.Name)
		if err != nil {
			return errorf("%s: %v", key(""), err)
		}
		if d.Defaults.Slices != nil {
			if _, err := d.Model(s.Slices); err != nil {
				return errorf("%s: %v", key("slices"), err)
			}
		}
		if d.Defaults.SettleWindow != 0 && (s.SettleWindow < 0 || s.SettleWindow > 366*24*time.Hour) {
			return errorf("%s: %s is outside 0..366 days (0 turns the re-read off)", key("settle_window"), s.SettleWindow)
		}
		if a.Role == "affiliate" && d.AdminOnly {
			own := k.prefix + "streams." + s.Name
			return errorf("%s: Affise serves %s to admin keys only; set %s.enabled: false for %s affiliate", key(""), s.Name, own, k.apiKey("role"))
		}
	}
	if enabled == 0 {
		if k.prefix != "" {
			return errorf("network %s: every stream is disabled; enable at least one under streams: or %sstreams:", n.Name, k.prefix)
		}
		return errorf("every stream is disabled; enable at least one under streams:")
	}
	return nil
}

// APISetting names the config key a setting of the network's api came
// from, for messages that ask the user to fix it: networks[1].api.key where
// the network set it, api.key where the shared api: did.
func (n *Network) APISetting(key string) string { return n.keys.apiKey(key) }

// keySource is " (from X)" when the key came from a variable.
func (n *Network) keySource() string {
	if n.keys.keyFrom == "" {
		return ""
	}
	return " (from " + n.keys.keyFrom + ")"
}

func checkBaseURL(key, raw string, local bool) error {
	if raw == "" && local {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errorf("%s: %q is not an http(s) URL", key, raw)
	}
	if u.User != nil || u.RawQuery != "" {
		return errorf("%s must not carry credentials or a query; put the key in %s", key, strings.TrimSuffix(key, "base_url")+"key")
	}
	return nil
}

// check validates the postgres section; commands that only read the
// warehouse (local) need neither its password nor its key files. The
// password's value never appears in a message: only which rule it
// breaks.
func (p Postgres) check(local bool) error {
	if (p.TLSCert == "") != (p.TLSKey == "") {
		return errorf("postgres.tls_cert and postgres.tls_key go together: set both for TLS, or neither")
	}
	if !p.Enabled() {
		return nil
	}
	if err := checkListen(p.Listen); err != nil {
		return errorf("postgres.listen: %q is not host:port (e.g. 127.0.0.1:5433)", p.Listen)
	}
	if strings.TrimSpace(p.User) == "" || strings.ContainsFunc(p.User, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errorf("postgres.user: %q is not a user name (e.g. syncd)", p.User)
	}
	if local {
		// The daemon's secret and key files may be readable by its own
		// user and environment only.
		return nil
	}
	if p.Password == "" {
		return errorf("postgres.password is missing: clients must log in when postgres.listen is set (e.g. password: ${SYNCD_PG_PASSWORD}, or set SYNCD_POSTGRES_PASSWORD)")
	}
	for _, r := range p.Password {
		// SCRAM clients normalise other characters (SASLprep) in ways
		// that differ between drivers; printable ASCII is the same in all.
		if r < 0x20 || r > 0x7e {
			return errorf("postgres.password: use printable ASCII characters only (no spaces at the ends, line breaks or accents)")
		}
	}
	if strings.TrimSpace(p.Password) != p.Password {
		return errorf("postgres.password: use printable ASCII characters only (no spaces at the ends, line breaks or accents)")
	}
	for _, file := range []struct{ key, path string }{{"postgres.tls_cert", p.TLSCert}, {"postgres.tls_key", p.TLSKey}} {
		if file.path == "" {
			continue
		}
		f, err := os.Open(file.path)
		if err != nil {
			return errorf("%s: %w", file.key, err)
		}
		_ = f.Close()
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
