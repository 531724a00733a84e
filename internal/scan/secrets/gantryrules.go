package secrets

import (
	"bytes"
	"path"
	"regexp"
	"strings"
)

// DefaultMinEntropy is the Shannon entropy, in bits per byte, a value
// assigned to a secret-looking name must exceed to be reported by the
// generic-high-entropy-secret rule.
const DefaultMinEntropy = 3.5

type exprRule struct {
	*rule
	expr string
}

// gantryRules are the rules Gantry adds to gitleaks' defaults.
func gantryRules(minEntropy float64) []exprRule {
	return []exprRule{
		{
			rule: &rule{
				id:          RuleConnectionString,
				description: "A database or message broker URL with a password in it.",
				kind:        KindConnString,
				secretGroup: 1,
				keywords: []string{
					"postgres://", "postgresql://", "mysql://", "mongodb://",
					"mongodb+srv://", "amqp://", "amqps://", "redis://", "rediss://",
				},
				accept: acceptPassword,
			},
			// scheme://user:password@host — the user may be empty
			// (redis://:password@host), the password may not.
			expr: `(?i)\b(?:postgres(?:ql)?|mysql|mongodb(?:\+srv)?|amqps?|rediss?)://` +
				`[^\s:@/?#'"\x60<>]*:([^\s@/'"\x60<>]+)@[^\s@/?#'"\x60<>]+`,
		},
		{
			rule: &rule{
				id:          RuleHighEntropy,
				description: "A high-entropy value assigned to a name that says it is a secret.",
				kind:        KindGeneric,
				generic:     true,
				secretGroup: 2,
				entropy:     minEntropy,
				keywords: []string{
					"secret", "token", "passw", "pwd", "api", "access", "private",
					"auth", "credential", "signing", "encryption",
				},
				accept: acceptHighEntropy,
			},
			// name [:=] value, on one line; the value may be quoted, and
			// wrapped in a conversion: []byte("…"), Buffer.from('…').
			expr: `(?i)\b([a-z0-9_.-]*(?:secret|token|passw(?:or)?d|pwd|api[_.-]?key|` +
				`access[_.-]?key|private[_.-]?key|auth[_.-]?key|credentials?|signing[_.-]?key|` +
				`encryption[_.-]?key)[a-z0-9_.-]*)["']?[ \t]*(?::=|=>|=|:)[ \t]*(?:[a-z0-9_.\[\]]{0,24}\([ \t]*)?` +
				`(?:["'\x60]|[a-z]?["'])?([a-z0-9+/=_\-.~!@#$%^&*]{12,})`,
		},
	}
}

// Placeholders: values that stand for a secret without being one.
var (
	placeholderPassword = regexp.MustCompile(`(?i)^(?:` +
		`pass(?:word)?|passwd|pwd|secret|changeme|change[_-]?me|example|sample|dummy|` +
		`placeholder|redacted|hidden|null|none|nil|undefined|todo|fixme|your[_-]?password|` +
		`my[_-]?password|x+|\*+|\.+|_+|-+|` +
		`<[^>]*>|\[[^\]]*\]|\{[^}]*\}|\$\{[^}]*\}|\$\([^)]*\)|\$[a-z_][a-z0-9_]*|` +
		`\{\{.*\}\}|%[a-z_(][^%]*%?|%[sdv]|:[a-z_]+` +
		`)$`)
	placeholderWords = [][]byte{
		[]byte("example"), []byte("changeme"), []byte("change_me"), []byte("placeholder"),
		[]byte("your_"), []byte("your-"), []byte("xxxx"), []byte("****"), []byte("<"),
		[]byte("${"), []byte("{{"), []byte("dummy"), []byte("redacted"), []byte("sample"),
	}
	uuidRE      = regexp.MustCompile(`(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dottedIdent = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+$`)
	lettersOnly = regexp.MustCompile(`^[A-Za-z_.\-]+$`)
)

// candidate is a secret a rule found, with what surrounds it.
type candidate struct {
	secret       []byte
	before, next byte // the bytes around the secret, 0 at the ends
	path         string
}

// acceptPassword rejects placeholder passwords in connection strings.
func acceptPassword(c candidate) bool {
	return !placeholderPassword.Match(c.secret) && !hasPlaceholderWord(c.secret)
}

// acceptGeneric applies to gitleaks' generic rule the filters Gantry's own
// generic rule uses that do not depend on its expression: identifiers such
// as UUIDs are not secrets.
func acceptGeneric(c candidate) bool {
	return !uuidRE.Match(c.secret)
}

// codeExts are extensions of source files, where a secret is a string
// literal: an unquoted value there is an expression or a variable.
var codeExts = map[string]bool{
	".go": true, ".js": true, ".mjs": true, ".cjs": true, ".jsx": true, ".ts": true,
	".tsx": true, ".py": true, ".rb": true, ".java": true, ".kt": true, ".kts": true,
	".scala": true, ".groovy": true, ".cs": true, ".fs": true, ".vb": true, ".php": true,
	".rs": true, ".c": true, ".h": true, ".cc": true, ".cpp": true, ".hpp": true,
	".m": true, ".mm": true, ".swift": true, ".dart": true, ".lua": true, ".pl": true,
	".ex": true, ".exs": true, ".erl": true, ".clj": true, ".hs": true, ".ml": true,
	".r": true, ".jl": true, ".zig": true, ".v": true, ".sol": true,
}

func quote(b byte) bool { return b == '"' || b == '\'' || b == '`' }

// acceptHighEntropy keeps values that look random and are not code, an
// identifier or a placeholder.
func acceptHighEntropy(c candidate) bool {
	secret := c.secret
	if codeExts[strings.ToLower(path.Ext(c.path))] && !quote(c.before) {
		return false // code: an expression, not a literal
	}
	if c.next == '(' || c.next == '[' {
		return false // a call or an index: code
	}
	if uuidRE.Match(secret) || dottedIdent.Match(secret) || lettersOnly.Match(secret) ||
		wordish(secret) || hasPlaceholderWord(secret) {
		return false
	}
	var digit, letter bool
	for _, b := range secret {
		switch {
		case '0' <= b && b <= '9':
			digit = true
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z':
			letter = true
		}
	}
	return digit && letter
}

// wordish reports whether s reads as words: each part between separators
// letters then at most four digits, or at most four digits
// ("prod-db-credentials-v2", "WordPieceTokenizer2", "2023-10-01"). A
// random value has digits among its letters.
func wordish(s []byte) bool {
	for _, part := range bytes.FieldsFunc(s, func(r rune) bool {
		return strings.ContainsRune("-_./:~", r)
	}) {
		i := 0
		for i < len(part) && ('a' <= part[i]|0x20 && part[i]|0x20 <= 'z') {
			i++
		}
		digits := len(part) - i
		for ; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false
			}
		}
		if digits > 4 {
			return false
		}
	}
	return true
}

func hasPlaceholderWord(secret []byte) bool {
	lower := bytes.ToLower(secret)
	for _, w := range placeholderWords {
		if bytes.Contains(lower, w) {
			return true
		}
	}
	return false
}
