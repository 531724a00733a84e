package secrets

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"

	"gantry.dev/gantry"
)

// Rule IDs of the rules Gantry adds to gitleaks' default set.
const (
	RuleConnectionString = "connection-string-password"
	RuleHighEntropy      = "generic-high-entropy-secret"
)

// Kinds of rule: they set a finding's severity and confidence.
const (
	KindProvider   = "provider"          // a token of a named service
	KindPrivateKey = "private-key"       // a private key block
	KindConnString = "connection-string" // a URL with a password
	KindGeneric    = "generic"           // a secret-looking assignment
	KindIdentifier = "identifier"        // a client or account ID: not secret alone
)

// mode is how the engine runs a rule over a file.
type mode uint8

const (
	// modeAnchored: every match starts with a keyword; the expression is
	// tried anchored at each keyword hit.
	modeAnchored mode = iota + 1
	// modeWindow: every match contains a keyword; the expression runs over
	// the lines around the hits.
	modeWindow
	// modeGated: a keyword gates the rule, but a match need not contain
	// it; the expression runs over the whole file.
	modeGated
	// modeAlways: no keywords; the expression runs over every file.
	modeAlways
	// modePath: no expression; the rule reports files by path.
	modePath
)

func (m mode) String() string {
	return [...]string{"", "anchored", "window", "gated", "always", "path"}[m]
}

// rule is one detection rule, compiled for the engine.
type rule struct {
	id          string
	title       string // short, for messages: "AWS access token"
	description string
	kind        string
	generic     bool // a generic rule gives way to a specific one on the same line

	re          *regexp.Regexp // the expression, unanchored
	anchored    *regexp.Regexp // ^(?:re), for a hit at offset 0
	anchoredCtx *regexp.Regexp // ^(?s:.)(?:re): the byte before the hit gives \b its context
	secretGroup int
	entropy     float64
	keywords    []string
	path        *regexp.Regexp
	allowlists  []*config.Allowlist

	mode          mode
	prefix        []byteSet // anchored: sets the first bytes of a match belong to
	before, after extent    // window: reach of a match around a hit
	maxLen        int       // anchored: longest match, or unbounded
	follow        *follow   // window: a byte that must follow a hit
	// window: the expression from the keyword on, anchored, with the
	// offsets of keywords within its first element; a cheap test a hit
	// passes before its lines are searched.
	tail, tailCtx *regexp.Regexp
	tailOffsets   []int

	// accept, when set, is a last check on a candidate secret: false
	// rejects it (a placeholder password, a code identifier).
	accept func(candidate) bool
}

// loadGitleaks reads gitleaks' default configuration, embedded in its
// module.
func loadGitleaks() (config.Config, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return config.Config{}, fmt.Errorf("read gitleaks default config: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return config.Config{}, fmt.Errorf("decode gitleaks default config: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return config.Config{}, fmt.Errorf("translate gitleaks default config: %w", err)
	}
	return cfg, nil
}

// ruleSet is the compiled rules with what the engine shares across files.
type ruleSet struct {
	rules     []*rule
	keywords  []string // distinct, lowercase
	kwRules   [][]int  // keyword index -> rules it triggers
	matcher   *keywordMatcher
	always    []int // rules with no keywords
	global    []*config.Allowlist
	pathRules []int
	// globalPaths matches the paths of the global allowlists whose
	// condition is "or", the ones that exempt a path on its own.
	globalPaths *pathFilter
}

// textAllowed reports whether the global allowlists exempt a whole text by
// its path or commit.
func (rs *ruleSet) textAllowed(path, commit string) bool {
	if path != "" && rs.globalPaths.match(path) {
		return true
	}
	for _, a := range rs.global {
		if a.MatchCondition == config.AllowlistMatchOr {
			if ok, _ := a.CommitAllowed(commit); ok {
				return true
			}
		} else if pathOrCommitAllowed([]*config.Allowlist{a}, path, commit) {
			return true
		}
	}
	return false
}

// buildRules compiles gitleaks' default rules and Gantry's own, less those
// disabled.
func buildRules(minEntropy float64, disabled []string) (*ruleSet, error) {
	cfg, err := loadGitleaks()
	if err != nil {
		return nil, err
	}
	rs := &ruleSet{global: cfg.Allowlists}
	var paths []string
	for _, a := range cfg.Allowlists {
		if a.MatchCondition == config.AllowlistMatchOr {
			for _, p := range a.Paths {
				paths = append(paths, p.String())
			}
		}
	}
	if rs.globalPaths, err = newPathFilter(paths); err != nil {
		return nil, fmt.Errorf("gitleaks global allowlist: %w", err)
	}
	for _, id := range cfg.OrderedRules {
		gr := cfg.Rules[id]
		if slices.Contains(disabled, id) {
			continue
		}
		r := &rule{
			id:          gr.RuleID,
			description: gr.Description,
			secretGroup: gr.SecretGroup,
			entropy:     gr.Entropy,
			keywords:    gr.Keywords,
			allowlists:  gr.Allowlists,
			kind:        kindOf(gr.RuleID),
			generic:     strings.Contains(gr.RuleID, "generic"),
		}
		if gr.Path != nil {
			// gitleaks' regexp may be RE2 through WebAssembly when built
			// with -tags gore2regex: recompile with Go's own.
			if r.path, err = regexp.Compile(gr.Path.String()); err != nil {
				return nil, fmt.Errorf("rule %s: compile path: %w", id, err)
			}
		}
		var expr string
		if gr.Regex != nil {
			expr = gr.Regex.String()
		}
		if r.kind == KindGeneric {
			r.accept = acceptGeneric
		}
		if err := rs.add(r, expr); err != nil {
			return nil, err
		}
	}
	for _, r := range gantryRules(minEntropy) {
		if slices.Contains(disabled, r.id) {
			continue
		}
		if err := rs.add(r.rule, r.expr); err != nil {
			return nil, err
		}
	}
	for _, id := range disabled {
		if !slices.ContainsFunc(rs.rules, func(r *rule) bool { return r.id == id }) {
			if _, ok := cfg.Rules[id]; !ok && id != RuleConnectionString && id != RuleHighEntropy {
				return nil, fmt.Errorf("disable rule %q: no such rule", id)
			}
		}
	}
	kwIndex := map[string]int{}
	for i, r := range rs.rules {
		switch r.mode {
		case modeAlways:
			rs.always = append(rs.always, i)
		case modePath:
			rs.pathRules = append(rs.pathRules, i)
		}
		for _, k := range r.keywords {
			j, ok := kwIndex[k]
			if !ok {
				j = len(rs.keywords)
				kwIndex[k] = j
				rs.keywords = append(rs.keywords, k)
				rs.kwRules = append(rs.kwRules, nil)
			}
			if !slices.Contains(rs.kwRules[j], i) {
				rs.kwRules[j] = append(rs.kwRules[j], i)
			}
		}
	}
	if rs.matcher, err = newKeywordMatcher(rs.keywords); err != nil {
		return nil, err
	}
	return rs, nil
}

// add analyses and compiles r with expression expr (empty for a rule that
// matches paths only) and appends it.
func (rs *ruleSet) add(r *rule, expr string) error {
	r.title = titleOf(r.id)
	for i, k := range r.keywords {
		r.keywords[i] = strings.ToLower(k)
	}
	if expr == "" {
		if r.path == nil {
			return fmt.Errorf("rule %s: neither expression nor path", r.id)
		}
		r.mode = modePath
		rs.rules = append(rs.rules, r)
		return nil
	}
	var err error
	if r.re, err = regexp.Compile(expr); err != nil {
		return fmt.Errorf("rule %s: compile: %w", r.id, err)
	}
	if r.secretGroup > r.re.NumSubexp() {
		return fmt.Errorf("rule %s: secret group %d of %d", r.id, r.secretGroup, r.re.NumSubexp())
	}
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return fmt.Errorf("rule %s: parse: %w", r.id, err)
	}
	switch {
	case len(r.keywords) == 0:
		r.mode = modeAlways
	case startsWithKeyword(tree, r.keywords):
		r.mode = modeAnchored
		r.prefix, _ = prefixSets(tree)
		r.maxLen = maxLen(tree)
		r.after = whole(tree)
		if r.anchored, err = regexp.Compile(`^(?:` + expr + `)`); err != nil {
			return fmt.Errorf("rule %s: compile anchored: %w", r.id, err)
		}
		if r.anchoredCtx, err = regexp.Compile(`^(?s:.)(?:` + expr + `)`); err != nil {
			return fmt.Errorf("rule %s: compile anchored: %w", r.id, err)
		}
	case impliesKeyword(tree, r.keywords):
		r.mode = modeWindow
		r.before, r.after = reach(tree, r.keywords)
		if f, ok := followOf(tree, r.keywords); ok {
			r.follow = &f
		}
		if t, ok := tailOf(tree, r.keywords); ok {
			if r.tail, err = regexp.Compile(`^(?:` + t.expr + `)`); err != nil {
				return fmt.Errorf("rule %s: compile tail: %w", r.id, err)
			}
			if r.tailCtx, err = regexp.Compile(`^(?s:.)(?:` + t.expr + `)`); err != nil {
				return fmt.Errorf("rule %s: compile tail: %w", r.id, err)
			}
			r.tailOffsets = t.offsets
		}
	default:
		r.mode = modeGated
	}
	rs.rules = append(rs.rules, r)
	return nil
}

// kindOf classifies a gitleaks rule by its ID.
func kindOf(id string) string {
	switch {
	case strings.Contains(id, "generic"):
		return KindGeneric
	case id == "private-key" || id == "pkcs12-file":
		return KindPrivateKey
	case strings.HasSuffix(id, "-client-id") || strings.HasSuffix(id, "-access-id") ||
		strings.HasSuffix(id, "-api-id") || strings.Contains(id, "-pub-") ||
		strings.HasSuffix(id, "-public-key"):
		return KindIdentifier
	}
	return KindProvider
}

// severity and confidence of a finding of a rule of kind k.
func kindRating(k string) (gantry.Severity, string) {
	switch k {
	case KindGeneric:
		return gantry.SeverityMedium, "low"
	case KindIdentifier:
		return gantry.SeverityMedium, "medium"
	}
	return gantry.SeverityHigh, "high"
}

var titleWords = map[string]string{
	"aws": "AWS", "gcp": "GCP", "api": "API", "jwt": "JWT", "pat": "PAT",
	"id": "ID", "ca": "CA", "cicd": "CI/CD", "ptt": "PTT", "rrt": "RRT",
	"scim": "SCIM", "oauth": "OAuth", "npm": "npm", "pypi": "PyPI",
	"github": "GitHub", "gitlab": "GitLab", "1password": "1Password",
	"openai": "OpenAI", "url": "URL", "sdk": "SDK", "ad": "AD", "tf": "TF",
	"yaml": "YAML", "pkcs12": "PKCS#12", "digitalocean": "DigitalOcean",
	"hashicorp": "HashiCorp", "new": "New", "relic": "Relic",
}

// titleOf makes a short name for messages from a rule ID:
// "aws-access-token" → "AWS access token".
func titleOf(id string) string {
	words := strings.Split(id, "-")
	for i, w := range words {
		if t, ok := titleWords[w]; ok {
			words[i] = t
		} else if i == 0 && w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}
