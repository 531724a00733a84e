package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite the field table of docs/policy.md from the schema")

const (
	schemaFile = "../../docs/policy.input.schema.json"
	docFile    = "../../docs/policy.md"
)

func readSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return s
}

// TestSchemaValidates checks a marshalled Input, with every field set,
// and an empty one against the schema.
func TestSchemaValidates(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]*Input{
		"full":  testInput(),
		"empty": NewInput("commit", nil, nil, nil, nil, Facts{}),
	} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s input does not validate: %v\n%s", name, err, b)
		}
	}
}

// TestSchemaInSync checks that the schema has exactly the Go type's JSON
// fields, each described, and requires exactly those that are always
// present.
func TestSchemaInSync(t *testing.T) {
	root := readSchema(t)
	defs, _ := root["$defs"].(map[string]any)
	resolve := func(n map[string]any) map[string]any {
		for {
			ref, ok := n["$ref"].(string)
			if !ok {
				return n
			}
			n, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
	}
	timeType := reflect.TypeFor[time.Time]()
	var walk func(where string, typ reflect.Type, node map[string]any)
	walk = func(where string, typ reflect.Type, node map[string]any) {
		node = resolve(node)
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		switch {
		case typ == timeType:
			if node["format"] != "date-time" {
				t.Errorf("%s: a time, but the schema says %v", where, node)
			}
		case typ.Kind() == reflect.Slice:
			items, _ := node["items"].(map[string]any)
			if node["type"] != "array" || items == nil {
				t.Errorf("%s: a list, but the schema says %v", where, node)
				return
			}
			walk(where+"[]", typ.Elem(), items)
		case typ.Kind() == reflect.Struct:
			props, _ := node["properties"].(map[string]any)
			if node["additionalProperties"] != false {
				t.Errorf("%s: schema allows unknown properties", where)
			}
			var fields, required []string
			for f := range typ.Fields() {
				name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" || !f.IsExported() {
					continue
				}
				fields = append(fields, name)
				if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
					required = append(required, name)
				}
				p, ok := props[name].(map[string]any)
				if !ok {
					t.Errorf("%s.%s: not in the schema", where, name)
					continue
				}
				if d, _ := p["description"].(string); d == "" {
					t.Errorf("%s.%s: no description in the schema", where, name)
				}
				walk(where+"."+name, f.Type, p)
			}
			for name := range props {
				if !slices.Contains(fields, name) {
					t.Errorf("%s.%s: in the schema, not in the Go type", where, name)
				}
			}
			var req []string
			for _, r := range node["required"].([]any) {
				req = append(req, r.(string))
			}
			slices.Sort(req)
			slices.Sort(required)
			if !slices.Equal(req, required) {
				t.Errorf("%s: schema requires %q, Go always writes %q", where, req, required)
			}
		}
	}
	walk("input", reflect.TypeFor[Input](), root)
}

const (
	tableBegin = "<!-- fields:begin (generated from policy.input.schema.json: go test ./internal/policy -run TestDocFields -update) -->"
	tableEnd   = "<!-- fields:end -->"
)

// TestDocFields checks that docs/policy.md documents every field, with the
// table that -update writes from the schema.
func TestDocFields(t *testing.T) {
	table := fieldTable(readSchema(t))
	b, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	before, rest, ok1 := strings.Cut(doc, tableBegin)
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s has no field table markers", docFile)
	}
	want := before + tableBegin + "\n" + table + tableEnd + after
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(docFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the field table is out of date; run go test ./internal/policy -run TestDocFields -update", docFile)
}

// fieldTable lists every field of Input in the Go type's order, with its
// type and meaning from the schema.
func fieldTable(root map[string]any) string {
	defs, _ := root["$defs"].(map[string]any)
	resolve := func(n map[string]any) map[string]any {
		for {
			ref, ok := n["$ref"].(string)
			if !ok {
				return n
			}
			n, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
	}
	typeName := func(n map[string]any) string {
		n = resolve(n)
		typ, _ := n["type"].(string)
		if n["format"] == "date-time" {
			typ = "time"
		}
		if items, ok := n["items"].(map[string]any); ok {
			it, _ := resolve(items)["type"].(string)
			typ = "array of " + it
		}
		if e, ok := n["enum"].([]any); ok {
			var s []string
			for _, v := range e {
				s = append(s, fmt.Sprint(v))
			}
			typ += " (" + strings.Join(s, ", ") + ")"
		}
		return typ
	}
	var b strings.Builder
	b.WriteString("| field | type | meaning |\n|---|---|---|\n")
	var walk func(path string, typ reflect.Type, node map[string]any)
	walk = func(path string, typ reflect.Type, node map[string]any) {
		node = resolve(node)
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			if typ.Kind() == reflect.Slice {
				path += "[]"
				node, _ = node["items"].(map[string]any)
				node = resolve(node)
			}
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Time]() {
			return
		}
		props, _ := node["properties"].(map[string]any)
		required, _ := node["required"].([]any)
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			p, ok := props[name].(map[string]any)
			if name == "-" || !ok {
				continue
			}
			tn := typeName(p)
			if !slices.Contains(required, any(name)) {
				tn += ", optional"
			}
			d, _ := p["description"].(string)
			fmt.Fprintf(&b, "| `%s.%s` | %s | %s |\n", path, name, tn, strings.ReplaceAll(d, "|", "\\|"))
			walk(path+"."+name, f.Type, p)
		}
	}
	walk("input", reflect.TypeFor[Input](), root)
	return b.String()
}
