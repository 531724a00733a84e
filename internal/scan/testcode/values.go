package testcode

import (
	"net"
	"net/url"
	"path"
	"strings"
)

// This file holds what the three languages share: a small model of the
// string values a test passes to an API (a literal, or a path under the
// home or a temporary directory), and the judgements made on them.

// valKind says what is known about the start of a value.
type valKind int

const (
	valUnknown valKind = iota // nothing useful
	valLit                    // s is the value's text
	valHome                   // the value is the home directory followed by s
	valTemp                   // the value is a temporary directory followed by s
)

// unknownPart stands for a part of a value that is not known, such as a
// variable in a formatted string.
const unknownPart = "\x00"

// value is what a test passes as a path, URL, address or name.
type value struct {
	kind valKind
	s    string
}

func lit(s string) value { return value{kind: valLit, s: s} }

// text renders the value for a message.
func (v value) text() string {
	s := strings.ReplaceAll(v.s, unknownPart, "…")
	switch v.kind {
	case valHome:
		return "~" + s
	case valTemp:
		return "$TMPDIR" + s
	case valUnknown:
		return "…"
	}
	return s
}

// concat appends b to a.
func concat(a, b value) value {
	if a.kind == valUnknown {
		return a
	}
	if b.kind == valLit {
		return value{kind: a.kind, s: a.s + b.s}
	}
	return value{kind: a.kind, s: a.s + unknownPart}
}

// join joins path elements. With restart, an absolute element starts the
// path again, as os.path.join, pathlib and Node's path.resolve do; Go's
// filepath.Join and Node's path.join just append it.
func join(parts []value, restart bool) value {
	if len(parts) == 0 {
		return value{}
	}
	v := parts[0]
	for _, p := range parts[1:] {
		switch {
		case restart && p.kind == valLit && (strings.HasPrefix(p.s, "/") || isWindowsAbs(p.s)):
			v = p
		case p.kind == valLit:
			v = concat(v, lit("/"+strings.TrimPrefix(p.s, "/")))
		default:
			v = concat(v, lit("/"+unknownPart))
		}
	}
	return v
}

func isWindowsAbs(s string) bool {
	return len(s) >= 3 && s[1] == ':' && (s[2] == '\\' || s[2] == '/') &&
		(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}

// outsideTemp returns a description of where a write goes if it is
// outside the temporary directories: under the home directory, or an
// absolute path that is not /tmp, /var/tmp or a harmless device.
func outsideTemp(v value) (string, bool) {
	switch v.kind {
	case valHome:
		return "the home directory (" + v.text() + ")", true
	case valLit:
		p := strings.ReplaceAll(v.s, "\\", "/")
		if isWindowsAbs(v.s) {
			return v.text(), true
		}
		if !strings.HasPrefix(p, "/") {
			return "", false
		}
		clean := path.Clean(p)
		switch {
		case clean == "/tmp" || strings.HasPrefix(clean, "/tmp/"),
			clean == "/var/tmp" || strings.HasPrefix(clean, "/var/tmp/"),
			harmlessDevice(clean):
			return "", false
		}
		return v.text(), true
	}
	return "", false
}

// harmlessDevice reports whether a path is a device or directory under
// /dev that tests open for writing without touching anything lasting.
func harmlessDevice(p string) bool {
	switch p {
	case "/dev/null", "/dev/zero", "/dev/full", "/dev/stdout", "/dev/stderr", "/dev/stdin",
		"/dev/tty", "/dev/ptmx", "/dev/console", "/dev/random", "/dev/urandom":
		return true
	}
	for _, dir := range []string{"/dev/shm/", "/dev/pts/", "/dev/fd/"} {
		if strings.HasPrefix(p, dir) || p+"/" == dir {
			return true
		}
	}
	return false
}

var credentialRE = lazyRE(`(^|/)(\.ssh(/|$)|\.aws/(credentials|config)$|\.docker/config\.json$|[._]netrc$|\.kube/config$|\.git-credentials$|\.config/gcloud(/|$)|\.npmrc$|\.pypirc$|\.gnupg(/|$)|id_(rsa|dsa|ecdsa|ed25519)$)|^/etc/(g?shadow|sudoers)$`)

// credentialPath returns the path if v names a credential file in the
// home directory or at an absolute path. Relative paths (a test's own
// fixtures, testdata/id_rsa) and paths under a temporary directory do not
// count.
func credentialPath(v value) (string, bool) {
	var p string
	switch v.kind {
	case valHome:
		p = "~" + v.s
	case valLit:
		p = v.s
		if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "~") && !isWindowsAbs(p) {
			return "", false
		}
	default:
		return "", false
	}
	p = strings.ReplaceAll(p, "\\", "/")
	if credentialRE().MatchString(path.Clean(p)) {
		return strings.ReplaceAll(p, unknownPart, "…"), true
	}
	return "", false
}

// remoteHost returns the host a URL or host:port names, if it is known and
// not local: not a loopback or unspecified address, not localhost, and not
// a name reserved never to resolve (.test, .invalid, .example,
// .localhost).
func remoteHost(addr string) (string, bool) {
	if addr == "" {
		return "", false
	}
	host := addr
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			// Placeholders make some URLs unparsable; look at the
			// authority by hand.
			rest := addr[strings.Index(addr, "://")+3:]
			if i := strings.IndexAny(rest, "/?#"); i >= 0 {
				rest = rest[:i]
			}
			if j := strings.LastIndexByte(rest, '@'); j >= 0 {
				rest = rest[j+1:]
			}
			host = rest
		} else {
			host = u.Host
		}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" || strings.Contains(host, unknownPart) || strings.ContainsAny(host, "{}$% /") {
		return "", false
	}
	return host, !localHost(host)
}

// localHost reports whether a host is the machine itself or a name or
// address that can never reach anyone: loopback and unspecified
// addresses, localhost, the documentation ranges (RFC 5737, RFC 3849),
// the names reserved for testing and documentation (RFC 2606: .test,
// .invalid, .example, .localhost, example.com, example.net, example.org),
// and single-label names. A connection to one of these cannot carry data
// to a host on the internet.
func localHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" || h == "ip6-localhost" || h == "ip6-loopback" {
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return true
		}
		for _, n := range documentationNets {
			if n.Contains(ip) {
				return true
			}
		}
		return false
	}
	if !strings.Contains(h, ".") {
		// A single-label name (webapp, db) resolves, if at all, through
		// the local network's search domains: a service container or a
		// placeholder in a request sent through a test transport, never
		// a host on the internet.
		return true
	}
	for _, suffix := range []string{".localhost", ".test", ".invalid", ".example", ".example.com", ".example.net", ".example.org"} {
		if strings.HasSuffix(h, suffix) || h == suffix[1:] {
			return true
		}
	}
	return false
}

var documentationNets = func() []*net.IPNet {
	var out []*net.IPNet
	for _, c := range []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"} {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}()

// hostOfURL returns the host of a value used as a URL, requiring a scheme
// (a path such as /api/users is not a connection anywhere).
func hostOfURL(v value) (string, bool) {
	if v.kind != valLit || !strings.Contains(v.s, "://") {
		return "", false
	}
	scheme := strings.ToLower(v.s[:strings.Index(v.s, "://")])
	switch scheme {
	case "http", "https", "ws", "wss", "ftp", "ftps", "tcp", "grpc", "grpcs", "dns":
	default:
		return "", false
	}
	return remoteHost(v.s)
}

// hostOfAddr returns the host of a host:port address or URL.
func hostOfAddr(v value) (string, bool) {
	if v.kind != valLit {
		return "", false
	}
	if strings.Contains(v.s, "://") {
		return hostOfURL(v)
	}
	if !strings.Contains(v.s, ":") {
		return "", false
	}
	return remoteHost(v.s)
}

// secretEnvName reports whether an environment variable's name says it
// holds a secret: a TOKEN, SECRET, PASSWORD, KEY or CREDENTIAL part, or an
// AWS_ variable other than the region and profile settings. Names of
// files, paths and directories (…_FILE, …_PATH, …_DIR) do not count.
func secretEnvName(name string) bool {
	u := strings.ToUpper(name)
	parts := strings.FieldsFunc(u, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') })
	if len(parts) == 0 {
		return false
	}
	switch parts[len(parts)-1] {
	case "FILE", "PATH", "DIR", "FILENAME", "URL", "HOST", "NAME", "ID", "USER", "USERNAME":
		// Where a secret is, or whose; not the secret. AWS_ACCESS_KEY_ID
		// is covered by the AWS_ rule below.
		if !strings.HasPrefix(u, "AWS_") || parts[len(parts)-1] != "ID" {
			return false
		}
	}
	if strings.HasPrefix(u, "AWS_") {
		switch u {
		case "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SDK_LOAD_CONFIG",
			"AWS_DEFAULT_OUTPUT", "AWS_PAGER", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_ENDPOINT_URL":
			return false
		}
		return true
	}
	for _, p := range parts {
		for _, w := range []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL"} {
			if p == w || p == w+"S" || strings.HasSuffix(p, w) {
				return true
			}
		}
		switch p {
		case "KEY", "KEYS", "APIKEY", "PRIVATEKEY", "ACCESSKEY", "SECRETKEY", "PASS", "PWD":
			if p == "PWD" && len(parts) == 1 {
				continue // the working directory
			}
			return true
		}
	}
	return false
}

// shellNames are programs that run a command line given to them.
var shellNames = map[string]bool{
	"sh": true, "bash": true, "zsh": true, "dash": true, "ash": true, "ksh": true, "mksh": true,
	"fish": true, "csh": true, "tcsh": true, "cmd": true, "powershell": true, "pwsh": true,
}

// inlineInterpreters run code given with -c or -e.
var inlineInterpreters = map[string]bool{
	"python": true, "python2": true, "python3": true, "perl": true, "ruby": true, "node": true,
	"php": true, "osascript": true,
}

// programName reduces a program path to its lower-case base name without
// a Windows extension.
func programName(p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	b := strings.ToLower(path.Base(p))
	for _, ext := range []string{".exe", ".bat", ".cmd"} {
		b = strings.TrimSuffix(b, ext)
	}
	return b
}

// shellCommand says why running prog with args is a shell or inline code,
// or returns "". Wrappers such as env and sudo are looked through.
func shellCommand(prog string, args []value) string {
	name := programName(prog)
	for (name == "env" || name == "sudo" || name == "nohup" || name == "busybox") && len(args) > 0 {
		if args[0].kind != valLit {
			return ""
		}
		a := args[0].s
		args = args[1:]
		if strings.HasPrefix(a, "-") || strings.Contains(a, "=") {
			continue
		}
		name = programName(a)
	}
	if shellNames[name] {
		return "shell " + name
	}
	if inlineInterpreters[name] {
		for _, a := range args {
			if a.kind == valLit && (a.s == "-c" || a.s == "-e" || a.s == "--eval") {
				return name + " " + a.s + " with inline code"
			}
		}
	}
	return ""
}

// mockWords name the libraries that stub HTTP in tests (requests_mock,
// responses, respx, httpretty, aioresponses, nock, fetch-mock, msw): a URL
// given to them is matched against requests, never connected to.
var mockWords = []string{"mock", "nock", "respx", "responses", "httpretty", "msw"}

// isMock reports whether a call's name or receiver says it belongs to an
// HTTP stubbing library.
func isMock(name, object string) bool {
	l := strings.ToLower(name + " " + object)
	for _, w := range mockWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}
