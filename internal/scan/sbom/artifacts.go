package sbom

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/glob"
	"gantry.dev/gantry/internal/scan"
)

// addArtifacts adds the built files under root that match patterns (the
// step's `artifacts:` input) to bom: each as an application component with
// its SHA-256, and, for a Go binary, the modules its build info records.
// A pattern that matches nothing is a gap: the artifact was not built.
func addArtifacts(bom *BOM, root string, patterns []string) ([]scan.Gap, error) {
	if err := scan.CheckGlobs(patterns); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "sbom: artifacts %v", err)
	}
	have := map[string]bool{}
	for _, c := range bom.Components {
		have[c.BOMRef] = true
	}
	matched := map[string]bool{}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable parts hold no artifacts
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" || rel == ".gantry/state" {
				return filepath.SkipDir
			}
			return nil
		}
		for _, pat := range patterns {
			if d.Type().IsRegular() && glob.Match(pat, rel) {
				matched[pat] = true
				files = append(files, rel)
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var gaps []scan.Gap
	for _, pat := range patterns {
		if !matched[pat] {
			gaps = append(gaps, scan.Gap{What: "artifact: " + pat, Reason: "no built file matches it"})
		}
	}
	meta := bom.Metadata
	for _, rel := range files {
		sum, err := fileSHA256(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			gaps = append(gaps, scan.Gap{What: "artifact: " + rel, Reason: err.Error()})
			continue
		}
		app := Component{Type: "application", BOMRef: "artifact:" + rel, Name: path.Base(rel),
			Hashes: []Hash{{Alg: "SHA-256", Content: sum}}, Properties: []Property{{Name: "gantry:artifact", Value: rel}}}
		dep := Dependency{Ref: app.BOMRef}
		if bi, err := buildinfo.ReadFile(filepath.Join(root, filepath.FromSlash(rel))); err == nil {
			if v := bi.Main.Version; v != "" && v != "(devel)" {
				app.Version = v
			}
			app.Properties = append(app.Properties, Property{Name: "gantry:go-version", Value: bi.GoVersion})
			for _, m := range bi.Deps {
				if m.Replace != nil {
					m = m.Replace
				}
				purl := "pkg:golang/" + strings.ToLower(m.Path) + "@" + m.Version
				if !have[purl] {
					have[purl] = true
					bom.Components = append(bom.Components, Component{Type: "library", BOMRef: purl, Name: m.Path,
						Version: m.Version, PURL: purl, Properties: []Property{{Name: "gantry:artifact", Value: rel}}})
				}
				dep.DependsOn = append(dep.DependsOn, purl)
			}
		}
		bom.Components = append(bom.Components, app)
		bom.Dependencies = append(bom.Dependencies, dep)
		if meta != nil && meta.Component != nil {
			addDependsOn(bom, meta.Component.BOMRef, app.BOMRef)
		}
	}
	return gaps, nil
}

func addDependsOn(bom *BOM, from, to string) {
	for i := range bom.Dependencies {
		if bom.Dependencies[i].Ref == from {
			bom.Dependencies[i].DependsOn = append(bom.Dependencies[i].DependsOn, to)
			return
		}
	}
	bom.Dependencies = append(bom.Dependencies, Dependency{Ref: from, DependsOn: []string{to}})
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
