package sbom

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"gantry.dev/gantry/internal/scan"
)

const projects = "../deps/testdata/projects"

var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// bomSchema compiles the CycloneDX 1.6 JSON schema from testdata, with
// the schemas it references registered under the URLs it names them by,
// so that nothing is fetched.
func bomSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for file, ids := range map[string][]string{
		"bom-1.6.SNAPSHOT.schema.json":  {"http://cyclonedx.org/schema/bom-1.6.schema.json"},
		"spdx.SNAPSHOT.schema.json":     {"http://cyclonedx.org/schema/spdx.schema.json", "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json"},
		"jsf-0.82.SNAPSHOT.schema.json": {"http://cyclonedx.org/schema/jsf-0.82.schema.json", "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json"},
	} {
		for _, id := range ids {
			f, err := os.Open(filepath.Join("testdata", "schema", file))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if err := c.AddResource(id, doc); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		}
	}
	s, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("bom is not JSON: %v", err)
	}
	return s.Validate(inst)
}

func build(t *testing.T, project string) (*BOM, []scan.Gap, []byte) {
	t.Helper()
	bom, gaps, err := Build(context.Background(), filepath.Join(projects, project), Options{Now: fixedNow, ToolVersion: "0.0.0-test", ModCache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(bom)
	if err != nil {
		t.Fatal(err)
	}
	return bom, gaps, data
}

func TestBOMValidatesAgainstCycloneDX16(t *testing.T) {
	s := bomSchema(t)
	for _, p := range []string{"gomod", "npm", "maven", "poetry", "cargo", "python-req", "nolock", "broken"} {
		t.Run(p, func(t *testing.T) {
			bom, _, data := build(t, p)
			if err := validate(t, s, data); err != nil {
				t.Fatalf("BOM of %s is not valid CycloneDX 1.6: %v\n%s", p, err, data)
			}
			if bom.SpecVersion != "1.6" || bom.BOMFormat != "CycloneDX" {
				t.Errorf("spec = %s %s", bom.BOMFormat, bom.SpecVersion)
			}
		})
	}
}

func TestBrokenBOMIsInvalid(t *testing.T) {
	s := bomSchema(t)
	_, _, data := build(t, "npm")
	for name, breakIt := range map[string]func(m map[string]any){
		"no bomFormat":        func(m map[string]any) { delete(m, "bomFormat") },
		"wrong specVersion":   func(m map[string]any) { m["specVersion"] = 1.6 },
		"component sans name": func(m map[string]any) { delete(m["components"].([]any)[0].(map[string]any), "name") },
		"bad component type":  func(m map[string]any) { m["components"].([]any)[0].(map[string]any)["type"] = "gadget" },
		"bad timestamp":       func(m map[string]any) { m["metadata"].(map[string]any)["timestamp"] = "yesterday" },
		"unknown SPDX id": func(m map[string]any) {
			m["components"].([]any)[0].(map[string]any)["licenses"] = []any{map[string]any{"license": map[string]any{"id": "Not-A-Licence"}}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			breakIt(m)
			broken, _ := json.Marshal(m)
			if err := validate(t, s, broken); err == nil {
				t.Errorf("schema accepted a BOM with %s", name)
			}
		})
	}
}

type comp struct {
	Ref, Group, Name, Version, Scope, Licence string
}

func summary(t *testing.T, bom *BOM) []comp {
	t.Helper()
	var out []comp
	for _, c := range bom.Components {
		lic := ""
		for _, l := range c.Licenses {
			switch {
			case l.Expression != "":
				lic = l.Expression
			case l.License.ID != "":
				lic = l.License.ID
			default:
				lic = "name:" + l.License.Name
			}
		}
		out = append(out, comp{c.BOMRef, c.Group, c.Name, c.Version, c.Scope, lic})
		if c.BOMRef != c.PURL {
			t.Errorf("bom-ref %s is not the purl %s", c.BOMRef, c.PURL)
		}
	}
	return out
}

func TestComponents(t *testing.T) {
	t.Run("gomod", func(t *testing.T) {
		bom, gaps, _ := build(t, "gomod")
		want := []comp{
			{Ref: "pkg:golang/example.com/unused@v1.0.0", Name: "example.com/unused", Version: "v1.0.0"},
			{Ref: "pkg:golang/example.com/vulnlib@v1.0.0", Name: "example.com/vulnlib", Version: "v1.0.0"},
		}
		if d := cmp.Diff(want, summary(t, bom)); d != "" {
			t.Errorf("components (-want +got):\n%s", d)
		}
		if len(gaps) != 0 {
			t.Errorf("gaps = %v", gaps)
		}
		root := bom.Metadata.Component
		if root.Name != "example.com/app" || root.Type != "application" {
			t.Errorf("project = %+v", root)
		}
		wantDeps := []Dependency{{Ref: root.BOMRef, DependsOn: []string{"pkg:golang/example.com/vulnlib@v1.0.0"}}}
		if d := cmp.Diff(wantDeps, bom.Dependencies); d != "" {
			t.Errorf("dependencies (-want +got):\n%s", d)
		}
		if got := bom.Metadata.Tools.Components[0]; got.Name != "gantry" || got.Version != "0.0.0-test" {
			t.Errorf("tool = %+v", got)
		}
		if bom.Metadata.Timestamp != "2026-01-02T03:04:05Z" {
			t.Errorf("timestamp = %s", bom.Metadata.Timestamp)
		}
	})
	t.Run("npm", func(t *testing.T) {
		bom, _, _ := build(t, "npm")
		want := []comp{
			{Ref: "pkg:npm/acme-core@1.0.0-beta.2", Name: "acme-core", Version: "1.0.0-beta.2", Licence: "MIT"},
			{Ref: "pkg:npm/acme-core@2.0.0", Name: "acme-core", Version: "2.0.0", Licence: "MIT"},
			{Ref: "pkg:npm/acme-devtool@0.5.0", Name: "acme-devtool", Version: "0.5.0", Scope: "excluded", Licence: "Apache-2.0"},
			{Ref: "pkg:npm/acme-parser@1.2.3", Name: "acme-parser", Version: "1.2.3", Licence: "MIT"},
			{Ref: "pkg:npm/acme-utils@2.0.0", Name: "acme-utils", Version: "2.0.0", Licence: "ISC"},
		}
		if d := cmp.Diff(want, summary(t, bom)); d != "" {
			t.Errorf("components (-want +got):\n%s", d)
		}
		if bom.Metadata.Component.Name != "app" {
			t.Errorf("project = %+v", bom.Metadata.Component)
		}
		if got := bom.Dependencies[0].DependsOn; len(got) != 3 {
			t.Errorf("direct dependencies = %v, want acme-devtool, acme-parser, acme-utils", got)
		}
	})
}

func TestLicenseChoice(t *testing.T) {
	for in, want := range map[string][]LicenseChoice{
		"MIT":                 {{License: &License{ID: "MIT"}}},
		"apache-2.0":          {{License: &License{ID: "Apache-2.0"}}},
		"(MIT OR Apache-2.0)": {{Expression: "(MIT OR Apache-2.0)"}},
		"Custom EULA":         {{License: &License{Name: "Custom EULA"}}},
		"NOASSERTION":         nil,
		"":                    nil,
	} {
		if d := cmp.Diff(want, licenseChoice(in)); d != "" {
			t.Errorf("licenseChoice(%q) (-want +got):\n%s", in, d)
		}
	}
}

func TestScanWritesBOM(t *testing.T) {
	root := t.TempDir()
	lock, err := os.ReadFile(filepath.Join(projects, "npm", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "package-lock.json"), lock, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Now: fixedNow, NoLicenses: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "sbom" {
		t.Errorf("Name = %q", s.Name())
	}
	var _ scan.Scanner = s
	var progress strings.Builder
	res, err := s.Scan(context.Background(), &scan.Request{Root: root, With: map[string]string{"output": "out/bom.json"}, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"out/bom.json"}, res.Outputs); d != "" {
		t.Errorf("outputs (-want +got):\n%s", d)
	}
	if res.Tool != "sbom" || len(res.Findings) != 0 || res.Scanned["components"] != 5 {
		t.Errorf("result = %+v", res)
	}
	data, err := os.ReadFile(filepath.Join(root, "out", "bom.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, bomSchema(t), data); err != nil {
		t.Errorf("written BOM invalid: %v", err)
	}
	// The same inputs at the same time give the same bytes.
	if _, err := s.Scan(context.Background(), &scan.Request{Root: root, With: map[string]string{"output": "out/bom.json"}}); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(root, "out", "bom.json"))
	if !bytes.Equal(data, again) {
		t.Error("BOM is not reproducible")
	}

	res, err = s.Scan(context.Background(), &scan.Request{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs[0] != DefaultOutput {
		t.Errorf("default output = %v", res.Outputs)
	}
	for _, bad := range []string{"../escape.json", "/tmp/abs.json"} {
		if _, err := s.Scan(context.Background(), &scan.Request{Root: root, With: map[string]string{"output": bad}}); err == nil {
			t.Errorf("output %q accepted", bad)
		}
	}
}

func TestGapsPassThrough(t *testing.T) {
	s, _ := New(Options{Now: fixedNow, NoLicenses: true})
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "yarn.lock"), []byte("# yarn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := s.Scan(context.Background(), &scan.Request{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Gaps) != 1 || !strings.Contains(res.Gaps[0].What, "yarn.lock") {
		t.Errorf("gaps = %v", res.Gaps)
	}
}
