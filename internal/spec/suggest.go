package spec

import (
	"slices"
	"strings"
)

// synonyms map keys that other CI systems use to Gantry's, so that a user
// coming from one is told the word Gantry expects.
var synonyms = map[string]string{
	"script":          "run",
	"scripts":         "run",
	"command":         "run",
	"commands":        "run",
	"cmd":             "run",
	"action":          "uses",
	"inputs":          "with",
	"depends_on":      "needs",
	"depends-on":      "needs",
	"dependencies":    "needs",
	"requires":        "needs",
	"after":           "needs",
	"variables":       "env",
	"vars":            "env",
	"environment":     "env",
	"if":              "when",
	"only":            "when",
	"rules":           "when",
	"on":              "event",
	"allow_failure":   "continue-on-error",
	"allow-failure":   "continue-on-error",
	"ignore-errors":   "continue-on-error",
	"timeout-minutes": "timeout",
	"timeout_minutes": "timeout",
	"artifacts":       "outputs",
	"jobs":            "steps",
	"tasks":           "steps",
	"container":       "image",
	"runs-on":         "executor",
	"retries":         "retry",
	"attempts":        "count",
	"max":             "count",
	"exit_codes":      "exit-codes",
}

// suggest returns the candidate closest to s when it is close enough to be
// what the user meant, or "".
func suggest(s string, candidates []string) string {
	if t, ok := synonyms[strings.ToLower(s)]; ok && slices.Contains(candidates, t) {
		return t
	}
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

// orList writes "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
