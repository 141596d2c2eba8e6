package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes n into out with yaml's known-field check, so a key
// out's yaml tags do not name is an error. prefix is n's dotted key.
//
// yaml's errors give only a line, and only Decoder (not Node.Decode) checks
// known fields; so n is written out in block style, where each line holds
// one key, and read back to learn which key each line holds.
func decodeStrict(n *yaml.Node, prefix string, out any) error {
	text, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Errorf("config: re-encoding %s: %w", orTop(prefix), err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return fmt.Errorf("config: re-reading %s: %w", orTop(prefix), err)
	}
	at := map[int]string{1: prefix} // the value itself, when it is no mapping
	indexLines(&doc, prefix, at)
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	err = dec.Decode(out)
	var te *yaml.TypeError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &te):
		return explain(te.Errors, at)
	default:
		return errorf("%s: %w", orTop(prefix), err)
	}
}

// blockCopy copies a parsed tree for decodeStrict and the edits before it:
// block style puts one key on a line; each alias becomes a copy of what it
// names, so an override or ${VAR} changes one key, not all sharing an
// anchor; and a key written twice is folded into one (see foldRepeats).
func blockCopy(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return blockCopy(n.Alias)
	}
	c := *n
	c.Anchor, c.Alias = "", nil
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		c.Style &^= yaml.FlowStyle
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = blockCopy(child)
	}
	if c.Kind == yaml.MappingNode {
		foldRepeats(&c)
	}
	return &c
}

// foldRepeats keeps one of each key of mapping m: the later value wins and
// two mappings merge key by key. syncd has always read a repeated key so,
// and yaml's decoder would refuse it.
func foldRepeats(m *yaml.Node) {
	var out []*yaml.Node
	at := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		j, seen := at[k.Value]
		switch {
		case !seen:
			at[k.Value] = len(out)
			out = append(out, k, v)
		case out[j+1].Kind == yaml.MappingNode && v.Kind == yaml.MappingNode:
			merged := *out[j+1]
			merged.Content = append(slices.Clone(merged.Content), v.Content...)
			foldRepeats(&merged)
			out[j+1] = &merged
		default:
			out[j+1] = v
		}
	}
	m.Content = out
}

// indexLines records, for each line of a block-style tree, the dotted key
// on it; a list's items are its key's.
func indexLines(n *yaml.Node, path string, at map[int]string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, at)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			at[c.Line] = itemPath(path, i)
			indexLines(c, itemPath(path, i), at)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := join(path, n.Content[i].Value)
			at[n.Content[i].Line] = key
			indexLines(n.Content[i+1], key, at)
		}
	}
}

var (
	errLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
	errUnknown   = regexp.MustCompile(`^field \S+ not found in type`)
	errUnmarshal = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `.*`)? into (\\S+)$")
)

// explain turns yaml's first error into one line naming the key, the way
// the rest of the config's errors read. Unknown keys come first: a typo is
// likelier the cause than the value next to it.
func explain(errs []string, at map[int]string) error {
	first := errs[0]
	for _, e := range errs {
		if m := errLine.FindStringSubmatch(e); m != nil && errUnknown.MatchString(m[2]) {
			first = e
			break
		}
	}
	m := errLine.FindStringSubmatch(first)
	if m == nil {
		return errorf("%s", first)
	}
	line, _ := strconv.Atoi(m[1])
	key, msg := at[line], m[2]
	switch u := errUnmarshal.FindStringSubmatch(msg); {
	case errUnknown.MatchString(msg):
		return errorf("unknown key %s (see config.example.yaml for every key)", key)
	case u == nil:
		return errorf("%s: %s", orTop(key), msg)
	case strings.HasPrefix(u[2], "config.") || strings.HasPrefix(u[2], "map["):
		return errorf("%s: expected a mapping of keys", orTop(key))
	case u[1] == "map":
		// A mapping's line is its first key's.
		return errorf("%s: expected a single value, got a mapping", parent(key))
	default:
		return errorf("%s: expected a single value, got a list", key)
	}
}

// itemPath is the key of a list's item: networks[1] for the networks, each
// a section of its own; any other list's items are its key's.
func itemPath(path string, i int) string {
	if path == "networks" {
		return fmt.Sprintf("%s[%d]", path, i)
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func parent(key string) string {
	if i := strings.LastIndex(key, "."); i >= 0 {
		return key[:i]
	}
	return key
}

func orTop(key string) string {
	if key == "" {
		return "the top level"
	}
	return key
}

// The leaf types below read a scalar's text as the settings always have,
// so a quoted "3", a ${VAR} and a SYNCD_* override parse alike. Each error
// is a yaml.TypeError with the node's line, for explain to name the key.

type (
	whole    int
	number   float64
	flag     bool
	duration time.Duration
	date     time.Time
	list     []string
)

// scalar hands n's text to parse; want completes "%q is not ..." when
// parse refuses it.
func scalar(n *yaml.Node, want string, parse func(string) error) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if err := parse(s); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not %s", n.Line, s, want)}}
	}
	return nil
}

func (w *whole) UnmarshalYAML(n *yaml.Node) error {
	return scalar(n, "a whole number", func(s string) error {
		v, err := strconv.Atoi(s)
		*w = whole(v)
		return err
	})
}

func (f *number) UnmarshalYAML(n *yaml.Node) error {
	return scalar(n, "a number", func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		*f = number(v)
		return err
	})
}

func (b *flag) UnmarshalYAML(n *yaml.Node) error {
	return scalar(n, "true or false", func(s string) error {
		v, err := strconv.ParseBool(s)
		*b = flag(v)
		return err
	})
}

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	return scalar(n, "a duration like 90s, 6h or 7d", func(s string) error {
		v, err := parseDuration(s)
		*d = duration(v)
		return err
	})
}

// An empty date is the stream's default start.
func (d *date) UnmarshalYAML(n *yaml.Node) error {
	return scalar(n, "a date like 2025-01-31", func(s string) error {
		if s == "" {
			*d = date{}
			return nil
		}
		v, err := time.Parse(time.DateOnly, s)
		*d = date(v)
		return err
	})
}

// A list is a YAML list or one comma-separated value, which is how a
// SYNCD_* override writes one.
func (l *list) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return scalar(n, "a list", func(s string) error { *l = splitList(s); return nil })
	}
	items := make([]string, len(n.Content))
	for i, item := range n.Content {
		if item.Kind != yaml.ScalarNode || item.Decode(&items[i]) != nil {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: expected a list of plain values", n.Line)}}
		}
	}
	*l = items
	return nil
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

// ParseDuration accepts Go durations plus whole days ("7d", "2d12h").
func ParseDuration(key, v string) (time.Duration, error) {
	d, err := parseDuration(v)
	if err != nil {
		return 0, errorf("%s: %q is not a duration like 90s, 6h or 7d", key, v)
	}
	return d, nil
}

func parseDuration(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	var days time.Duration
	if i := strings.Index(s, "d"); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: bad days", v)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return days + d, nil
}

// fieldKeys lists the dotted keys t's yaml tags name under prefix: its
// sections' keys, and its leaves (the types that decode themselves).
func fieldKeys(prefix string, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	unmarshaler := reflect.TypeFor[yaml.Unmarshaler]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case opts == "inline":
			keys = append(keys, fieldKeys(prefix, f.Type)...)
		case name == "" || name == "-" || f.Type.Kind() == reflect.Map || (f.Type.Kind() == reflect.Slice && derefKind(f.Type.Elem()) == reflect.Struct):
			// Not a key, or keys decoded on their own (streams, networks).
		case derefKind(f.Type) == reflect.Struct && !reflect.PointerTo(deref(f.Type)).Implements(unmarshaler):
			keys = append(keys, fieldKeys(join(prefix, name), f.Type)...)
		default:
			keys = append(keys, join(prefix, name))
		}
	}
	return keys
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func derefKind(t reflect.Type) reflect.Kind { return deref(t).Kind() }
