package spec

import (
	"slices"
	"strings"

	"gantry.dev/gantry/internal/yamlfile"
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
// what the user meant, or "": the word Gantry uses for a synonym first,
// else the nearest typo.
func suggest(s string, candidates []string) string {
	if t, ok := synonyms[strings.ToLower(s)]; ok && slices.Contains(candidates, t) {
		return t
	}
	return yamlfile.Suggest(s, candidates)
}
