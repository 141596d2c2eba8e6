package config

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/syncd/syncd/models"
)

// Keys lists every dotted key syncd.yaml accepts: the yaml tags of the
// settings defaults() fills, which are the keys decoding accepts.
func Keys() []string {
	f := defaults()
	keys := fieldKeys("", reflect.TypeOf(*f))
	for _, s := range f.streams {
		keys = append(keys, fieldKeys("streams."+s.decl.Name, reflect.TypeOf(s.keys()).Elem())...)
	}
	return keys
}

// EnvName is the SYNCD_* variable that overrides a dotted key.
func EnvName(key string) string {
	return "SYNCD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// applyEnv writes each SYNCD_* override into the tree as if syncd.yaml had
// it, so it is decoded and checked like the file's own values, and records
// in from which variable each key came from.
func applyEnv(root *yaml.Node, lookup func(string) (string, bool), from map[string]string) {
	for _, key := range Keys() {
		if v, ok := lookup(EnvName(key)); ok {
			setPath(root, strings.Split(key, "."), envValue(v))
			from[key] = EnvName(key)
		}
	}
}

func setPath(m *yaml.Node, path []string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != path[0] {
			continue
		}
		if len(path) == 1 {
			m.Content[i+1] = v
			return
		}
		if m.Content[i+1].Kind != yaml.MappingNode {
			m.Content[i+1] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		setPath(m.Content[i+1], path[1:], v)
		return
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: path[0]}
	if len(path) == 1 {
		m.Content = append(m.Content, key, v)
		return
	}
	child := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, key, child)
	setPath(child, path[1:], v)
}

// envValue is a value from the environment as a scalar that decodes to
// exactly its bytes: as !!binary it survives decodeStrict's re-encoding
// whatever it holds ("null", a line break, invalid UTF-8), and the leaf
// types parse the text as they would the file's.
func envValue(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!binary", Value: base64.StdEncoding.EncodeToString([]byte(v))}
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandTree expands ${VAR} in every value written in the YAML; keys in
// from (the SYNCD_* overrides) are taken as they are, so a ${VAR} an
// override replaces need not be set. Each expanded key records in from the
// variable it read, to say where a bad value came from.
func expandTree(n *yaml.Node, path string, lookup func(string) (string, bool), from map[string]string) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := join(path, n.Content[i].Value)
			if _, overridden := from[key]; overridden {
				continue
			}
			if err := expandTree(n.Content[i+1], key, lookup, from); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if err := expandTree(item, path, lookup, from); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		out, ref, err := expand(path, n.Value, lookup)
		if err != nil {
			return err
		}
		if ref != "" {
			*n = *envValue(out)
			from[path] = ref
		}
	}
	return nil
}

// expand replaces ${VAR} in one scalar; an unset variable is an error so a
// missing secret is caught at start, not as a 401 an hour later. ref is the
// first variable referred to.
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

// envSections are the SYNCD_ prefixes of config sections. A variable under
// one that names no key is a typo to report, like an unknown YAML key;
// other SYNCD_ variables (SYNCD_CONFIG) are not settings.
var envSections = []string{"SYNCD_API_", "SYNCD_WAREHOUSE_", "SYNCD_HTTP_", "SYNCD_POSTGRES_", "SYNCD_VERIFY_", "SYNCD_STREAMS_"}

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
	for _, k := range fieldKeys("", reflect.TypeFor[streamSettings]()) {
		if s, ok := strings.CutSuffix(rest, "_"+strings.ToUpper(k)); ok {
			stream = s
			break
		}
	}
	return fmt.Sprintf("environment variable %s: no such stream %q (streams are %s)", name, strings.ToLower(stream), strings.Join(models.Names(), ", "))
}
