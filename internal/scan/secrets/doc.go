// Package secrets is Gantry's secrets scanner: it finds credentials
// committed to a repository, in the working tree and, when asked, in every
// line the repository's commits added.
//
// # Rules
//
// The rules come from three sources:
//
//   - gitleaks' default rule set (about 220 rules: cloud keys, provider
//     tokens, private keys, JWTs, a generic API key rule), read from the
//     configuration embedded in the github.com/zricethezav/gitleaks/v8
//     module, with its global and per-rule allowlists (paths, regexes,
//     stopwords, commits, "and" conditions) honoured as gitleaks honours
//     them;
//   - connection-string-password: postgres, postgresql, mysql, mongodb,
//     mongodb+srv, amqp, amqps, redis and rediss URLs whose password is
//     present and not a placeholder ("password", "changeme", ${VAR}, $VAR,
//     {{ … }}, <…>);
//   - generic-high-entropy-secret: a value assigned (=, :, :=, =>) to a name
//     that says it is a secret (token, secret, password, api_key,
//     private_key, credentials, …) whose Shannon entropy exceeds
//     Options.MinEntropy (3.5 bits per byte by default), that mixes letters
//     and digits, and that is not a UUID, a dotted identifier or a
//     placeholder; in source files only quoted values count, as unquoted
//     ones there are expressions.
//
// Each finding's severity and confidence follow the kind of rule: high and
// high for provider tokens, private keys and connection strings; medium
// and medium for identifiers (client IDs, public keys); medium and low for
// generic rules. Every finding carries CWE-798.
//
// # What is not scanned or not reported
//
//   - .git, .gantry/state, and the directories named in Options.SkipDirs.
//     Vendored code and testdata are scanned unless a project names them
//     there: test fixtures are a common place for real credentials.
//   - Paths in gitleaks' global allowlist (images, fonts, go.sum,
//     node_modules, minified vendored JavaScript, …) and in the project's
//     Allowlist.Paths (globs).
//   - Dependency lock files (package-lock.json, yarn.lock, Cargo.lock, …,
//     any *.lock): their integrity hashes look random.
//   - Binary files (a NUL byte in the first 8000 bytes, as git decides),
//     symlinks and other non-regular files.
//   - Files larger than Options.MaxFileSize (10 MiB by default): reported
//     as a gap, as are unreadable files, and git history when git or a
//     work tree is missing.
//   - Secrets matching the project's Allowlist.Regexes or containing one of
//     its Allowlist.StopWords, and lines marked "gantry:allow" or
//     "gitleaks:allow" (unless Options.IgnoreInlineAllow).
//   - Where a generic rule and a specific one find the same secret on a
//     line, only the specific finding is kept.
//
// Unlike gitleaks, the scanner does not decode base64, hex or percent
// encoded text to look for secrets inside it, nor look into archives.
//
// # Never leaking what it finds
//
// A finding never holds a secret value. Its message names the rule, at
// most four leading characters of the value for provider tokens and keys
// (the well-known prefix: "AKIA", "ghp_"; none for passwords and generic
// values) and the first 8 hex digits of the value's SHA-256. Its
// fingerprint is scan.Fingerprint("secrets", rule, path, SHA-256 of the
// value): moving a secret within a file keeps it, and the same secret in
// the tree and in history shares it.
//
// # History
//
// With Request.History the scanner reads git log -p over all refs (or the
// commits after Request.Base) and scans the lines each commit added, so a
// secret committed and removed later is still found, with
// Location.Commit set to the commit that added it. A secret still in the
// working tree is reported once, from the tree.
//
// # Engine
//
// The scanner runs the rules' own regular expressions (Go's RE2 engine)
// but only where they can match. One pass of an Aho-Corasick automaton,
// folding ASCII case in its byte classes, finds the rules' keywords in a
// file. Each rule's expression is analysed once: if every match begins
// with a keyword, it is tried anchored at each hit after a check of its
// first bytes; if every match contains a keyword, the part of the
// expression from the keyword on is tried anchored at the hit, and only
// the lines around hits where it matched are searched; otherwise (a
// keyword names a service the token does not mention) the whole file is
// searched when a keyword occurs in it, as gitleaks does. Files are
// scanned by a pool of GOMAXPROCS workers with reused buffers.
package secrets
