package testcode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func addFixtures(f *testing.F, pattern string) {
	files, _ := filepath.Glob(pattern)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
}

func checkLines(t *testing.T, rep *reporter) {
	for _, x := range rep.out {
		if x.Location.Line < 1 || x.Location.Column < 1 {
			t.Fatalf("finding without a position: %+v", x)
		}
	}
}

// FuzzJS checks that no input makes the JavaScript reading panic.
func FuzzJS(f *testing.F) {
	addFixtures(f, "testdata/fixtures/js/*.*")
	f.Add("fetch(`${a`)\n/[/]/.exec('x'); x = a / b / c; `${`")
	f.Fuzz(func(t *testing.T, src string) {
		rep := newReporter("x.test.js", nil)
		checkJS(rep, src)
		checkLines(t, rep)
	})
}

// FuzzPython checks that no input makes the Python reading panic.
func FuzzPython(f *testing.F) {
	addFixtures(f, "testdata/fixtures/py/*.py")
	f.Add("open(f'{x!r:>{w}}', 'w')\n'''unterminated")
	f.Fuzz(func(t *testing.T, src string) {
		rep := newReporter("test_x.py", nil)
		checkPython(rep, src)
		checkLines(t, rep)
	})
}

// FuzzGo checks that no input makes the Go reading panic.
func FuzzGo(f *testing.F) {
	addFixtures(f, "testdata/fixtures/go/*.go")
	f.Fuzz(func(t *testing.T, src string) {
		rep := newReporter("x_test.go", nil)
		if checkGo(rep, []byte(src)) == nil {
			checkLines(t, rep)
		}
	})
}

// TestPathological feeds each reader inputs built to make naive scanning
// quadratic or evaluation exponential, at the size limit.
func TestPathological(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: reads several 1 MiB inputs")
	}
	const size = DefaultMaxFileSize
	var chain strings.Builder
	chain.WriteString("a0 = 'x'\n")
	for i := 1; i < 200; i++ {
		chain.WriteString("a" + itoa(i) + " = " + strings.Repeat("a"+itoa(i-1)+" + ", 20) + "''\n")
	}
	chain.WriteString("open(a199, 'w')\n")
	var goChain strings.Builder
	goChain.WriteString("package x\nimport \"os\"\nfunc TestX() {\na0 := \"/x\"\n")
	for i := 1; i < 200; i++ {
		goChain.WriteString("a" + itoa(i) + " := " + strings.Repeat("a"+itoa(i-1)+" + ", 20) + "\"\"\n")
	}
	goChain.WriteString("os.WriteFile(a199, nil, 0)\n}\n")
	cases := []struct {
		name string
		run  func()
	}{
		{"js unbalanced calls", func() { checkJS(newReporter("x.test.js", nil), strings.Repeat("f(", size/2)) }},
		{"js receivers", func() { checkJS(newReporter("x.test.js", nil), strings.Repeat("(x).a(", size/6)) }},
		{"js closers", func() { checkJS(newReporter("x.test.js", nil), strings.Repeat(").a(", size/4)) }},
		{"js assignments", func() { checkJS(newReporter("x.test.js", nil), strings.Repeat("const a = (", size/11)) }},
		{"python unbalanced calls", func() { checkPython(newReporter("test_x.py", nil), strings.Repeat("f(", size/2)) }},
		{"python chained variables", func() { checkPython(newReporter("test_x.py", nil), chain.String()) }},
		{"go chained variables", func() { _ = checkGo(newReporter("x_test.go", nil), []byte(goChain.String())) }},
	}
	for _, c := range cases {
		start := time.Now()
		c.run()
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s took %v", c.name, d)
		} else {
			t.Logf("%s: %v", c.name, d)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
