package secrets

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFromEnviron(t *testing.T) {
	got := FromEnviron([]string{"GANTRY_SECRET_DB=pw=x", "HOME=/root", "GANTRY_SECRET_=bad", "GANTRY_SECRET_1X=bad"})
	if diff := cmp.Diff(map[string]string{"DB": "pw=x"}, got); diff != "" {
		t.Errorf("FromEnviron (-want +got):\n%s", diff)
	}
}

func TestParse(t *testing.T) {
	got, err := Parse("s.env", []byte("# comment\n\nA=plain\nexport B=\"quoted\\nline\"\nC='single \\n'\n D = spaced \n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "plain", "B": "quoted\nline", "C": `single \n`, "D": "spaced"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ in, want string }{
		{"novalue", "s.env:1: expected NAME=value"},
		{"1A=x", `s.env:1: secret name "1A"`},
		{"A=1\nA=2", "s.env:2: secret A is defined twice"},
		{`A="unterminated\"`, "s.env:1: the double-quoted value of A"},
	} {
		_, err := Parse("s.env", []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "unterminated") {
			t.Errorf("error echoes the value: %v", err)
		}
	}
}

// FuzzParse checks that a secrets file of any content is parsed or refused
// without a panic, and that only well-formed names are accepted.
func FuzzParse(f *testing.F) {
	f.Add([]byte("A=1\nexport B=\"two\"\n# c\nC='3'\n"))
	f.Add([]byte("bad line\n"))
	f.Add([]byte("A=\"\\x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse("f.env", data)
		if err != nil {
			if got != nil {
				t.Fatalf("Parse returned values and an error")
			}
			return
		}
		for name := range got {
			if !nameRE.MatchString(name) {
				t.Fatalf("accepted bad name %q", name)
			}
		}
	})
}
