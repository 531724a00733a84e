package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// schemaFile is the committed schema, at the repository root for editors
// and schema stores to find.
var schemaFile = filepath.Join("..", "..", "schema", "gantry.schema.json")

// TestSchemaInSync fails when the committed schema is not what Schema
// generates; go test -update rewrites it.
func TestSchemaInSync(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/spec -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is out of date; run go test ./internal/spec -update (-committed +generated):\n%s", schemaFile, diff)
	}
}

// TestSchemaShape checks the rules every part of the schema follows: each
// object with properties is closed and every property is described, and
// the keys are the ones the parser knows.
func TestSchemaShape(t *testing.T) {
	data, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", root["$schema"])
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				if v["additionalProperties"] != false {
					t.Errorf("%s: additionalProperties is %v, want false", path, v["additionalProperties"])
				}
				for name, p := range props {
					if p.(map[string]any)["description"] == nil {
						t.Errorf("%s.%s has no description", path, name)
					}
				}
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for _, c := range v {
				walk(path+"/[]", c)
			}
		}
	}
	walk("#", root)

	defs := root["$defs"].(map[string]any)
	for name, want := range map[string][]string{
		"":         pipelineKeys,
		"Defaults": defaultsKeys,
		"Stage":    stageKeys,
		"Step":     stepKeys,
		"When":     whenKeys,
	} {
		obj := root
		if name != "" {
			obj = defs[name].(map[string]any)
		}
		var got []string
		for k := range obj["properties"].(map[string]any) {
			got = append(got, k)
		}
		if diff := cmp.Diff(want, got, cmpSorted); diff != "" {
			t.Errorf("keys of %q (-parser +schema):\n%s", name, diff)
		}
	}
}

var cmpSorted = cmp.Transformer("sort", func(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})
