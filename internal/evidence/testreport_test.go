package evidence

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

const junitReport = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="all" tests="6" failures="1" errors="1" skipped="1">
  <testsuite name="pkg/a" tests="3">
    <testcase classname="pkg/a" name="TestOK" time="0.01"/>
    <testcase classname="pkg/a" name="TestBroken" time="0.02">
      <failure message="want 1, got 2" type="assert">a_test.go:12: want 1, got 2</failure>
    </testcase>
    <testcase classname="pkg/a" name="TestLater"><skipped message="not yet"/></testcase>
  </testsuite>
  <testsuite name="outer">
    <testsuite name="inner">
      <testcase name="no class"></testcase>
      <testcase classname="pkg/b" name="TestPanics"><error message="panic">boom</error></testcase>
      <testcase classname="pkg/b" name="TestFlaky"><system-out>retrying</system-out></testcase>
    </testsuite>
  </testsuite>
</testsuites>
`

const goTestJSON = `{"Time":"2026-03-01T12:00:00Z","Action":"start","Package":"example.com/app"}
{"Time":"2026-03-01T12:00:00Z","Action":"run","Package":"example.com/app","Test":"TestA"}
{"Time":"2026-03-01T12:00:00Z","Action":"output","Package":"example.com/app","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Time":"2026-03-01T12:00:00Z","Action":"pass","Package":"example.com/app","Test":"TestA","Elapsed":0}
{"Time":"2026-03-01T12:00:00Z","Action":"pass","Package":"example.com/app","Test":"TestB/sub","Elapsed":0}
{"Time":"2026-03-01T12:00:00Z","Action":"fail","Package":"example.com/app","Test":"TestB","Elapsed":0}
{"Time":"2026-03-01T12:00:00Z","Action":"skip","Package":"example.com/app","Test":"TestC","Elapsed":0}
{"Time":"2026-03-01T12:00:00Z","Action":"fail","Package":"example.com/app","Elapsed":0.1}
# example.com/app/broken
broken/x.go:3:1: syntax error: non-declaration statement outside function body
{"Time":"2026-03-01T12:00:00Z","Action":"output","Package":"example.com/app/broken","Output":"FAIL\texample.com/app/broken [build failed]\n"}
{"Time":"2026-03-01T12:00:00Z","Action":"fail","Package":"example.com/app/broken","Elapsed":0}
{"Time":"2026-03-01T12:00:00Z","Action":"pass","Package":"example.com/app/ok","Elapsed":0}
`

func TestParseTestReport(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want *TestReport
	}{
		{"junit", junitReport, &TestReport{
			Format:  FormatJUnit,
			Passed:  []string{"pkg/a.TestOK", "no class", "pkg/b.TestFlaky"},
			Failed:  []string{"pkg/a.TestBroken", "pkg/b.TestPanics"},
			Skipped: []string{"pkg/a.TestLater"},
		}},
		{"junit one suite with BOM", "\ufeff  <testsuite><testcase name=\"x\"/></testsuite>", &TestReport{Format: FormatJUnit, Passed: []string{"x"}}},
		{"junit no tests", "<testsuites/>", &TestReport{Format: FormatJUnit}},
		{"go test -json", goTestJSON, &TestReport{
			Format:  FormatGoTestJSON,
			Passed:  []string{"example.com/app.TestA", "example.com/app.TestB/sub"},
			Failed:  []string{"example.com/app.TestB", "example.com/app/broken"},
			Skipped: []string{"example.com/app.TestC"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTestReport([]byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseTestReport (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTestReportInvalid(t *testing.T) {
	long := strings.Repeat("n", maxTestName+1)
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"empty", " \n", "test report is empty"},
		{"text", "ok  example.com/app 0.1s\n", "neither JUnit XML nor go test -json"},
		{"wrong root", "<html><body/></html>", "root element is <html>"},
		{"broken XML", "<testsuites><testcase name='a'></testsuites>", "JUnit test report"},
		{"truncated XML", "<testsuites><testsuite>", "JUnit test report"},
		{"nested testcase", "<testsuite><testcase><testcase/></testcase></testsuite>", "inside a <testcase>"},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><testsuite/>`, "JUnit test report"},
		{"long junit name", `<testsuite><testcase name="` + long + `"/></testsuite>`, "longer than the limit"},
		{"bad JSON line", `{"Action":"pass","Test":"A"}` + "\n" + `{"Action":` + "\n", "line 2"},
		{"no events", "{}\n{\"Action\":\"nothing\"}" + "\n", "nothing-is-fine"},
		{"long go name", `{"Action":"pass","Test":"` + long + `"}`, "longer than the limit"},
		{"too large", "<" + strings.Repeat(" ", MaxTestReportSize), "larger than the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseTestReport([]byte(tc.data))
			if tc.want == "nothing-is-fine" {
				// Events that end no test are events all the same.
				if err != nil || len(r.Passed)+len(r.Failed)+len(r.Skipped) != 0 {
					t.Errorf("ParseTestReport = %v, %v", r, err)
				}
				return
			}
			if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseTestReport: %v, want an invalid error with %q", err, tc.want)
			}
		})
	}
}

func TestParseTestReportTooManyTests(t *testing.T) {
	var b strings.Builder
	b.WriteString("<testsuite>")
	for range maxTests + 1 {
		b.WriteString(`<testcase name="t"/>`)
	}
	b.WriteString("</testsuite>")
	if _, err := ParseTestReport([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "more than 200000 tests") {
		t.Errorf("ParseTestReport of too many tests: %v", err)
	}
}

func FuzzParseTestReport(f *testing.F) {
	f.Add([]byte(junitReport))
	f.Add([]byte(goTestJSON))
	f.Add([]byte("<testsuite><testcase name='a'><skipped/><failure/></testcase></testsuite>"))
	f.Add([]byte(`{"Action":"fail","Package":"p"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseTestReport(data)
		if err != nil {
			if gantry.ErrorKind(err) != gantry.EInvalid {
				t.Errorf("error of kind %s: %v", gantry.ErrorKind(err), err)
			}
			return
		}
		if r.Format != FormatJUnit && r.Format != FormatGoTestJSON {
			t.Errorf("format %q", r.Format)
		}
		for _, names := range [][]string{r.Passed, r.Failed, r.Skipped} {
			for _, n := range names {
				if len(n) > maxTestName {
					t.Errorf("a test name of %d bytes", len(n))
				}
			}
		}
	})
}
