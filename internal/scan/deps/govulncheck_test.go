package deps

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A govulncheck -format json stream as version 1 of its protocol writes
// it: a module-level, a package-level and symbol-level findings.
const govulncheckStream = `{"config": {"protocol_version": "v1.0.0", "scanner_name": "govulncheck"}}
{"progress": {"message": "Scanning your code..."}}
{"osv": {"id": "GO-2099-0001", "modified": "2025-01-01T00:00:00Z", "summary": "s", "affected": [{"package": {"name": "example.com/lib", "ecosystem": "Go"}}]}}
{"finding": {"osv": "GO-2099-0001", "fixed_version": "v1.2.0", "trace": [{"module": "example.com/lib", "version": "v1.0.0"}]}}
{"finding": {"osv": "GO-2099-0001", "fixed_version": "v1.2.0", "trace": [{"module": "example.com/lib", "version": "v1.0.0", "package": "example.com/lib"}]}}
{"finding": {"osv": "GO-2099-0001", "fixed_version": "v1.2.0", "trace": [
  {"module": "example.com/lib", "version": "v1.0.0", "package": "example.com/lib", "function": "Parse", "receiver": "*Decoder"},
  {"module": "example.com/app", "package": "example.com/app/internal/x", "function": "Load", "position": {"filename": "internal/x/x.go", "line": 12}},
  {"module": "example.com/app", "package": "example.com/app", "function": "main", "position": {"filename": "main.go", "line": 7}}]}}
{"finding": {"osv": "GO-2099-0001", "fixed_version": "v1.2.0", "trace": [
  {"module": "example.com/lib", "version": "v1.0.0", "package": "example.com/lib", "function": "Read"},
  {"module": "example.com/app", "package": "example.com/app", "function": "main", "position": {"filename": "main.go", "line": 9}}]}}
{"finding": {"osv": "GO-2099-0002", "trace": [{"module": "example.com/lib", "version": "v1.0.0", "package": "example.com/lib/codec"}]}}
{"finding": {"osv": "GO-2099-0003", "trace": [{"module": "stdlib", "version": "v1.22.1"}]}}
`

func TestParseGovulncheck(t *testing.T) {
	g, err := parseGovulncheck(strings.NewReader(govulncheckStream))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]reachInfo{}
	for id, mods := range g.byVuln {
		for mod, ri := range mods {
			got[id+" "+mod] = *ri
		}
	}
	want := map[string]reachInfo{
		// Of two called symbols the first in order is named.
		"GO-2099-0001 example.com/lib": {level: reachCalled, symbol: "example.com/lib.Decoder.Parse", from: "example.com/app", at: "main.go:7", pkg: "example.com/lib", others: 1, version: "v1.0.0", fixed: "v1.2.0"},
		"GO-2099-0002 example.com/lib": {level: reachImported, pkg: "example.com/lib/codec", version: "v1.0.0"},
		"GO-2099-0003 stdlib":          {level: reachRequired, version: "v1.22.1"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(reachInfo{})); diff != "" {
		t.Errorf("parseGovulncheck (-want +got):\n%s", diff)
	}
	if g.entries["GO-2099-0001"] == nil {
		t.Error("the OSV entry in the stream was not kept")
	}
	ri := g.byVuln["GO-2099-0001"]["example.com/lib"]
	if msg, want := ri.message(), "reachable: example.com/lib.Decoder.Parse called from example.com/app (main.go:7) and 1 more vulnerable symbol(s)"; msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
}

func TestParseGovulncheckBroken(t *testing.T) {
	if _, err := parseGovulncheck(strings.NewReader(`{"finding": {"osv": `)); err == nil {
		t.Error("truncated output parsed")
	}
}
