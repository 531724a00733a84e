package yamlfile

import (
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"run", "run", 0},
		{"tiemout", "timeout", 1}, // a swap is one edit
		{"neesd", "needs", 1},
		{"imag", "image", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},
		{"frö", "from", 2}, // runes, not bytes
	}
	for _, tc := range tests {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"to", "from", "timezone", "required_approvals", "name"}
	for s, want := range map[string]string{
		"TO":                 "to", // case does not count
		"ot":                 "to", // a swap is one edit
		"t":                  "to",
		"xy":                 "",
		"form":               "from",
		"fr":                 "", // two edits on a short word is another word
		"frö":                "", // three letters allow one edit
		"tmezone":            "timezone",
		"timezn":             "timezone",
		"tz":                 "to",
		"required_approval":  "required_approvals",
		"requird_aprovals":   "required_approvals",
		"reqd_approvals":     "",
		"nmae":               "name",
		"":                   "",
		"something-else-now": "",
	} {
		if got := Suggest(s, keys); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", s, got, want)
		}
	}
	if got := Suggest("x", nil); got != "" {
		t.Errorf("Suggest with no candidates = %q", got)
	}
}

func TestOrList(t *testing.T) {
	for _, tc := range []struct {
		items []string
		want  string
	}{
		{nil, "nothing"},
		{[]string{"a"}, "a"},
		{[]string{"a", "b"}, "a or b"},
		{[]string{"a", "b", "c"}, "a, b or c"},
	} {
		if got := OrList(tc.items); got != tc.want {
			t.Errorf("OrList(%q) = %q, want %q", tc.items, got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	doc := "map: {a: 1}\nlist: [1]\nnull: ~\nempty:\nbool: true\nint: 12\nfloat: 1.5\nstr: \"x y\"\n" +
		"long: " + strings.Repeat("é", 50) + "\ndate: 2026-01-02\ncustom: !thing v\nalias: &a abc\nref: *a\n"
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"map":    {"a mapping", "a mapping"},
		"list":   {"a list", "a list"},
		"null":   {"an empty value", "an empty value"},
		"empty":  {"an empty value", "an empty value"},
		"bool":   {"the boolean true", "the boolean true"},
		"int":    {"the number 12", "the number 12"},
		"float":  {"the number 1.5", "the number 1.5"},
		"str":    {`the string "x y"`, `the string "x y"`},
		"long":   {`the string "` + strings.Repeat("é", 37) + `..."`, `the string "` + strings.Repeat("é", 37) + `..."`},
		"date":   {`the value "2026-01-02" tagged !!timestamp`, `the value "2026-01-02"`},
		"custom": {`the value "v" tagged !thing`, `the value "v"`},
		"alias":  {`the string "abc"`, `the string "abc"`},
		"ref":    {`the string "abc"`, `the string "abc"`},
	}
	m := n.Content[0].Content
	for i := 0; i+1 < len(m); i += 2 {
		k, v := m[i].Value, m[i+1]
		if got := Describe(v); got != want[k][0] {
			t.Errorf("Describe(%s) = %q, want %q", k, got, want[k][0])
		}
		if got := DescribeUntagged(v); got != want[k][1] {
			t.Errorf("DescribeUntagged(%s) = %q, want %q", k, got, want[k][1])
		}
	}
	if got := Describe(&n); got != "a document" {
		t.Errorf("Describe(document) = %q", got)
	}
}

// TestResolve checks that aliases are followed and that a chain of them
// too long for any real file ends.
func TestResolve(t *testing.T) {
	target := &yaml.Node{Kind: yaml.ScalarNode, Value: "x"}
	n := target
	for range 3 {
		n = &yaml.Node{Kind: yaml.AliasNode, Alias: n}
	}
	if got := Resolve(n); got != target {
		t.Errorf("Resolve of three aliases = %+v", got)
	}
	loop := &yaml.Node{Kind: yaml.AliasNode}
	loop.Alias = loop
	if got := Resolve(loop); got != loop {
		t.Errorf("Resolve of a loop = %+v", got)
	}
	if Resolve(nil) != nil {
		t.Error("Resolve(nil) is not nil")
	}
}
