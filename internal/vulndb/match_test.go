package vulndb

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

func ev(kv ...string) []Event {
	var out []Event
	for i := 0; i+1 < len(kv); i += 2 {
		switch kv[i] {
		case "i":
			out = append(out, Event{Introduced: kv[i+1]})
		case "f":
			out = append(out, Event{Fixed: kv[i+1]})
		case "l":
			out = append(out, Event{LastAffected: kv[i+1]})
		case "x":
			out = append(out, Event{Limit: kv[i+1]})
		}
	}
	return out
}

func TestAffects(t *testing.T) {
	tests := []struct {
		name      string
		eco       string
		typ       string
		events    []Event
		versions  []string
		version   string
		want      Verdict
		wantError bool
	}{
		// The boundaries of one interval.
		{name: "introduced 0 covers the first version", eco: "npm", typ: "SEMVER", events: ev("i", "0", "f", "1.2.4"), version: "0.0.1", want: Verdict{Affected: true, Fixed: "1.2.4"}},
		{name: "below fixed", eco: "npm", typ: "SEMVER", events: ev("i", "0", "f", "1.2.4"), version: "1.2.3", want: Verdict{Affected: true, Fixed: "1.2.4"}},
		{name: "fixed is not affected", eco: "npm", typ: "SEMVER", events: ev("i", "0", "f", "1.2.4"), version: "1.2.4"},
		{name: "above fixed", eco: "npm", typ: "SEMVER", events: ev("i", "0", "f", "1.2.4"), version: "1.10.0"},
		{name: "introduced is affected", eco: "npm", typ: "SEMVER", events: ev("i", "1.0.0", "f", "2.0.0"), version: "1.0.0", want: Verdict{Affected: true, Fixed: "2.0.0"}},
		{name: "below introduced", eco: "npm", typ: "SEMVER", events: ev("i", "1.0.0", "f", "2.0.0"), version: "0.9.9"},
		{name: "last_affected is affected", eco: "npm", typ: "SEMVER", events: ev("i", "0.1.0", "l", "0.5.0"), version: "0.5.0", want: Verdict{Affected: true, LastAffected: "0.5.0"}},
		{name: "after last_affected", eco: "npm", typ: "SEMVER", events: ev("i", "0.1.0", "l", "0.5.0"), version: "0.5.1"},
		{name: "limit is exclusive", eco: "npm", typ: "SEMVER", events: ev("i", "0", "x", "3.0.0"), version: "3.0.0"},
		{name: "below limit", eco: "npm", typ: "SEMVER", events: ev("i", "0", "x", "3.0.0"), version: "2.9.9", want: Verdict{Affected: true}},
		{name: "open-ended", eco: "npm", typ: "SEMVER", events: ev("i", "2.0.0"), version: "99.0.0", want: Verdict{Affected: true}},
		{name: "introduced equal to fixed is empty", eco: "npm", typ: "SEMVER", events: ev("f", "1.0.0", "i", "1.0.0"), version: "1.0.0"},

		// Several intervals, and events out of order.
		{name: "second interval", eco: "crates.io", typ: "SEMVER", events: ev("i", "2.0.0", "f", "2.3.0", "i", "2.4.0", "f", "2.4.2"), version: "2.4.1", want: Verdict{Affected: true, Fixed: "2.4.2"}},
		{name: "between intervals", eco: "crates.io", typ: "SEMVER", events: ev("i", "2.0.0", "f", "2.3.0", "i", "2.4.0", "f", "2.4.2"), version: "2.3.5"},
		{name: "unsorted events", eco: "crates.io", typ: "SEMVER", events: ev("i", "2.4.0", "f", "2.4.2", "i", "2.0.0", "f", "2.3.0"), version: "2.1.0", want: Verdict{Affected: true, Fixed: "2.3.0"}},

		// Semver pre-releases and build metadata.
		{name: "pre-release before release is affected", eco: "npm", typ: "SEMVER", events: ev("i", "1.0.0-alpha.1", "f", "1.0.0"), version: "1.0.0-beta.2", want: Verdict{Affected: true, Fixed: "1.0.0"}},
		{name: "numeric pre-release identifiers compare as numbers", eco: "npm", typ: "SEMVER", events: ev("i", "0", "f", "1.0.0-rc.10"), version: "1.0.0-rc.9", want: Verdict{Affected: true, Fixed: "1.0.0-rc.10"}},
		{name: "pre-release before introduced release", eco: "npm", typ: "SEMVER", events: ev("i", "1.0.0", "f", "2.0.0"), version: "1.0.0-rc.1"},
		{name: "build metadata ignored", eco: "npm", typ: "SEMVER", events: ev("i", "0", "f", "1.2.4"), version: "1.2.4+build.7"},

		// Go: go.mod writes v1.2.3, OSV 1.2.3.
		{name: "go leading v", eco: "Go", typ: "SEMVER", events: ev("i", "0", "f", "1.2.0"), version: "v1.1.9", want: Verdict{Affected: true, Fixed: "1.2.0"}},
		{name: "go fixed with leading v", eco: "Go", typ: "SEMVER", events: ev("i", "0", "f", "1.2.0"), version: "v1.2.0"},
		{name: "go pseudo-version before fix", eco: "Go", typ: "SEMVER", events: ev("i", "0", "f", "1.2.0"), version: "v1.1.1-0.20240102030405-abcdefabcdef", want: Verdict{Affected: true, Fixed: "1.2.0"}},
		{name: "go +incompatible", eco: "Go", typ: "SEMVER", events: ev("i", "0", "f", "2.1.0+incompatible"), version: "v2.0.5+incompatible", want: Verdict{Affected: true, Fixed: "2.1.0+incompatible"}},

		// PyPI, PEP 440.
		{name: "pypi 1.0 equals 1.0.0", eco: "PyPI", typ: "ECOSYSTEM", events: ev("i", "0", "f", "1.0"), version: "1.0.0"},
		{name: "pypi rc before release", eco: "PyPI", typ: "ECOSYSTEM", events: ev("i", "0", "f", "3.0.0"), version: "3.0.0rc1", want: Verdict{Affected: true, Fixed: "3.0.0"}},
		{name: "pypi dev before rc", eco: "PyPI", typ: "ECOSYSTEM", events: ev("i", "3.0.0rc1", "f", "3.0.0"), version: "3.0.0.dev4"},
		{name: "pypi post release after release", eco: "PyPI", typ: "ECOSYSTEM", events: ev("i", "0", "f", "2.0.post1"), version: "2.0", want: Verdict{Affected: true, Fixed: "2.0.post1"}},
		{name: "pypi post release fixed", eco: "PyPI", typ: "ECOSYSTEM", events: ev("i", "0", "f", "2.0.post1"), version: "2.0.post1"},
		{name: "pypi epoch wins", eco: "PyPI", typ: "ECOSYSTEM", events: ev("i", "0", "f", "5.0"), version: "1!1.0"},
		{name: "pypi numeric, not lexical", eco: "PyPI", typ: "ECOSYSTEM", events: ev("i", "0", "f", "1.10"), version: "1.9", want: Verdict{Affected: true, Fixed: "1.10"}},
		{name: "pypi local version after release", eco: "PyPI", typ: "ECOSYSTEM", events: ev("i", "0", "l", "1.0"), version: "1.0+ubuntu1"},
		{name: "pypi invalid version", eco: "PyPI", typ: "ECOSYSTEM", events: ev("i", "0", "f", "1.0"), version: "not a version", wantError: true},

		// Maven's ordering.
		{name: "maven 1.10 after 1.9", eco: "Maven", typ: "ECOSYSTEM", events: ev("i", "0", "f", "1.9"), version: "1.10"},
		{name: "maven beta qualifier", eco: "Maven", typ: "ECOSYSTEM", events: ev("i", "2.0-beta9", "f", "2.15.0"), version: "2.0-beta10", want: Verdict{Affected: true, Fixed: "2.15.0"}},
		{name: "maven alpha before beta", eco: "Maven", typ: "ECOSYSTEM", events: ev("i", "2.0-beta9", "f", "2.15.0"), version: "2.0-alpha1"},
		{name: "maven release after rc", eco: "Maven", typ: "ECOSYSTEM", events: ev("i", "0", "f", "2.0"), version: "2.0-rc1", want: Verdict{Affected: true, Fixed: "2.0"}},
		{name: "maven 2.0 equals 2.0.0", eco: "Maven", typ: "ECOSYSTEM", events: ev("i", "0", "f", "2.0.0"), version: "2.0"},

		// Explicit versions.
		{name: "listed version", eco: "PyPI", versions: []string{"3.2.0", "3.2.1"}, version: "3.2.1", want: Verdict{Affected: true}},
		{name: "listed version, other spelling", eco: "PyPI", versions: []string{"3.2"}, version: "3.2.0", want: Verdict{Affected: true}},
		{name: "unlisted version", eco: "PyPI", versions: []string{"3.2.0", "3.2.1"}, version: "3.2.2"},

		// GIT ranges are not about released versions.
		{name: "git range ignored", eco: "npm", typ: "GIT", events: ev("i", "0", "f", "abcdef"), version: "1.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Affected{Package: AffectedPackage{Ecosystem: tt.eco, Name: "p"}, Versions: tt.versions}
			if tt.events != nil {
				a.Ranges = []Range{{Type: tt.typ, Events: tt.events}}
			}
			got, err := Affects(a, tt.eco, tt.version)
			if tt.wantError {
				if !errors.Is(err, ErrVersion) {
					t.Fatalf("Affects(%q) error = %v, want ErrVersion", tt.version, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Affects(%q): %v", tt.version, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Affects(%q) (-want +got):\n%s", tt.version, diff)
			}
		})
	}
}

func TestAffectsLowestFix(t *testing.T) {
	// Two ranges cover the version; the help must name the lowest fix.
	a := &Affected{Ranges: []Range{
		{Type: "ECOSYSTEM", Events: ev("i", "0", "f", "1.10.0")},
		{Type: "ECOSYSTEM", Events: ev("i", "1.0.0", "f", "1.9.2")},
	}}
	got, err := Affects(a, "PyPI", "1.5")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Verdict{Affected: true, Fixed: "1.9.2"}); got != want {
		t.Errorf("Affects = %+v, want %+v", got, want)
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		eco, a, b string
		want      int
	}{
		{"Go", "v1.2.3", "1.2.3", 0},
		{"Go", "v1.10.0", "v1.9.0", 1},
		{"npm", "1.0.0-alpha", "1.0.0", -1},
		{"npm", "1.0.0-alpha.beta", "1.0.0-alpha.1", 1},
		{"PyPI", "1.0rc1", "1.0", -1},
		{"PyPI", "1.0.post1", "1.0", 1},
		{"Maven", "1.0-SNAPSHOT", "1.0", -1},
		{"Maven", "1.0.RELEASE", "1.0", 0},
		{"crates.io", "0.2.23", "0.2.3", 1},
	}
	for _, tt := range tests {
		got, err := Compare(tt.eco, tt.a, tt.b)
		if err != nil {
			t.Errorf("Compare(%s, %q, %q): %v", tt.eco, tt.a, tt.b, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Compare(%s, %q, %q) = %d, want %d", tt.eco, tt.a, tt.b, got, tt.want)
		}
	}
	if _, err := Compare("NoSuchEcosystem", "1", "2"); !errors.Is(err, ErrVersion) {
		t.Errorf("Compare in an unknown ecosystem: error = %v, want ErrVersion", err)
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tt := range []struct{ eco, in, want string }{
		{"PyPI", "Acme_Yaml", "acme-yaml"},
		{"PyPI", "acme.crypto", "acme-crypto"},
		{"PyPI", "A--B__c", "a-b-c"},
		{"npm", "Acme_Yaml", "Acme_Yaml"},
	} {
		if got := NormalizeName(tt.eco, tt.in); got != tt.want {
			t.Errorf("NormalizeName(%s, %q) = %q, want %q", tt.eco, tt.in, got, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	db, err := Open("testdata")
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Match(context.Background(), []Query{
		{Ecosystem: "npm", Name: "acme-left-pad", Version: "1.2.9"},   // affected, fixed 1.3.0
		{Ecosystem: "npm", Name: "acme-left-pad", Version: "1.3.0"},   // fixed
		{Ecosystem: "npm", Name: "acme-right-pad", Version: "2.1.0"},  // last affected
		{Ecosystem: "PyPI", Name: "Acme_YAML", Version: "5.3.1"},      // normalised name
		{Ecosystem: "PyPI", Name: "acme-yaml", Version: "garbage!"},   // not comparable
		{Ecosystem: "crates.io", Name: "acme-time", Version: "0.1.0"}, // no data
	})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Query int
		ID    string
		V     Verdict
	}
	var gots []got
	for _, m := range res.Matches {
		gots = append(gots, got{m.Query, m.Entry.ID, m.Verdict})
	}
	want := []got{
		{0, "GANTRY-TEST-0101", Verdict{Affected: true, Fixed: "1.3.0"}},
		{2, "GANTRY-TEST-0102", Verdict{Affected: true, LastAffected: "2.1.0"}},
		{3, "GANTRY-TEST-0103", Verdict{Affected: true, Fixed: "5.4"}},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"crates.io"}, res.Missing); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	if len(res.Problems) != 1 || res.Problems[0].Query != 4 {
		t.Errorf("problems = %+v, want one for query 4", res.Problems)
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(t.TempDir() + "/none")
	if gantry.ErrorKind(err) != gantry.ENotFound {
		t.Errorf("Open(missing) error = %v, want kind %s", err, gantry.ENotFound)
	}
	_, err = Open(t.TempDir())
	if gantry.ErrorKind(err) != gantry.ENotFound {
		t.Errorf("Open(empty) error = %v, want kind %s", err, gantry.ENotFound)
	}
}

// FuzzAffects checks that no version or range, however odd, panics the
// range evaluation.
func FuzzAffects(f *testing.F) {
	f.Add("npm", "SEMVER", "0", "1.2.4", "1.2.3")
	f.Add("PyPI", "ECOSYSTEM", "1!0", "2.0.post1", "2.0rc1")
	f.Add("Maven", "ECOSYSTEM", "2.0-beta9", "2.15.0", "2.0-beta10")
	f.Add("Go", "SEMVER", "0", "1.2.0+incompatible", "v1.1.1-0.20240102030405-abcdefabcdef")
	f.Fuzz(func(t *testing.T, eco, typ, introduced, fixed, version string) {
		a := &Affected{Ranges: []Range{{Type: typ, Events: []Event{{Introduced: introduced}, {Fixed: fixed}}}}, Versions: []string{fixed}}
		Affects(a, eco, version)
	})
}
