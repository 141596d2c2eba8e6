package models_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/internal/affisesim"
	"github.com/syncd/syncd/models"
)

// The registry, the config's stream keys (as parsed and as documented in
// config.example.yaml), the simulator's endpoints and the README's table
// list name the same streams: a stream added to one and not the others
// fails here.
func TestEveryListNamesTheRegistrysStreams(t *testing.T) {
	want := models.Names()
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return slices.Compact(s) }
	same := func(what string, got []string) {
		t.Helper()
		if g, w := sorted(got), sorted(want); !slices.Equal(g, w) {
			t.Errorf("%s name %v, the registry %v", what, g, w)
		}
	}

	var keyed []string
	for _, k := range config.Keys() {
		if parts := strings.Split(k, "."); parts[0] == "streams" {
			keyed = append(keyed, parts[1])
		}
	}
	same("config.Keys", keyed)

	example, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Streams map[string]any `yaml:"streams"`
	}
	if err := yaml.Unmarshal(example, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for name := range doc.Streams {
		documented = append(documented, name)
	}
	same("config.example.yaml's streams", documented)

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section, _, _ := strings.Cut(strings.SplitN(string(readme), "\n## Tables\n", 2)[1], "\n## ")
	var tables []string
	row := regexp.MustCompile("(?m)^\\| ([^|]*)\\|")
	name := regexp.MustCompile("`([a-z_]+)`")
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		for _, n := range name.FindAllStringSubmatch(m[1], -1) {
			if !strings.HasPrefix(n[1], "_") {
				tables = append(tables, n[1])
			}
		}
	}
	same("the README's table list", tables)

	var endpoints []string
	for _, s := range models.Registry() {
		endpoints = append(endpoints, s.Endpoint)
	}
	if g, w := sorted(affisesim.Endpoints()), sorted(endpoints); !slices.Equal(g, w) {
		t.Errorf("the simulator serves %v, the registry reads %v", g, w)
	}
	for _, s := range affisesim.Streams() {
		if !slices.Contains(want, s) {
			t.Errorf("the simulator's data set %q is no stream of the registry", s)
		}
	}
}
