package config

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
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
// in from which variable each key came from: SYNCD_API_* and the like for
// the top-level keys, SYNCD_NETWORKS_<NAME>_API_* for a network's api.
func applyEnv(root *yaml.Node, nets networks, lookup func(string) (string, bool), from map[string]string) {
	for _, key := range Keys() {
		if v, ok := lookup(EnvName(key)); ok {
			setPath(root, strings.Split(key, "."), envValue(v))
			from[key] = EnvName(key)
		}
	}
	for i, n := range nets {
		if n.name == "" {
			continue
		}
		for _, key := range apiKeys() {
			name := networkEnvName(n.name, key)
			if v, ok := lookup(name); ok {
				setPath(n.node, []string{"api", key}, envValue(v))
				from[fmt.Sprintf("networks[%d].api.%s", i, key)] = name
			}
		}
	}
}

// networks are the items of networks: in the tree, with the names they
// were written with (before ${VAR} expansion), for the overrides.
type networks []struct {
	name string
	node *yaml.Node
}

// networkNodes finds the networks: items of the top-level mapping root.
func networkNodes(root *yaml.Node) networks {
	var out networks
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "networks" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		out = nil // a repeated key: the last wins, as foldRepeats has it
		for _, item := range root.Content[i+1].Content {
			n := struct {
				name string
				node *yaml.Node
			}{node: item}
			for j := 0; item.Kind == yaml.MappingNode && j+1 < len(item.Content); j += 2 {
				if item.Content[j].Value == "name" && item.Content[j+1].Kind == yaml.ScalarNode {
					n.name = item.Content[j+1].Value
				}
			}
			out = append(out, n)
		}
	}
	return out
}

// envName is the variable that overrides a dotted key (networks[i].api.x
// included); "" for a key no variable overrides.
func (nets networks) envName(key string) string {
	rest, ok := strings.CutPrefix(key, "networks[")
	if !ok {
		return EnvName(key)
	}
	idx, sub, _ := strings.Cut(rest, "].api.")
	i, err := strconv.Atoi(idx)
	if err != nil || sub == "" || i >= len(nets) || nets[i].name == "" {
		return ""
	}
	return networkEnvName(nets[i].name, sub)
}

// apiKeys are the keys of an api: section.
func apiKeys() []string { return fieldKeys("", reflect.TypeFor[apiFile]()) }

// envPart is a network's name as a variable's name holds it.
func envPart(name string) string { return strings.ToUpper(strings.ReplaceAll(name, "-", "_")) }

// networkEnvName is the variable that overrides key of network's api:
// SYNCD_NETWORKS_ALPHA_API_KEY.
func networkEnvName(network, key string) string {
	return "SYNCD_NETWORKS_" + envPart(network) + "_API_" + strings.ToUpper(key)
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
func expandTree(n *yaml.Node, path string, lookup func(string) (string, bool), from map[string]string, envName func(string) string) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := join(path, n.Content[i].Value)
			if _, overridden := from[key]; overridden {
				continue
			}
			if err := expandTree(n.Content[i+1], key, lookup, from, envName); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			if err := expandTree(item, itemPath(path, i), lookup, from, envName); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		out, ref, err := expand(path, n.Value, lookup, envName(path))
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
func expand(key, s string, lookup func(string) (string, bool), override string) (out, ref string, err error) {
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
	switch {
	case missing != "" && override == "":
		return "", "", errorf("%s refers to ${%s}, which is not set in the environment (set it)", key, missing)
	case missing != "":
		return "", "", errorf("%s refers to ${%s}, which is not set in the environment (set it, or override %s with %s)", key, missing, key, override)
	}
	return out, ref, nil
}

// envSections are the SYNCD_ prefixes of config sections. A variable under
// one that names no key is a typo to report, like an unknown YAML key;
// other SYNCD_ variables (SYNCD_CONFIG) are not settings.
var envSections = []string{"SYNCD_API_", "SYNCD_WAREHOUSE_", "SYNCD_HTTP_", "SYNCD_POSTGRES_", "SYNCD_VERIFY_", "SYNCD_STREAMS_", "SYNCD_NETWORKS_"}

func checkEnvNames(vars map[string]string, nets networks) error {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[EnvName(k)] = true
	}
	for _, n := range nets {
		for _, k := range apiKeys() {
			known[networkEnvName(n.name, k)] = true
		}
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
	return errorf("%s; unset it or fix its name (see config.example.yaml for every key)", describeUnknownEnv(unknown[0], nets))
}

// describeUnknownEnv says why name overrides nothing: no such stream, or
// no such key (shown as the dotted key it would have overridden).
func describeUnknownEnv(name string, nets networks) string {
	if rest, ok := strings.CutPrefix(name, "SYNCD_NETWORKS_"); ok {
		var names []string
		for _, n := range nets {
			if n.name == "" {
				continue
			}
			names = append(names, n.name)
			if key, ok := strings.CutPrefix(rest, envPart(n.name)+"_API_"); ok {
				return fmt.Sprintf("environment variable %s overrides no config key (there is no api.%s)", name, strings.ToLower(key))
			}
		}
		if len(names) == 0 {
			return fmt.Sprintf("environment variable %s names a network, but the config has no networks: list", name)
		}
		return fmt.Sprintf("environment variable %s names no network (SYNCD_NETWORKS_<NAME>_API_<KEY>; networks are %s)", name, strings.Join(names, ", "))
	}
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
