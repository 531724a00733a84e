package evidence

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"gantry.dev/gantry"
)

// Limits on a test report, so that a step cannot make its attestation
// unbounded.
const (
	MaxTestReportSize = 32 << 20 // bytes
	maxTests          = 200_000
	maxTestName       = 1024 // bytes
)

// The test report formats.
const (
	FormatJUnit      = "junit"        // JUnit XML
	FormatGoTestJSON = "go-test-json" // the output of go test -json
)

// TestReport is what a step's test report says: the names of the tests
// that passed, failed (or errored) and were skipped.
type TestReport struct {
	Format  string
	Passed  []string
	Failed  []string
	Skipped []string
}

// ParseTestReport reads a JUnit XML report or go test -json output,
// telling them apart by their first byte.
func ParseTestReport(data []byte) (*TestReport, error) {
	if len(data) > MaxTestReportSize {
		return nil, gantry.Errorf(gantry.EInvalid, "test report of %d bytes is larger than the limit of %d", len(data), MaxTestReportSize)
	}
	body := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	var r *TestReport
	var err error
	switch {
	case len(body) == 0:
		return nil, gantry.Errorf(gantry.EInvalid, "test report is empty")
	case body[0] == '<':
		r, err = parseJUnit(body)
	case body[0] == '{':
		r, err = parseGoTestJSON(body)
	default:
		return nil, gantry.Errorf(gantry.EInvalid, "test report is neither JUnit XML nor go test -json output")
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// add records one test's outcome within the limits.
func (r *TestReport) add(name, outcome string) error {
	if len(name) > maxTestName {
		return gantry.Errorf(gantry.EInvalid, "%s test report: a test name of %d bytes is longer than the limit of %d", r.Format, len(name), maxTestName)
	}
	if len(r.Passed)+len(r.Failed)+len(r.Skipped) >= maxTests {
		return gantry.Errorf(gantry.EInvalid, "%s test report: more than %d tests", r.Format, maxTests)
	}
	switch outcome {
	case "pass":
		r.Passed = append(r.Passed, name)
	case "fail":
		r.Failed = append(r.Failed, name)
	case "skip":
		r.Skipped = append(r.Skipped, name)
	}
	return nil
}

// parseJUnit reads JUnit XML: <testsuites> or <testsuite> at the root,
// suites nested to any depth, and <testcase> elements whose <failure> or
// <error> child fails them and whose <skipped> child skips them.
func parseJUnit(data []byte) (*TestReport, error) {
	r := &TestReport{Format: FormatJUnit}
	bad := func(err error) (*TestReport, error) {
		return nil, gantry.Errorf(gantry.EInvalid, "JUnit test report: %w", err)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	var (
		depth   int
		root    bool
		inCase  bool
		name    string
		outcome string
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bad(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				if t.Name.Local != "testsuites" && t.Name.Local != "testsuite" {
					return bad(fmt.Errorf("the root element is <%s>, want <testsuites> or <testsuite>", t.Name.Local))
				}
				root = true
			}
			switch t.Name.Local {
			case "testcase":
				if inCase {
					return bad(errors.New("a <testcase> inside a <testcase>"))
				}
				inCase, outcome = true, "pass"
				var class string
				name = ""
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "name":
						name = a.Value
					case "classname":
						class = a.Value
					}
				}
				if class != "" {
					name = class + "." + name
				}
			case "failure", "error":
				if inCase {
					outcome = "fail"
				}
			case "skipped":
				if inCase && outcome != "fail" {
					outcome = "skip"
				}
			}
		case xml.EndElement:
			depth--
			if t.Name.Local == "testcase" && inCase {
				if err := r.add(name, outcome); err != nil {
					return nil, err
				}
				inCase = false
			}
		}
	}
	if !root {
		return bad(errors.New("no root element"))
	}
	return r, nil
}

// testEvent is the part of a go test -json event that says how a test
// ended.
type testEvent struct {
	Action  string
	Package string
	Test    string
}

// parseGoTestJSON reads go test -json output. Lines that are not JSON
// objects (a build error printed to the same file) are passed over; a
// package that failed with no failed test (it did not build) is a failed
// test named after the package.
func parseGoTestJSON(data []byte) (*TestReport, error) {
	r := &TestReport{Format: FormatGoTestJSON}
	events := 0
	pkgFailed := map[string]bool{}
	var pkgOrder []string
	testFailed := map[string]bool{}
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var e testEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, gantry.Errorf(gantry.EInvalid, "go test -json report: line %d: %w", n+1, err)
		}
		events++
		switch e.Action {
		case "pass", "fail", "skip":
		default:
			continue
		}
		if e.Test == "" {
			if e.Action == "fail" && !pkgFailed[e.Package] {
				pkgFailed[e.Package] = true
				pkgOrder = append(pkgOrder, e.Package)
			}
			continue
		}
		if e.Action == "fail" {
			testFailed[e.Package] = true
		}
		name := e.Test
		if e.Package != "" {
			name = e.Package + "." + e.Test
		}
		if err := r.add(name, e.Action); err != nil {
			return nil, err
		}
	}
	if events == 0 {
		return nil, gantry.Errorf(gantry.EInvalid, "go test -json report: no test events")
	}
	for _, pkg := range pkgOrder {
		if !testFailed[pkg] {
			if err := r.add(pkg, "fail"); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}
