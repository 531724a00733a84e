package spec

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"gantry.dev/gantry/internal/yamlfile"
)

// The keys of each mapping, taken from the yaml tags so that the decoder,
// the JSON Schema and the Go types cannot disagree.
var (
	pipelineKeys = keysOf(reflect.TypeFor[Pipeline]())
	defaultsKeys = keysOf(reflect.TypeFor[Defaults]())
	stageKeys    = keysOf(reflect.TypeFor[Stage]())
	stepKeys     = keysOf(reflect.TypeFor[Step]())
	whenKeys     = keysOf(reflect.TypeFor[When]())
	retryKeys    = keysOf(reflect.TypeFor[Retry]())
	gateKeys     = keysOf(reflect.TypeFor[StageGate]())
)

// keyPlaces says where each key belongs, to tell a user who put one at the
// wrong level where it goes.
var keyPlaces = []struct {
	place string
	keys  []string
}{
	{"at the top of the file", pipelineKeys},
	{"under defaults", defaultsKeys},
	{"in a stage", stageKeys},
	{"in a step", stepKeys},
	{"under when", whenKeys},
	{"under retry", retryKeys},
	{"under gate", gateKeys},
}

// extensionPrefix starts top-level keys that Gantry ignores, so that a
// file can hold anchors for aliases to refer to (as in Compose files).
const extensionPrefix = "x-"

var (
	stageNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	actionRE      = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	envNameRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	matrixKeyRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	matrixValueRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

const (
	maxStepName  = 100
	maxStageName = 63
)

// decoder turns the YAML node tree into a Pipeline, collecting every error
// on the way instead of stopping at the first.
type decoder struct {
	yamlfile.Reporter
	data    []byte
	lines   []string
	actions []string // sorted; nil accepts any well-formed name
	steps   []*stepInfo
	defExec *yaml.Node // defaults.executor, for the docker image check
}

// stepInfo keeps what the cross-step checks need to point at.
type stepInfo struct {
	stage    int // index in Pipeline.Stages
	index    int // index in Stage.Steps
	step     *Step
	node     *yaml.Node // where the step is written
	name     *yaml.Node
	needs    []*yaml.Node
	executor *yaml.Node
	secrets  []*yaml.Node
	env      map[string]bool
	variants int
}

func newDecoder(file string, data []byte, opts Options) *decoder {
	d := &decoder{Reporter: yamlfile.Reporter{File: file}, data: data}
	if opts.Actions != nil {
		d.actions = slices.Compact(slices.Sorted(slices.Values(opts.Actions)))
		if d.actions == nil {
			d.actions = []string{} // none, which is not "any"
		}
	}
	return d
}

func (d *decoder) parse() *Pipeline {
	if len(d.data) > MaxFileSize {
		d.ErrorAt(1, 1, "the file is larger than 1 MiB (%d bytes), the limit for a pipeline file", MaxFileSize)
		return nil
	}
	if !d.CheckText(d.data, "a pipeline file") {
		return nil
	}
	d.lines = strings.Split(string(d.data), "\n")
	root := d.document()
	if root == nil || !d.CheckSize(root, MaxNodes) {
		return nil
	}
	p := d.pipeline(root)
	d.check(p)
	return p
}

// entry is one key and value of a mapping.
type entry struct {
	key, val *yaml.Node
	merged   bool // it came in through a << merge key
}

// mapping checks that n is a mapping and returns its entries, with merge
// keys (<<) expanded and duplicate keys reported. expected describes the
// mapping for the type error.
func (d *decoder) mapping(n *yaml.Node, key, expected string) ([]entry, bool) {
	m := yamlfile.Resolve(n)
	if m.Kind != yaml.MappingNode {
		d.Errorf(n, "%s: expected %s, got %s", key, expected, yamlfile.Describe(n))
		return nil, false
	}
	all := d.entries(m, false)
	seen := map[string]*yaml.Node{}
	out := all[:0]
	for _, e := range all {
		if prev, dup := seen[e.key.Value]; dup {
			if !e.merged {
				d.Errorf(e.key, "duplicate key %q: it is already set at line %d", e.key.Value, prev.Line)
			}
			continue
		}
		seen[e.key.Value] = e.key
		out = append(out, e)
	}
	return out, true
}

// entries lists a mapping's own keys, then those merged in by <<, so that
// own keys win and earlier merges win over later ones.
func (d *decoder) entries(m *yaml.Node, merged bool) []entry {
	var own, more []entry
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		kr := yamlfile.Resolve(k)
		if kr.Kind == yaml.ScalarNode && kr.Value == "<<" && (kr.Tag == "!!merge" || kr.Tag == "tag:yaml.org,2002:merge") {
			more = append(more, d.merge(v)...)
			continue
		}
		if kr.Kind != yaml.ScalarNode {
			d.Errorf(k, "expected a key name, got %s", yamlfile.Describe(k))
			continue
		}
		own = append(own, entry{key: kr, val: v, merged: merged})
	}
	return append(own, more...)
}

func (d *decoder) merge(v *yaml.Node) []entry {
	r := yamlfile.Resolve(v)
	switch r.Kind {
	case yaml.MappingNode:
		return d.entries(r, true)
	case yaml.SequenceNode:
		var out []entry
		for _, item := range r.Content {
			if ir := yamlfile.Resolve(item); ir.Kind == yaml.MappingNode {
				out = append(out, d.entries(ir, true)...)
			} else {
				d.Errorf(item, "<<: expected a mapping to merge, got %s", yamlfile.Describe(item))
			}
		}
		return out
	}
	d.Errorf(v, "<<: expected a mapping or a list of mappings to merge, got %s", yamlfile.Describe(v))
	return nil
}

// fields is mapping for a struct: it also reports keys that are not in
// known, with the key the user probably meant.
func (d *decoder) fields(n *yaml.Node, key, expected, where string, known []string) ([]entry, bool) {
	entries, ok := d.mapping(n, key, expected)
	out := entries[:0]
	for _, e := range entries {
		k := e.key.Value
		switch {
		case slices.Contains(known, k):
			out = append(out, e)
		case where == "at the top of the file" && strings.HasPrefix(k, extensionPrefix):
			// Ignored: a place for anchors.
		default:
			d.unknownKey(e.key, where, known)
		}
	}
	return out, ok
}

func (d *decoder) unknownKey(k *yaml.Node, where string, known []string) {
	name := k.Value
	if s := suggest(name, known); s != "" {
		d.Errorf(k, "unknown key %q %s: did you mean %q?", name, where, s)
		return
	}
	if places := placesOf(name, known); len(places) > 0 {
		d.Errorf(k, "unknown key %q %s: %s belongs %s", name, where, name, yamlfile.OrList(places))
		return
	}
	if syn := synonyms[strings.ToLower(name)]; syn != "" {
		if places := placesOf(syn, known); len(places) > 0 {
			d.Errorf(k, "unknown key %q %s: did you mean %q? %s belongs %s", name, where, syn, syn, yamlfile.OrList(places))
			return
		}
	}
	hint := ""
	if slices.Equal(known, pipelineKeys) {
		hint = fmt.Sprintf(" (keys starting with %s are ignored, for anchors)", extensionPrefix)
	}
	d.Errorf(k, "unknown key %q %s; expected %s%s", name, where, yamlfile.OrList(known), hint)
}

// placesOf lists where key belongs, other than the mapping whose keys are
// known.
func placesOf(key string, known []string) []string {
	var places []string
	for _, p := range keyPlaces {
		if slices.Contains(p.keys, key) && !slices.Equal(p.keys, known) {
			places = append(places, p.place)
		}
	}
	return places
}

// str reads a string. Numbers are taken as written: name: 1 is "1".
func (d *decoder) str(n *yaml.Node, key string) (string, bool) {
	r := yamlfile.Resolve(n)
	if r.Kind == yaml.ScalarNode {
		switch r.ShortTag() {
		case "!!str", "!!int", "!!float":
			return r.Value, true
		}
	}
	d.Errorf(n, "%s: expected a string, got %s", key, yamlfile.Describe(n))
	return "", false
}

// scalar reads a value that becomes a string: a string, number, boolean or
// date, as written.
func (d *decoder) scalar(n *yaml.Node, key string) (string, bool) {
	r := yamlfile.Resolve(n)
	if r.Kind == yaml.ScalarNode {
		switch r.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
			return r.Value, true
		case "!!null":
			d.Errorf(n, `%s: expected a value, got an empty value; write "" for an empty string`, key)
			return "", false
		}
	}
	d.Errorf(n, "%s: expected a string, number or boolean, got %s", key, yamlfile.Describe(n))
	return "", false
}

// strings reads a string or a list of strings, returning the nodes of the
// items for positions.
func (d *decoder) strings(n *yaml.Node, key string) ([]string, []*yaml.Node, bool) {
	r := yamlfile.Resolve(n)
	switch r.Kind {
	case yaml.ScalarNode:
		if s, ok := d.str(n, key); ok {
			return []string{s}, []*yaml.Node{n}, true
		}
		return nil, nil, false
	case yaml.SequenceNode:
		var out []string
		var nodes []*yaml.Node
		ok := true
		for i, item := range r.Content {
			ir := yamlfile.Resolve(item)
			if ir.Kind != yaml.ScalarNode {
				d.Errorf(item, "%s[%d]: expected a string, got %s", key, i, yamlfile.Describe(item))
				ok = false
				continue
			}
			s, good := d.str(item, fmt.Sprintf("%s[%d]", key, i))
			if !good {
				ok = false
				continue
			}
			out = append(out, s)
			nodes = append(nodes, item)
		}
		return out, nodes, ok
	}
	d.Errorf(n, "%s: expected a string or a list of strings, got %s", key, yamlfile.Describe(n))
	return nil, nil, false
}

func (d *decoder) boolean(n *yaml.Node, key string) bool {
	r := yamlfile.Resolve(n)
	if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!bool" {
		var b bool
		if r.Decode(&b) == nil {
			return b
		}
	}
	d.Errorf(n, "%s: expected true or false, got %s", key, yamlfile.Describe(n))
	return false
}

func (d *decoder) integer(n *yaml.Node, key string, lo, hi int) (int, bool) {
	r := yamlfile.Resolve(n)
	if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!int" {
		var i int
		if r.Decode(&i) == nil && i >= lo && i <= hi {
			return i, true
		}
		d.Errorf(n, "%s: expected a whole number from %d to %d, got %s", key, lo, hi, r.Value)
		return 0, false
	}
	d.Errorf(n, "%s: expected a whole number, got %s", key, yamlfile.Describe(n))
	return 0, false
}

func (d *decoder) duration(n *yaml.Node, key string) Duration {
	r := yamlfile.Resolve(n)
	const form = "a number and a unit (s, m or h), such as 90s, 10m or 1h30m"
	if r.Kind == yaml.ScalarNode && (r.ShortTag() == "!!int" || r.ShortTag() == "!!float") {
		d.Errorf(n, "%s: %s has no unit: write %ss, %sm or %sh", key, r.Value, r.Value, r.Value, r.Value)
		return 0
	}
	s, ok := d.str(n, key)
	if !ok {
		return 0
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil && strings.HasSuffix(s, "d"):
		d.Errorf(n, "%s: invalid duration %q: there is no unit d; write 24h for a day", key, s)
	case err != nil:
		d.Errorf(n, "%s: invalid duration %q: expected %s", key, s, form)
	case v <= 0:
		d.Errorf(n, "%s: the duration must be positive, got %s", key, s)
	case v > MaxTimeout:
		d.Errorf(n, "%s: %s is longer than the limit of %s", key, s, strings.TrimSuffix(MaxTimeout.String(), "0m0s"))
	default:
		return Duration(v)
	}
	return 0
}

func (d *decoder) executor(n *yaml.Node, key string) string {
	return d.enum(n, key, "executor", []string{ExecutorLocal, ExecutorDocker})
}

// enum decodes a string that must be one of known; what names the value
// in messages.
func (d *decoder) enum(n *yaml.Node, key, what string, known []string) string {
	s, ok := d.str(n, key)
	if !ok {
		return ""
	}
	if !slices.Contains(known, s) {
		if m := suggest(s, known); m != "" {
			d.Errorf(n, "%s: unknown %s %q: did you mean %q? (expected %s)", key, what, s, m, yamlfile.OrList(known))
		} else {
			d.Errorf(n, "%s: unknown %s %q: expected %s", key, what, s, yamlfile.OrList(known))
		}
		return ""
	}
	return s
}

func (d *decoder) env(n *yaml.Node, key string) (Env, map[string]bool, []*yaml.Node) {
	entries, ok := d.mapping(n, key, "a mapping of variable names to values")
	if !ok {
		return nil, nil, nil
	}
	env := Env{}
	names := map[string]bool{}
	var values []*yaml.Node
	for _, e := range entries {
		k := e.key.Value
		names[k] = true
		switch {
		case !envNameRE.MatchString(k):
			d.Errorf(e.key, "%s: invalid variable name %q: use letters, digits and '_', not starting with a digit", key, k)
			continue
		case strings.HasPrefix(strings.ToUpper(k), "GANTRY_"):
			d.Errorf(e.key, "%s: %s is reserved: names starting with GANTRY_ are for the variables Gantry sets", key, k)
			continue
		}
		if v, ok := d.scalar(e.val, key+"."+k); ok {
			env[k] = v
			values = append(values, e.val)
		}
	}
	return env, names, values
}

// keysOf returns the yaml keys of a struct type, in field order.
func keysOf(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}
