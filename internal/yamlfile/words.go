package yamlfile

import (
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Resolve follows an alias to the node it names. It gives up after 100
// aliases in a row, which only a hostile file has.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// Describe names what a node is, for "expected X, got Y": "a mapping",
// "a list", "an empty value", "the boolean true", "the number 3", "the
// string \"x\"", and for a value of any other tag "the value \"x\" tagged
// !t". Long values are cut to 40 characters.
func Describe(n *yaml.Node) string { return describe(n, true) }

// DescribeUntagged is Describe without the tag of a value that is none
// of null, boolean, number and string: "the value \"x\"".
func DescribeUntagged(n *yaml.Node) string { return describe(n, false) }

func describe(n *yaml.Node, tagged bool) string {
	n = Resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	v := n.Value
	if r := []rune(v); len(r) > 40 {
		v = string(r[:37]) + "..."
	}
	switch n.ShortTag() {
	case "!!null":
		return "an empty value"
	case "!!bool":
		return "the boolean " + v
	case "!!int", "!!float":
		return "the number " + v
	case "!!str":
		return "the string " + strconv.Quote(v)
	}
	if !tagged {
		return fmt.Sprintf("the value %q", v)
	}
	return fmt.Sprintf("the value %q tagged %s", v, n.Tag)
}

// OrList writes "a, b or c", and "nothing" for no items.
func OrList(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// Suggest returns the candidate closest to s when it is close enough to
// be a typo of it, or "". Case does not count; a candidate equal to s but
// for case wins at once.
func Suggest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if strings.EqualFold(s, c) {
			return c
		}
		d := distance(strings.ToLower(s), strings.ToLower(c))
		if d <= maxDistance(s, c) && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// maxDistance is how many edits still look like a typo rather than a
// different word.
func maxDistance(s, c string) int {
	n := min(len([]rune(s)), len([]rune(c)))
	switch {
	case n <= 3:
		return 1
	case n <= 7:
		return 2
	default:
		return 3
	}
}

// distance is the optimal string alignment distance between a and b: the
// Levenshtein distance where swapping two adjacent letters is one edit.
func distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// Three rows are enough: the transposition looks two rows back.
	prev2 := make([]int, len(t)+1)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}
