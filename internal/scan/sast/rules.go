package sast

import (
	"github.com/securego/gosec/v2/issue"

	"gantry.dev/gantry"
)

// rule is what Gantry adds to a gosec rule: a short how-to-fix and, for a
// few taint rules, a severity above gosec's three levels.
type rule struct {
	help string
	// critical raises a finding of the rule to critical when gosec is
	// highly confident in it: the taint analysis has traced untrusted input
	// (an HTTP request, the command line, the environment) to a sink that
	// executes it as code, a command or a query.
	critical bool
	// cwe is the weakness for the few rules gosec's CWE table has no
	// entry for.
	cwe string
}

// ruleInfo holds every gosec rule and analyzer that v2.30.0 ships. A rule
// missing here still runs; it just has no help text (a test keeps the table
// complete).
var ruleInfo = map[string]rule{
	// Miscellaneous.
	"G101": {help: "Do not keep credentials in source: read them from the environment, a secret store or a mounted file at run time, and rotate the one that was committed."},
	"G102": {help: "Listen on a specific interface (127.0.0.1:port, or the service address) instead of all interfaces, unless the service is meant to be reachable from everywhere."},
	"G103": {help: "Avoid package unsafe; if it is needed, keep it in a small reviewed function and check sizes and alignment explicitly."},
	"G104": {help: "Handle the error: return it, wrap it or log it; assign it to _ only where ignoring it is deliberate."},
	"G106": {help: "Verify SSH host keys: use knownhosts.New with a known_hosts file or ssh.FixedHostKey instead of ssh.InsecureIgnoreHostKey."},
	"G107": {help: "Do not build request URLs from untrusted input: allow-list hosts and schemes, or use a fixed base URL and escape the parts you add."},
	"G108": {help: "Do not import net/http/pprof into a public server: serve profiles on a separate, private listener."},
	"G109": {help: "Parse with strconv.ParseInt and the target bit size (16 or 32) instead of converting the result of strconv.Atoi."},
	"G110": {help: "Bound decompression: copy through io.LimitReader or io.CopyN with a maximum size."},
	"G111": {help: "Do not serve the file system root: give http.Dir a dedicated directory, or use http.FS over an embed.FS."},
	"G112": {help: "Set http.Server.ReadHeaderTimeout (and ReadTimeout) so slow clients cannot hold connections open (Slowloris)."},
	"G113": {help: "Reject requests with both Content-Length and Transfer-Encoding, and do not accept bare LF line endings, so proxies and this server agree on message boundaries."},
	"G114": {help: "Use an http.Server with ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout instead of http.ListenAndServe."},
	"G115": {help: "Check the value's range before converting to a smaller or unsigned integer type, or parse directly into the target size."},
	"G116": {cwe: "CWE-838", help: "Remove bidirectional Unicode control characters from source; they make code read differently from how it compiles (Trojan Source)."},
	"G117": {help: "Keep secrets out of serialised output: tag the field `json:\"-\"` (and likewise for yaml, xml, toml) or marshal a type without it."},
	"G118": {help: "Pass the caller's context down, and call the cancel function of every derived context (defer cancel())."},
	"G119": {help: "In http.Client.CheckRedirect, drop Authorization, Cookie and other sensitive headers when a redirect leaves the original host."},
	"G120": {help: "Limit request bodies with http.MaxBytesReader and give ParseMultipartForm a small memory limit."},
	"G121": {cwe: "CWE-346", help: "Do not bypass http.CrossOriginProtection with broad patterns; allow-list only the exact trusted origins and paths."},
	"G122": {help: "Inside filepath.Walk/WalkDir callbacks, do not reopen paths by name; use os.Root or open relative to a directory handle to avoid symlink races."},
	"G123": {help: "With VerifyPeerCertificate, also set VerifyConnection (or disable session resumption), since resumed sessions skip VerifyPeerCertificate."},
	"G124": {help: "Set Secure, HttpOnly and SameSite (Lax or Strict) on cookies that carry sessions or other sensitive values."},
	"G125": {help: "Escape each untrusted element with url.PathEscape before url.JoinPath, and reject elements containing \"..\"."},

	// Injection.
	"G201": {help: "Use a parameterised query (placeholders such as ? or $1 with arguments) instead of formatting values into the SQL text."},
	"G202": {help: "Use a parameterised query (placeholders such as ? or $1 with arguments) instead of concatenating values into the SQL text."},
	"G203": {help: "Let html/template escape the value; convert to template.HTML, template.JS or template.URL only for constant, trusted content."},
	"G204": {help: "Run a fixed program with exec.Command and separate arguments (never through a shell); validate or allow-list any argument that comes from input."},

	// File system.
	"G301": {help: "Create directories with 0750 or stricter."},
	"G302": {help: "Create or chmod files with 0600 (or 0640 when a group must read them)."},
	"G303": {help: "Create temporary files with os.CreateTemp (or os.MkdirTemp), never at a predictable path in a shared directory."},
	"G304": {help: "Resolve untrusted names under a fixed base directory: use os.Root (Go 1.24+), or filepath.Clean and check the result stays under the base."},
	"G305": {help: "When extracting archives, join each entry name to the destination, clean it and reject it unless it stays under the destination (zip slip)."},
	"G306": {help: "Write files with 0600 (or 0640 when a group must read them)."},
	"G307": {help: "Create sensitive files with os.OpenFile and 0600 rather than os.Create, which uses 0666 before the umask."},

	// Cryptography.
	"G401": {help: "Use SHA-256 or stronger (crypto/sha256, crypto/sha512); for passwords use a password hash (argon2id, scrypt, bcrypt, PBKDF2)."},
	"G402": {help: "Set tls.Config.MinVersion to tls.VersionTLS12 or higher and never set InsecureSkipVerify: true outside tests; keep the default cipher suites."},
	"G403": {help: "Use RSA keys of at least 2048 bits (3072 for long-lived keys), or Ed25519/ECDSA."},
	"G404": {help: "Use crypto/rand for tokens, keys, nonces and anything an attacker must not guess."},
	"G405": {help: "Replace DES and RC4 with AES-GCM or ChaCha20-Poly1305."},
	"G406": {help: "Replace MD4 and RIPEMD-160 with SHA-256 or stronger."},
	"G407": {help: "Generate a fresh random nonce/IV for every encryption with crypto/rand; never use a constant one."},
	"G408": {help: "Do not keep state from ssh PublicKeyCallback to decide authentication later; carry the decision in ssh.Permissions."},

	// Blocked imports.
	"G501": {help: "Replace crypto/md5 with crypto/sha256 or stronger (or a password hash for passwords)."},
	"G502": {help: "Replace crypto/des with crypto/aes in an AEAD mode (GCM)."},
	"G503": {help: "Replace crypto/rc4 with AES-GCM or ChaCha20-Poly1305."},
	"G504": {help: "Do not use net/http/cgi (CVE-2016-5386); serve the handler with net/http directly."},
	"G505": {help: "Replace crypto/sha1 with crypto/sha256 or stronger."},
	"G506": {help: "Replace golang.org/x/crypto/md4 with SHA-256 or stronger."},
	"G507": {help: "Replace golang.org/x/crypto/ripemd160 with SHA-256 or stronger."},

	// Memory safety.
	"G601": {help: "Take the address of the slice element (&s[i]) rather than of the range variable (only relevant before Go 1.22)."},
	"G602": {help: "Check the length before indexing or slicing, or derive the bounds from len()."},

	// Taint analysis: untrusted input reaching a sink.
	"G701": {critical: true, help: "Pass untrusted values as query arguments (placeholders ? or $1), never in the SQL text."},
	"G702": {critical: true, help: "Do not pass untrusted input to a shell or as the program name; run a fixed program with separate, allow-listed arguments."},
	"G703": {help: "Resolve untrusted names under a fixed base directory with os.Root (Go 1.24+), or clean them and check the result stays under the base."},
	"G704": {help: "Do not let input choose where the server connects: allow-list hosts and schemes, and block private and link-local addresses."},
	"G705": {help: "Render HTML with html/template, or escape untrusted values with html.EscapeString before writing them to the response."},
	"G706": {help: "Log untrusted values as structured attributes (log/slog) or quote them (%q) so they cannot forge log lines."},
	"G707": {help: "Reject CR and LF in untrusted values used in SMTP commands or headers, and validate addresses with net/mail."},
	"G708": {critical: true, help: "Never parse templates from untrusted input; parse fixed templates and pass input only as data (prefer html/template)."},
	"G709": {help: "Do not decode untrusted data into interfaces or with gob/encoding formats that pick types; decode into concrete types with size limits."},
	"G710": {cwe: "CWE-601", help: "Redirect only to relative paths or allow-listed hosts; parse the target and reject absolute URLs to other hosts."},
}

// severity maps a gosec issue to Gantry's severity: gosec's LOW, MEDIUM and
// HIGH map one to one; a rule marked critical with high confidence is
// critical.
func severity(ruleID string, sev, conf issue.Score) gantry.Severity {
	switch {
	case sev == issue.High && conf == issue.High && ruleInfo[ruleID].critical:
		return gantry.SeverityCritical
	case sev == issue.High:
		return gantry.SeverityHigh
	case sev == issue.Medium:
		return gantry.SeverityMedium
	}
	return gantry.SeverityLow
}

// confidence maps gosec's confidence to Finding.Confidence.
func confidence(conf issue.Score) string {
	switch conf {
	case issue.High:
		return "high"
	case issue.Medium:
		return "medium"
	}
	return "low"
}
