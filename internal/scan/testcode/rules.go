package testcode

import (
	"io"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/scan"
)

// Rule is one check of the scanner.
type Rule = scan.Rule

// Rule IDs. The table in rules below documents each one.
const (
	ruleNet  = "GTC-NET-001"
	ruleExec = "GTC-EXEC-001"
	ruleFS   = "GTC-FS-001"
	ruleCred = "GTC-CRED-001"
	ruleEnv  = "GTC-ENV-001"
)

var rules = []Rule{
	{
		ID: ruleNet, Title: "Test connects to a non-loopback host", Severity: gantry.SeverityMedium, CWE: []string{"CWE-200", "CWE-506"},
		Rationale: "A test opens a connection (an HTTP request, a dial, a socket, fetch or requests) to a " +
			"host given as a literal that is not the machine itself. Tests run in CI next to tokens and " +
			"source code, so a call out is the simplest way for hostile test code, added by a " +
			"contributor or a compromised dependency, to send them away; even an innocent one makes " +
			"the suite depend on a service outside the run and leaks that the run happened. " +
			"Loopback and unspecified addresses, localhost, the documentation address ranges, the " +
			"names reserved for tests and documentation (.test, .invalid, .example, .localhost, " +
			"example.com, example.net, example.org), single-label names such as a service " +
			"container's, URLs that come from a test server " +
			"(httptest.Server.URL), requests that are built but never sent, and URLs given to HTTP " +
			"mocking libraries are not reported.",
		Fix: "Serve the dependency from the test itself: httptest.NewServer or a listener on " +
			"127.0.0.1:0 in Go, a local stub server or a request mock in JavaScript and Python. " +
			"Tests that must reach a real service belong in a separately gated integration suite " +
			"that runs without production secrets.",
	},
	{
		ID: ruleExec, Title: "Test starts a shell or inline interpreter", Severity: gantry.SeverityMedium, CWE: []string{"CWE-78"},
		Rationale: "A test runs sh, bash, cmd, PowerShell or another shell, runs python, perl, node or " +
			"ruby with code given on the command line (-c, -e), passes shell=True to subprocess, or " +
			"uses a child_process function that goes through a shell. A command line is an easy " +
			"place to hide a payload (a download, an exfiltration, a change to the workspace) and " +
			"is open to injection when any part of it is built from data. Running a named program " +
			"with fixed arguments (git -c key=value, go test -c) is not reported.",
		Fix: "Call the program directly with an argument list (exec.Command(\"git\", \"status\"), " +
			"subprocess.run([...]) without shell=True, execFile/spawn without shell: true), or do " +
			"the work in the test's own language.",
	},
	{
		ID: ruleFS, Title: "Test writes outside temporary directories", Severity: gantry.SeverityMedium, CWE: []string{"CWE-668"},
		Rationale: "A test writes, creates, removes or changes the mode of a file at an absolute path that " +
			"is not under /tmp or /var/tmp, or under the user's home directory. Such writes reach " +
			"beyond the test: they can plant files that later runs or other jobs on the same runner " +
			"pick up (shell profiles, SSH authorized keys, tool configuration), destroy data on a " +
			"developer's machine, and make tests interfere with each other.",
		Fix: "Write under the directory the test framework provides: t.TempDir() in Go, tmp_path in " +
			"pytest, fs.mkdtemp(os.tmpdir()) in Node. Point code that writes to the home directory " +
			"at a temporary one (t.Setenv(\"HOME\", t.TempDir())).",
	},
	{
		ID: ruleCred, Title: "Test reads a credential file", Severity: gantry.SeverityHigh, CWE: []string{"CWE-200", "CWE-522"},
		Rationale: "A test reads, or passes to a command, a file that holds credentials of the user or " +
			"machine: SSH keys and configuration (~/.ssh), cloud and registry credentials (~/.aws, " +
			"~/.docker/config.json, ~/.config/gcloud, ~/.kube/config), ~/.netrc, ~/.git-credentials, " +
			"~/.npmrc, ~/.pypirc, GnuPG keys, /etc/shadow. No test needs the real ones, and reading " +
			"them is what credential-stealing code does. Files of the same name in the test's own " +
			"fixtures (a relative path such as testdata/id_rsa) or under a temporary directory are " +
			"not reported.",
		Fix: "Generate the key or configuration the test needs into a temporary directory, or keep a " +
			"throwaway fixture in testdata, and point the code under test at it.",
	},
	{
		ID: ruleEnv, Title: "Test reads a secret environment variable", Severity: gantry.SeverityMedium, CWE: []string{"CWE-526"},
		Rationale: "A test reads an environment variable whose name says it holds a secret (…TOKEN, " +
			"…SECRET, …PASSWORD, …KEY, …CREDENTIALS, AWS_…). In CI the variable may hold a real " +
			"credential, and a test that reads it can leak it into logs, artifacts or a request. " +
			"Setting such a variable (t.Setenv, monkeypatch.setenv, an assignment to process.env) " +
			"is not reported, nor are names of files or paths (…_FILE, …_PATH).",
		Fix: "Give the code under test a fake value (t.Setenv(\"API_TOKEN\", \"test\")) instead of " +
			"reading the real one. A test that needs a real credential belongs in a gated " +
			"integration suite whose secrets are scoped to it.",
	},
}

// Rules returns the scanner's rules.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	copy(out, rules)
	return out
}

func ruleByID(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// writeRulesMarkdown writes RULES.md, the reference of every rule, from
// the rule table.
func writeRulesMarkdown(w io.Writer) error {
	return scan.WriteRulesDoc(w,
		"# test-code scanner rules\n\n"+
			"<!-- Generated from internal/scan/testcode/rules.go by `go test ./internal/scan/testcode -run TestRulesDoc -update`. Do not edit. -->\n\n"+
			"The `test-code` scanner reads test code (Go `*_test.go`; JavaScript and TypeScript "+
			"`*.test.*`, `*.spec.*` and files under `__tests__/`; Python `test_*.py`, `*_test.py` and "+
			"`conftest.py`) for API calls that a test has no business making. Go files are read "+
			"through their syntax tree, with import names and local variables resolved; "+
			"JavaScript, TypeScript and Python with a lighter, pattern-based reading, so their "+
			"findings have medium confidence. Only literal values, and variables assigned "+
			"them in the same function or file, are judged: a URL or path that is computed at "+
			"run time is not reported.\n\n"+
			"Directories named `.git`, `node_modules`, `vendor` and `testdata`, and `.gantry/state`, "+
			"are not walked (`testdata` can be included with the `include-testdata: true` input). "+
			"A file over 1 MiB, or a Go file that does not parse, is reported as a gap.\n\n",
		rules, nil)
}
