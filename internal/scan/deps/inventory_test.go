package deps

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry/internal/scan"
)

func TestInventory(t *testing.T) {
	pkgs, gaps, err := Inventory(context.Background(), filepath.Join("testdata", "projects"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Ecosystem: "crates.io", Name: "acme-memchr", Version: "2.4.1", PURL: "pkg:cargo/acme-memchr@2.4.1", Path: "cargo/Cargo.lock", Line: 6},
		{Ecosystem: "crates.io", Name: "acme-regex", Version: "1.5.5", PURL: "pkg:cargo/acme-regex@1.5.5", Path: "cargo/Cargo.lock", Line: 12, Direct: true},
		{Ecosystem: "crates.io", Name: "acme-time", Version: "0.1.43", PURL: "pkg:cargo/acme-time@0.1.43", Path: "cargo/Cargo.lock", Line: 21, Direct: true},
		{Ecosystem: "Go", Name: "example.com/unused", Version: "v1.0.0", PURL: "pkg:golang/example.com/unused@v1.0.0", Path: "gomod/go.mod", Line: 6},
		{Ecosystem: "Go", Name: "example.com/vulnlib", Version: "v1.0.0", PURL: "pkg:golang/example.com/vulnlib@v1.0.0", Path: "gomod/go.mod", Line: 7, Direct: true},
		{Ecosystem: "Maven", Name: "com.acme:acme-commons", Version: "1.10", PURL: "pkg:maven/com.acme/acme-commons@1.10", Path: "maven/pom.xml", Line: 16, Direct: true},
		{Ecosystem: "Maven", Name: "com.acme:acme-log4", Version: "2.14.1", PURL: "pkg:maven/com.acme/acme-log4@2.14.1", Path: "maven/pom.xml", Line: 11, Direct: true},
		{Ecosystem: "Maven", Name: "com.acme:acme-test", Version: "4.13.1", PURL: "pkg:maven/com.acme/acme-test@4.13.1", Path: "maven/pom.xml", Line: 21, Direct: true, Groups: []string{"test"}},
		{Ecosystem: "npm", Name: "acme-core", Version: "1.0.0-beta.2", PURL: "pkg:npm/acme-core@1.0.0-beta.2", Path: "npm/package-lock.json", Line: 37, Licenses: []string{"MIT"}},
		{Ecosystem: "npm", Name: "acme-core", Version: "2.0.0", PURL: "pkg:npm/acme-core@2.0.0", Path: "npm/package-lock.json", Line: 18, Licenses: []string{"MIT"}},
		{Ecosystem: "npm", Name: "acme-devtool", Version: "0.5.0", PURL: "pkg:npm/acme-devtool@0.5.0", Path: "npm/package-lock.json", Line: 23, Direct: true, Groups: []string{"dev"}, Licenses: []string{"Apache-2.0"}},
		{Ecosystem: "npm", Name: "acme-parser", Version: "1.2.3", PURL: "pkg:npm/acme-parser@1.2.3", Path: "npm/package-lock.json", Line: 29, Direct: true, Licenses: []string{"MIT"}},
		{Ecosystem: "npm", Name: "acme-utils", Version: "2.0.0", PURL: "pkg:npm/acme-utils@2.0.0", Path: "npm/package-lock.json", Line: 42, Direct: true, Licenses: []string{"ISC"}},
		{Ecosystem: "PyPI", Name: "acme-asgiref", Version: "3.5.0", PURL: "pkg:pypi/acme-asgiref@3.5.0", Path: "poetry/poetry.lock", Line: 4},
		{Ecosystem: "PyPI", Name: "acme-django", Version: "3.2.1", PURL: "pkg:pypi/acme-django@3.2.1", Path: "poetry/poetry.lock", Line: 13, Direct: true},
		{Ecosystem: "PyPI", Name: "acme-flask", Version: "2.0.post1", PURL: "pkg:pypi/acme-flask@2.0.post1", Path: "poetry/poetry.lock", Line: 25, Direct: true},
		{Ecosystem: "PyPI", Name: "acme-pytest", Version: "7.0.0", PURL: "pkg:pypi/acme-pytest@7.0.0", Path: "poetry/poetry.lock", Line: 34, Direct: true, Groups: []string{"dev"}},
		{Ecosystem: "PyPI", Name: "Acme_Yaml", Version: "5.4", PURL: "pkg:pypi/acme-yaml@5.4", Path: "python-req/requirements.txt", Line: 3, Direct: true},
		{Ecosystem: "PyPI", Name: "acme-crypto", Version: "3.0.0rc1", PURL: "pkg:pypi/acme-crypto@3.0.0rc1", Path: "python-req/requirements.txt", Line: 4, Direct: true},
		{Ecosystem: "PyPI", Name: "acme-loose", PURL: "pkg:pypi/acme-loose", Path: "python-req/requirements.txt", Line: 5, Direct: true},
		{Ecosystem: "PyPI", Name: "acme-requests", Version: "2.19.0", PURL: "pkg:pypi/acme-requests@2.19.0", Path: "python-req/requirements.txt", Line: 2, Direct: true},
	}
	if diff := cmp.Diff(want, pkgs); diff != "" {
		t.Errorf("Inventory packages (-want +got):\n%s", diff)
	}
	wantGaps := []string{
		"file: broken/cargo/Cargo.lock",
		"file: broken/npm/package-lock.json",
		"file: broken/yarn/yarn.lock",
		"file: python-req/requirements.txt",
		"file: nolock/package.json",
	}
	if diff := cmp.Diff(wantGaps, gapWhats(gaps)); diff != "" {
		t.Errorf("Inventory gaps (-want +got):\n%s\n%+v", diff, gaps)
	}
}

func gapWhats(gaps []scan.Gap) []string {
	var out []string
	for _, g := range gaps {
		out = append(out, g.What)
	}
	return out
}

func TestInventorySkipsOthersCode(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	req := "acme-requests==2.19.0\n"
	write("requirements.txt", req)
	write("node_modules/x/requirements.txt", req)
	write("vendor/y/requirements.txt", req)
	write(".venv/lib/requirements.txt", req)
	write("testdata/fixture/requirements.txt", req)
	// A lock file reached through a symbolic link may lie outside the
	// repository: it is not read.
	if err := os.Symlink(filepath.Join(root, "requirements.txt"), filepath.Join(root, "linked-requirements.txt")); err != nil {
		t.Fatal(err)
	}
	pkgs, gaps, err := Inventory(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 || pkgs[0].Path != "requirements.txt" || len(gaps) != 0 {
		t.Errorf("Inventory = %+v, gaps %+v; want only requirements.txt", pkgs, gaps)
	}
}

func TestInventoryWorkspaceMembersNeedNoLock(t *testing.T) {
	root := t.TempDir()
	for rel, content := range map[string]string{
		"package.json":            `{"name": "root", "workspaces": ["packages/*"]}`,
		"package-lock.json":       `{"lockfileVersion": 3, "packages": {"": {"name": "root"}}}`,
		"packages/a/package.json": `{"name": "a"}`,
		"crates/x/Cargo.toml":     "[package]\nname = \"x\"\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, gaps, err := Inventory(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"file: crates/x/Cargo.toml"}, gapWhats(gaps)); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
}

func TestInventoryMissingRoot(t *testing.T) {
	if _, _, err := Inventory(context.Background(), filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("Inventory of a missing root succeeded")
	}
}
