package secrets

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Allowlist is a project's list of what is not a secret, on top of
// gitleaks' own allowlists.
type Allowlist struct {
	// Paths are globs over slash-separated paths relative to the scanned
	// root: * matches within a path element, ** across elements, ? one
	// character, [a-z] a class. A glob without a slash matches a file's
	// name or any directory's name on its path ("fixtures" skips every
	// fixtures directory); "docs/**" skips a tree.
	Paths []string
	// Regexes (RE2 syntax) match secrets to accept.
	Regexes []string
	// StopWords accept any secret that contains one of them, ignoring
	// case.
	StopWords []string
}

// projectAllowlist is an Allowlist compiled.
type projectAllowlist struct {
	names []*regexp.Regexp // globs without a slash, on path elements
	paths []*regexp.Regexp // globs with a slash, on the whole path
	re    *regexp.Regexp
	stop  [][]byte
}

func compileAllowlist(a Allowlist) (*projectAllowlist, error) {
	p := &projectAllowlist{}
	for _, g := range a.Paths {
		g = strings.TrimPrefix(strings.TrimSpace(g), "./")
		if g == "" {
			continue
		}
		re, err := globRegexp(strings.TrimSuffix(g, "/"))
		if err != nil {
			return nil, fmt.Errorf("allowlist path %q: %w", g, err)
		}
		if strings.Contains(strings.TrimSuffix(g, "/"), "/") {
			p.paths = append(p.paths, re)
		} else {
			p.names = append(p.names, re)
		}
	}
	if len(a.Regexes) > 0 {
		for _, r := range a.Regexes {
			if _, err := regexp.Compile(r); err != nil {
				return nil, fmt.Errorf("allowlist regex %q: %w", r, err)
			}
		}
		p.re = regexp.MustCompile(`(?:` + strings.Join(a.Regexes, `)|(?:`) + `)`)
	}
	for _, w := range a.StopWords {
		if w = strings.TrimSpace(w); w != "" {
			p.stop = append(p.stop, bytes.ToLower([]byte(w)))
		}
	}
	return p, nil
}

// pathAllowed reports whether rel (slash-separated, relative to the root)
// is exempt, or lies under an exempt directory.
func (p *projectAllowlist) pathAllowed(rel string) bool {
	if p == nil {
		return false
	}
	for _, re := range p.paths {
		// A glob naming a directory exempts what is under it.
		for q := rel; q != "." && q != "/" && q != ""; q = path.Dir(q) {
			if re.MatchString(q) {
				return true
			}
		}
	}
	if len(p.names) > 0 {
		for _, elem := range strings.Split(rel, "/") {
			for _, re := range p.names {
				if re.MatchString(elem) {
					return true
				}
			}
		}
	}
	return false
}

// secretAllowed reports whether the project accepts secret.
func (p *projectAllowlist) secretAllowed(secret []byte) bool {
	if p == nil {
		return false
	}
	if p.re != nil && p.re.Match(secret) {
		return true
	}
	if len(p.stop) > 0 {
		lower := bytes.ToLower(secret)
		for _, w := range p.stop {
			if bytes.Contains(lower, w) {
				return true
			}
		}
	}
	return false
}

// globRegexp translates a glob to an anchored regular expression. A glob
// ending in /** matches the directory itself too.
func globRegexp(glob string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`^`)
	dirTree := strings.HasSuffix(glob, "/**")
	glob = strings.TrimSuffix(glob, "/**")
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch c {
		case '*':
			if i+1 < len(glob) && glob[i+1] == '*' {
				i++
				if i+1 < len(glob) && glob[i+1] == '/' {
					i++
					b.WriteString(`(?:.*/)?`) // **/ : zero or more directories
				} else {
					b.WriteString(`.*`)
				}
			} else {
				b.WriteString(`[^/]*`)
			}
		case '?':
			b.WriteString(`[^/]`)
		case '[':
			j := strings.IndexByte(glob[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed [")
			}
			class := glob[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j + 1
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		}
	}
	if dirTree {
		b.WriteString(`(?:/.*)?`)
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}

// lockFiles are dependency lock files: their hashes and integrity strings
// look random and are not secrets.
var lockFiles = map[string]bool{
	"package-lock.json": true, "npm-shrinkwrap.json": true, "yarn.lock": true,
	"pnpm-lock.yaml": true, "bun.lock": true, "bun.lockb": true, "deno.lock": true,
	"Cargo.lock": true, "Gemfile.lock": true, "poetry.lock": true, "Pipfile.lock": true,
	"uv.lock": true, "pdm.lock": true, "composer.lock": true, "go.sum": true,
	"go.work.sum": true, "gradle.lockfile": true, "packages.lock.json": true,
	"mix.lock": true, "Podfile.lock": true, "flake.lock": true, "pubspec.lock": true,
	"Package.resolved": true, "conan.lock": true, "paket.lock": true,
	".terraform.lock.hcl": true, "MODULE.bazel.lock": true,
}

// isLockFile reports whether the file at rel is a dependency lock file.
func isLockFile(rel string) bool {
	base := path.Base(rel)
	return lockFiles[base] || strings.HasSuffix(base, ".lock")
}

// binarySniff is how much of a file is looked at to tell text from binary.
const binarySniff = 8000

// isBinary reports whether data looks binary: a NUL byte near its start,
// as git decides.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0
}
