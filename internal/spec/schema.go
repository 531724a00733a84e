package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// SchemaID is the $id of the pipeline file's JSON Schema.
const SchemaID = "https://gantry.dev/schema/gantry.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of the pipeline file,
// generated from the Go types: their json tags name the keys, doc tags
// describe them, and enum, const, pattern, maxLength, minItems, minimum,
// maximum, default and required tags constrain them. Types whose YAML has
// more than one shape (a string or a list, say) describe themselves.
func Schema() ([]byte, error) {
	g := &schemaGen{defs: map[string]*object{}}
	root := newObject(
		"$schema", "https://json-schema.org/draft/2020-12/schema",
		"$id", SchemaID,
		"title", "Gantry pipeline",
		"description", "A Gantry pipeline file (.gantry.yml): stages of steps that take a change from commit to production.",
	)
	body := g.structSchema(reflect.TypeFor[Pipeline]())
	for _, k := range body.keys {
		root.set(k, body.vals[k])
	}
	defs := newObject()
	for _, name := range slices.Sorted(maps.Keys(g.defs)) {
		defs.set(name, g.defs[name])
	}
	root.set("$defs", defs)
	compact, err := root.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// schemaer is a type that writes its own schema, because its YAML has more
// than one shape or its constraints are not on a struct field.
type schemaer interface {
	jsonSchema(g *schemaGen) *object
}

// schemaAdder is a struct type that adds to its generated schema.
type schemaAdder interface {
	addSchema(o *object)
}

type schemaGen struct {
	defs map[string]*object
}

var schemaerType = reflect.TypeFor[schemaer]()

// of returns the schema of t: a $ref for structs and self-describing types,
// which go into $defs once, an inline schema otherwise.
func (g *schemaGen) of(t reflect.Type) *object {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(schemaerType) || t.Kind() == reflect.Struct {
		name := t.Name()
		if _, done := g.defs[name]; !done {
			g.defs[name] = newObject() // a placeholder, for recursive types
			if t.Implements(schemaerType) {
				g.defs[name] = reflect.Zero(t).Interface().(schemaer).jsonSchema(g)
			} else {
				g.defs[name] = g.structSchema(t)
			}
		}
		return newObject("$ref", "#/$defs/"+name)
	}
	switch t.Kind() {
	case reflect.String:
		return newObject("type", "string")
	case reflect.Bool:
		return newObject("type", "boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return newObject("type", "integer")
	case reflect.Slice, reflect.Array:
		return newObject("type", "array", "items", g.of(t.Elem()))
	case reflect.Map:
		return newObject("type", "object", "additionalProperties", g.of(t.Elem()))
	}
	panic("spec: no JSON Schema for " + t.String())
}

// structSchema describes a struct's json fields. Every object is closed
// (additionalProperties false): an unknown key is a mistake.
func (g *schemaGen) structSchema(t reflect.Type) *object {
	props := newObject()
	var required []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		field := newObject()
		if doc := f.Tag.Get("doc"); doc != "" {
			field.set("description", doc)
		}
		s := g.of(f.Type)
		for _, k := range s.keys {
			field.set(k, s.vals[k])
		}
		// Number limits on a list apply to its items.
		target := field
		if items, ok := field.vals["items"].(*object); ok {
			target = items
		}
		if v := f.Tag.Get("enum"); v != "" {
			field.set("enum", strings.Split(v, ","))
		}
		if v := f.Tag.Get("const"); v != "" {
			field.set("const", tagValue(v))
		}
		if v := f.Tag.Get("pattern"); v != "" {
			field.set("pattern", v)
		}
		for _, k := range []string{"maxLength", "minItems"} {
			if v := f.Tag.Get(k); v != "" {
				field.set(k, tagValue(v))
			}
		}
		for _, k := range []string{"minimum", "maximum"} {
			if v := f.Tag.Get(k); v != "" {
				target.set(k, tagValue(v))
			}
		}
		if v := f.Tag.Get("default"); v != "" {
			field.set("default", tagValue(v))
		}
		if f.Tag.Get("required") == "true" {
			required = append(required, name)
		}
		props.set(name, field)
	}
	o := newObject("type", "object", "properties", props)
	if len(required) > 0 {
		o.set("required", required)
	}
	o.set("additionalProperties", false)
	if a, ok := reflect.Zero(t).Interface().(schemaAdder); ok {
		a.addSchema(o)
	}
	return o
}

// tagValue reads a tag as JSON (numbers, booleans), or else as a string.
func tagValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	return v
}

func (Pipeline) addSchema(o *object) {
	o.set("patternProperties", newObject("^"+extensionPrefix, newObject("description", "Ignored by Gantry: a place for anchors that aliases refer to.")))
}

func (Step) addSchema(o *object) {
	o.set("oneOf", []any{
		newObject("required", []string{"run"}),
		newObject("required", []string{"uses"}),
	})
	o.set("dependentRequired", newObject("with", []string{"uses"}))
}

var scalarTypes = []string{"string", "number", "boolean"}

func (Commands) jsonSchema(*schemaGen) *object {
	cmd := newObject("type", "string", "minLength", 1)
	return newObject("description", "A command, or a list of commands run in order.", "oneOf", []any{
		cmd,
		newObject("type", "array", "minItems", 1, "items", cmd),
	})
}

func (Strings) jsonSchema(*schemaGen) *object {
	s := newObject("type", "string", "minLength", 1)
	return newObject("description", "A string, or a list of strings.", "oneOf", []any{
		s,
		newObject("type", "array", "items", s),
	})
}

func (Duration) jsonSchema(*schemaGen) *object {
	return newObject(
		"description", "A duration in Go syntax: numbers with units ns, us, ms, s, m or h, such as 90s, 10m or 1h30m.",
		"type", "string",
		"pattern", `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`,
	)
}

func (Env) jsonSchema(*schemaGen) *object {
	return newObject(
		"description", "Environment variables: names of letters, digits and '_'; names starting with GANTRY_ are reserved.",
		"type", "object",
		"propertyNames", newObject("pattern", envNameRE.String(), "not", newObject("pattern", "^[Gg][Aa][Nn][Tt][Rr][Yy]_")),
		"additionalProperties", newObject("type", scalarTypes),
	)
}

func (Inputs) jsonSchema(*schemaGen) *object {
	return newObject(
		"description", "Action inputs. Numbers and booleans are passed as written.",
		"type", "object",
		"additionalProperties", newObject("type", scalarTypes),
	)
}

func (Matrix) jsonSchema(*schemaGen) *object {
	return newObject(
		"description", fmt.Sprintf("Keys with lists of values; the step runs once per combination, at most %d. ${{ matrix.KEY }} is replaced by the value, and GANTRY_MATRIX_KEY holds it.", MaxVariants),
		"type", "object",
		"minProperties", 1,
		"propertyNames", newObject("pattern", matrixKeyRE.String()),
		"additionalProperties", newObject(
			"type", "array",
			"minItems", 1,
			"items", newObject("type", scalarTypes, "pattern", matrixValueRE.String()),
		),
	)
}

func (Retry) jsonSchema(g *schemaGen) *object {
	return newObject("oneOf", []any{
		newObject("description", "How many times to run the step again after it failed, whatever its exit code.", "type", "integer", "minimum", 0, "maximum", MaxRetries),
		g.structSchema(reflect.TypeFor[Retry]()),
	})
}

// object is a JSON object that keeps its keys in the order they were set,
// so that the schema reads in the order of the Go fields.
type object struct {
	keys []string
	vals map[string]any
}

// newObject makes an object of alternating keys and values.
func newObject(kv ...any) *object {
	o := &object{vals: map[string]any{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *object) set(k string, v any) *object {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	return o
}

// MarshalJSON writes the keys in order, without escaping <, > and &, which
// descriptions use.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(key)
		b.WriteByte(':')
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(o.vals[k]); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (When) addSchema(o *object) { o.set("minProperties", 1) }
