package deps

import (
	"testing"

	"gantry.dev/gantry/internal/scan"
)

func TestGoIndexMayAffect(t *testing.T) {
	idx := goIndex{"stdlib": {"1.25.2"}, "example.com/lib": {"1.2.0", "1.5.0"}, "example.com/unfixed": {""}}
	pkgs := []Package{{Ecosystem: "Go", Name: "example.com/lib", Version: "v1.4.0", Path: "go.mod"}}
	for _, tc := range []struct {
		name    string
		pkgs    []Package
		version string
		want    bool
	}{
		{"old go", nil, "go1.25.1", true},
		{"new go, nothing required", nil, "go1.26.8", false},
		{"a requirement below a fix", pkgs, "go1.26.8", true},
		{"a requirement past every fix", []Package{{Ecosystem: "Go", Name: "example.com/lib", Version: "v1.5.0", Path: "go.mod"}}, "go1.26.8", false},
		{"another manifest's requirement", []Package{{Ecosystem: "Go", Name: "example.com/lib", Version: "v1.0.0", Path: "sub/go.mod"}}, "go1.26.8", false},
		{"an unfixed module", []Package{{Ecosystem: "Go", Name: "example.com/unfixed", Version: "v9.0.0", Path: "go.mod"}}, "go1.26.8", true},
		{"unknown go version", nil, "", true},
	} {
		if got := idx.mayAffect("go.mod", tc.pkgs, tc.version); got != tc.want {
			t.Errorf("%s: mayAffect = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// BenchmarkScanWebapp is the deps gate on the example service, against
// the snapshot its pipeline uses: what bench/scans/run measures whole.
func BenchmarkScanWebapp(b *testing.B) {
	s, err := New(Options{DB: "../../../examples/vulndb"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Scan(b.Context(), &scan.Request{Root: "../../../examples/webapp"}); err != nil {
			b.Fatal(err)
		}
	}
}
