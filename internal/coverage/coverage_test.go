package coverage

import (
	"strings"
	"testing"

	"gantry.dev/gantry"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, report string
		want         Total
		percent      float64
	}{
		{"go", `mode: set
example.com/app/main.go:5.13,7.2 2 1
example.com/app/main.go:9.13,11.2 1 0
example.com/app/util.go:3.20,6.2 3 4
`, Total{FormatGo, 5, 6}, 83.3},
		{"go, profiles merged: a block counts once, covered if any says so", `mode: atomic
a.go:1.1,2.2 4 0
a.go:3.1,4.2 1 0
a.go:1.1,2.2 4 2
`, Total{FormatGo, 4, 5}, 80},
		{"lcov", `TN:
SF:src/a.js
DA:1,1
LF:10
LH:7
end_of_record
SF:src/b.js
LF:10
LH:1
end_of_record
`, Total{FormatLCOV, 8, 20}, 40},
		{"cobertura", `<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage lines-covered="150" lines-valid="200" line-rate="0.75" version="7.4"><packages/></coverage>`,
			Total{FormatCobertura, 150, 200}, 75},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.report))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || got.Percent() != tc.percent {
				t.Errorf("Parse = %+v (%.1f%%), want %+v (%.1f%%)", got, got.Percent(), tc.want, tc.percent)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, report, want string }{
		{"empty", "", "not a Go cover profile"},
		{"junit", `<testsuite tests="1"/>`, "the root element is <testsuite>, not <coverage>"},
		{"go, nothing", "mode: set\n", "covers nothing at all"},
		{"go, bad line", "mode: set\na.go:1.1,2.2 x 1\n", "line 2: expected FILE:RANGE STATEMENTS COUNT"},
		{"lcov, bad count", "SF:a\nLF:ten\n", `line 2: LF: expected a count, got "ten"`},
		{"lcov, more hit than found", "SF:a\nLF:1\nLH:2\n", "2 lines hit of 1 found"},
		{"cobertura, no counts", `<coverage line-rate="1"/>`, "needs lines-covered and lines-valid counts"},
		{"cobertura, broken", `<cover`, "no <coverage> element"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.report))
			if err == nil || gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want EInvalid saying %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"mode: set\na.go:1.1,2.2 3 1\n", "SF:a\nLF:3\nLH:2\n", `<coverage lines-covered="1" lines-valid="2"/>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tot, err := Parse(data)
		if err != nil {
			return
		}
		if tot.Total <= 0 || tot.Covered < 0 || tot.Covered > tot.Total || tot.Percent() < 0 || tot.Percent() > 100 {
			t.Fatalf("Parse = %+v", tot)
		}
	})
}
