package testcode

import (
	"fmt"
	"strings"
)

// preparePython blanks the comments of Python source and marks its string
// literals, prefixed and triple-quoted ones included.
func preparePython(src string) *script {
	b := []byte(src)
	inStr := make([]bool, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '#':
			j := i
			for j < len(b) && b[j] != '\n' {
				j++
			}
			blank(b, i, j)
			i = j
		case c == '\'' || c == '"':
			start := i
			for start > 0 && start > i-2 && strings.IndexByte("rRbBuUfF", b[start-1]) >= 0 {
				start--
			}
			if start > 0 && isIdentByte(b[start-1]) {
				start = i // part of a name, not a prefix
			}
			triple := i+2 < len(b) && b[i+1] == c && b[i+2] == c
			j := i + 1
			if triple {
				j = i + 3
			}
			for j < len(b) {
				if b[j] == '\\' {
					j += 2
					continue
				}
				if triple && b[j] == c && j+2 < len(b) && b[j+1] == c && b[j+2] == c {
					j += 2
					break
				}
				if !triple && (b[j] == c || b[j] == '\n') {
					break
				}
				j++
			}
			end := min(j+1, len(b))
			for k := start; k < end; k++ {
				inStr[k] = true
			}
			i = end
		default:
			i++
		}
	}
	return newScript(b, inStr)
}

// pyFile is one Python test file being checked.
type pyFile struct {
	s       *script
	rep     *reporter
	aliases map[string]string // local name → module or module.name
	vars    assignments
	seen    map[string]bool
	steps   int // evaluation steps of the current argument
}

var (
	pyImportRE     = lazyRE(`(?m)^[ \t]*import[ \t]+([^\n]+)`)
	pyFromImportRE = lazyRE(`(?m)^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]+)`)
	pyAssignRE     = lazyRE(`(?m)^[ \t]*([A-Za-z_]\w*)[ \t]*(?::[^=\n]+)?=[ \t]*([^=\n])`)
	pyEnvIndexRE   = lazyRE(`\b([A-Za-z_][\w.]*)\s*\[\s*[rbuRBU]?(['"])([^'"]+)['"]\s*\]`)
	pyStringRE     = lazyRE(`^(?i:[rbuf]|rb|br|fr|rf)?('''|"""|'|")`)
	pyShellTrueRE  = lazyRE(`^shell\s*=\s*True$`)
)

// checkPython checks a Python test file.
func checkPython(rep *reporter, src string) {
	p := &pyFile{s: preparePython(src), rep: rep, aliases: map[string]string{}, vars: assignments{}, seen: map[string]bool{}}
	code := p.s.code
	for _, m := range pyImportRE().FindAllStringSubmatch(code, -1) {
		for _, item := range strings.Split(m[1], ",") {
			mod, alias, ok := strings.Cut(strings.TrimSpace(item), " as ")
			mod = strings.TrimSpace(mod)
			if ok {
				p.aliases[strings.TrimSpace(alias)] = mod
			} else if first, _, _ := strings.Cut(mod, "."); first != "" {
				p.aliases[first] = first
			}
		}
	}
	for _, m := range pyFromImportRE().FindAllStringSubmatch(code, -1) {
		names := strings.Trim(m[2], "()")
		for _, item := range strings.Split(names, ",") {
			name, alias, ok := strings.Cut(strings.TrimSpace(item), " as ")
			name = strings.TrimSpace(name)
			if name == "" || name == "*" {
				continue
			}
			if !ok {
				alias = name
			}
			p.aliases[strings.TrimSpace(alias)] = m[1] + "." + name
		}
	}
	for _, m := range pyAssignRE().FindAllStringSubmatchIndex(code, -1) {
		if p.s.inStr[m[2]] {
			continue
		}
		end := p.s.exprEnd(m[4], false)
		name := code[m[2]:m[3]]
		p.vars[name] = append(p.vars[name], strings.TrimSpace(code[m[4]:end]))
	}
	calls := p.s.calls()
	for _, c := range calls {
		p.checkCall(c)
	}
	p.checkEnv(calls)
}

// canonical rewrites a dotted name so that it starts with the module it
// comes from: sp.run → subprocess.run, urlopen → urllib.request.urlopen.
func (p *pyFile) canonical(chain string) string {
	first, rest, _ := strings.Cut(chain, ".")
	if a, ok := p.aliases[first]; ok {
		first = a
	}
	if rest != "" {
		return first + "." + rest
	}
	return first
}

func (p *pyFile) report(rule string, c call, msg string) {
	line, col := p.s.pos(c.start)
	k := fmt.Sprintf("%s\x00%d", rule, line)
	if p.seen[k] {
		return
	}
	p.seen[k] = true
	p.rep.add(rule, line, col, msg, p.s.code[c.start:c.end])
}

// positional returns the positional arguments of a call and its keyword
// arguments.
func positional(args []string) (pos []string, kw map[string]string) {
	kw = map[string]string{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && isIdent(strings.TrimSpace(k)) && !strings.HasPrefix(v, "=") {
			kw[strings.TrimSpace(k)] = strings.TrimSpace(v)
			continue
		}
		pos = append(pos, a)
	}
	return pos, kw
}

var (
	pyAlwaysShell = map[string]bool{
		"subprocess.getoutput": true, "subprocess.getstatusoutput": true, "os.system": true, "os.popen": true,
		"asyncio.create_subprocess_shell": true, "commands.getoutput": true, "commands.getstatusoutput": true,
	}
	pySubprocess = map[string]bool{
		"subprocess.run": true, "subprocess.call": true, "subprocess.check_call": true,
		"subprocess.check_output": true, "subprocess.Popen": true,
	}
	pyWriteFirst = map[string]bool{
		"os.makedirs": true, "os.mkdir": true, "os.remove": true, "os.unlink": true, "os.rmdir": true,
		"os.removedirs": true, "os.chmod": true, "os.chown": true, "os.truncate": true, "shutil.rmtree": true,
	}
	pyWriteSecond = map[string]bool{
		"shutil.copy": true, "shutil.copy2": true, "shutil.copyfile": true, "shutil.copytree": true,
		"shutil.move": true, "os.rename": true, "os.replace": true, "os.symlink": true, "os.link": true,
	}
	pyPathWrites = map[string]bool{
		"write_text": true, "write_bytes": true, "touch": true, "mkdir": true, "unlink": true, "rmdir": true,
		"chmod": true, "symlink_to": true, "hardlink_to": true,
	}
	pyPathBuilders = map[string]bool{
		"os.path.join": true, "os.path.expanduser": true, "os.path.expandvars": true, "os.path.abspath": true,
		"os.path.realpath": true, "os.path.normpath": true, "os.fspath": true, "str": true,
		"pathlib.Path": true, "pathlib.PurePath": true, "pathlib.PosixPath": true, "Path": true,
		"os.path.exists": true, "os.path.isfile": true, "os.path.isdir": true,
	}
	pyNetFuncs = map[string]int{ // the index of the URL argument
		"requests.get": 0, "requests.post": 0, "requests.put": 0, "requests.patch": 0, "requests.delete": 0,
		"requests.head": 0, "requests.options": 0, "requests.request": 1,
		"httpx.get": 0, "httpx.post": 0, "httpx.put": 0, "httpx.patch": 0, "httpx.delete": 0,
		"httpx.head": 0, "httpx.options": 0, "httpx.stream": 1, "httpx.request": 1,
		"urllib.request.urlopen": 0, "urllib.request.Request": 0, "urllib.request.urlretrieve": 0,
		"urllib2.urlopen": 0,
	}
	pyHostFuncs = map[string]bool{
		"http.client.HTTPConnection": true, "http.client.HTTPSConnection": true, "smtplib.SMTP": true,
		"smtplib.SMTP_SSL": true, "ftplib.FTP": true, "ftplib.FTP_TLS": true, "telnetlib.Telnet": true,
	}
	pyHTTPVerbs = map[string]int{
		"get": 0, "post": 0, "put": 0, "patch": 0, "delete": 0, "head": 0, "options": 0, "request": 1,
		"urlopen": 0, "fetch": 0, "stream": 1, "ws_connect": 0, "goto": 0,
	}
)

func (p *pyFile) arg(args []string, i int) value {
	if i >= len(args) {
		return value{}
	}
	return p.eval(args[i], 0)
}

func (p *pyFile) checkCall(c call) {
	name := p.canonical(c.callee)
	if c.afterDot {
		recv := strings.Join(strings.Fields(c.recv), "")
		name = "?." + c.callee
		if isDotted(recv) {
			name = p.canonical(recv + "." + c.callee)
		}
	}
	last := c.method
	pos, kw := positional(c.args)

	// Shells.
	switch {
	case pyAlwaysShell[name]:
		p.report(ruleExec, c, fmt.Sprintf("%s runs its command line through a shell", name))
	case pySubprocess[name] || name == "asyncio.create_subprocess_exec" ||
		strings.HasPrefix(name, "os.exec") || strings.HasPrefix(name, "os.spawn"):
		if pyShellTrueRE().MatchString("shell=" + kw["shell"]) {
			p.report(ruleExec, c, fmt.Sprintf("%s runs its command through a shell (shell=True)", name))
			break
		}
		var argv []value
		switch {
		case len(pos) > 0 && (strings.HasPrefix(pos[0], "[") || strings.HasPrefix(pos[0], "(")):
			argv = p.list(pos[0])
		case strings.HasPrefix(name, "os.spawn"):
			argv = p.rest(pos, 1)
		default:
			argv = p.rest(pos, 0)
		}
		if strings.HasPrefix(name, "os.exec") && len(pos) > 1 && (strings.HasPrefix(pos[1], "[") || strings.HasPrefix(pos[1], "(")) {
			argv = append([]value{p.arg(pos, 0)}, p.list(pos[1])...)
			if len(argv) > 1 {
				argv = append(argv[:1], argv[2:]...) // argv[0] repeats the program
			}
		}
		if len(argv) > 0 && argv[0].kind == valLit {
			if why := shellCommand(argv[0].s, argv[1:]); why != "" {
				p.report(ruleExec, c, fmt.Sprintf("%s starts %s", name, why))
			}
		}
	}

	// Files.
	write := false
	switch {
	case name == "open" || name == "io.open" || name == "builtins.open" || name == "codecs.open":
		mode := kw["mode"]
		if len(pos) > 1 {
			mode = pos[1]
		}
		if m := p.eval(mode, 0); m.kind == valLit && strings.ContainsAny(m.s, "wax+") {
			write = true
			p.fsWrite(c, name, p.arg(pos, 0))
		}
	case pyWriteFirst[name]:
		write = true
		p.fsWrite(c, name, p.arg(pos, 0))
	case pyWriteSecond[name]:
		write = true
		p.fsWrite(c, name, p.arg(pos, 1))
		if cp, ok := credentialPath(p.arg(pos, 0)); ok {
			p.report(ruleCred, c, fmt.Sprintf("%s copies credential file %s", name, cp))
		}
	case c.object != "" && name != "os.open" && (pyPathWrites[last] || last == "open" && len(pos) > 0):
		recv := p.eval(c.object, 0)
		if last == "open" {
			if m := p.eval(pos[0], 0); m.kind != valLit || !strings.ContainsAny(m.s, "wax+") {
				break
			}
		}
		write = true
		p.fsWrite(c, "Path."+last, recv)
	}
	if !write && !pyPathBuilders[name] {
		if c.object != "" && (last == "read_text" || last == "read_bytes" || last == "open" || last == "iterdir") {
			if cp, ok := credentialPath(p.eval(c.object, 0)); ok {
				p.report(ruleCred, c, fmt.Sprintf("%s reads credential file %s", last, cp))
			}
		}
		for _, a := range c.args {
			if _, v, ok := strings.Cut(a, "="); ok && isIdent(strings.TrimSpace(a[:strings.IndexByte(a, '=')])) {
				a = v
			}
			if cp, ok := credentialPath(p.eval(a, 0)); ok {
				p.report(ruleCred, c, fmt.Sprintf("%s is given credential file %s", name, cp))
				break
			}
		}
	}

	// Network.
	netMsg := func(host string) string {
		return fmt.Sprintf("%s connects to %s, which is not a loopback address", name, host)
	}
	if isMock(name, c.object) {
		return
	}
	if i, ok := pyNetFuncs[name]; ok {
		u := p.arg(pos, i)
		if v, ok := kw["url"]; ok {
			u = p.eval(v, 0)
		}
		if h, ok := hostOfURL(u); ok {
			p.report(ruleNet, c, netMsg(h))
		}
		return
	}
	if pyHostFuncs[name] {
		v := p.arg(pos, 0)
		if h, ok := kw["host"]; ok {
			v = p.eval(h, 0)
		}
		if v.kind == valLit {
			if h, ok := remoteHost(v.s); ok {
				p.report(ruleNet, c, netMsg(h))
			}
		}
		return
	}
	if name == "socket.create_connection" || c.object != "" && (last == "connect" || last == "connect_ex") {
		if len(pos) > 0 && strings.HasPrefix(pos[0], "(") {
			if t := p.list(pos[0]); len(t) == 2 && t[0].kind == valLit {
				if h, ok := remoteHost(t[0].s); ok {
					p.report(ruleNet, c, netMsg(h))
				}
			}
		}
		return
	}
	if i, ok := pyHTTPVerbs[last]; ok {
		if h, ok := hostOfURL(p.arg(pos, i)); ok {
			p.report(ruleNet, c, netMsg(h))
		} else if h, ok := hostOfURL(p.eval(kw["url"], 0)); ok {
			p.report(ruleNet, c, netMsg(h))
		}
	}
}

func (p *pyFile) fsWrite(c call, name string, v value) {
	if where, ok := outsideTemp(v); ok {
		p.report(ruleFS, c, fmt.Sprintf("%s writes to %s, outside the test's temporary directories", name, where))
	}
}

// rest evaluates the positional arguments from i on.
func (p *pyFile) rest(pos []string, i int) []value {
	var out []value
	for ; i < len(pos); i++ {
		out = append(out, p.eval(pos[i], 0))
	}
	return out
}

// list evaluates the elements of a list or tuple literal.
func (p *pyFile) list(e string) []value {
	e = strings.TrimSpace(e)
	if len(e) < 2 || !(e[0] == '[' && e[len(e)-1] == ']' || e[0] == '(' && e[len(e)-1] == ')') {
		return nil
	}
	var out []value
	for _, x := range splitTop(e[1:len(e)-1], ',') {
		if x != "" {
			out = append(out, p.eval(x, 0))
		}
	}
	return out
}

func isDotted(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !isIdentByte(c) && c != '.' {
			return false
		}
	}
	return true
}

// checkEnv reports reads of secret-like variables: os.environ["X"] (not
// assignments to it) and os.environ.get, os.getenv.
func (p *pyFile) checkEnv(calls []call) {
	code := p.s.code
	report := func(start int, name, how string) {
		line, col := p.s.pos(start)
		msg := fmt.Sprintf("%s reads secret-like environment variable %s", how, name)
		k := fmt.Sprintf("%s\x00%d\x00%s", ruleEnv, line, msg)
		if p.seen[k] {
			return
		}
		p.seen[k] = true
		p.rep.add(ruleEnv, line, col, msg, msg)
	}
	for _, m := range pyEnvIndexRE().FindAllStringSubmatchIndex(code, -1) {
		if p.s.inStr[m[0]] || p.canonical(code[m[2]:m[3]]) != "os.environ" {
			continue
		}
		after := code[m[1]:min(len(code), m[1]+4)]
		if strings.HasPrefix(strings.TrimSpace(after), "=") && !strings.HasPrefix(strings.TrimSpace(after), "==") {
			continue
		}
		if strings.HasSuffix(strings.TrimSpace(code[max(0, m[0]-6):m[0]]), "del") {
			continue
		}
		if name := code[m[6]:m[7]]; secretEnvName(name) {
			report(m[0], name, "os.environ")
		}
	}
	for _, c := range calls {
		name := p.canonical(c.callee)
		if c.afterDot && isDotted(strings.Join(strings.Fields(c.recv), "")) {
			name = p.canonical(strings.Join(strings.Fields(c.recv), "") + "." + c.callee)
		}
		switch name {
		case "os.getenv", "os.environ.get", "os.environ.pop", "os.getenvb":
			if v := p.eval(firstArg(c), 0); v.kind == valLit && secretEnvName(v.s) {
				report(c.start, v.s, name)
			}
		}
	}
}

func firstArg(c call) string {
	if len(c.args) == 0 {
		return ""
	}
	return c.args[0]
}

// eval works out what is known of the string value of a Python
// expression.
func (p *pyFile) eval(e string, depth int) value {
	if depth == 0 {
		p.steps = 0
	}
	if p.steps++; p.steps > maxEvalSteps {
		return value{}
	}
	e = unwrapParens(strings.TrimSpace(e))
	if depth > maxEvalDepth || e == "" {
		return value{}
	}
	if parts := splitTop(e, '+'); len(parts) > 1 {
		v := p.eval(parts[0], depth+1)
		for _, x := range parts[1:] {
			v = concat(v, p.eval(x, depth+1))
		}
		return v
	}
	if parts := splitTop(e, '/'); len(parts) > 1 {
		// pathlib's / operator; a numeric division has an unknown left side.
		vs := make([]value, len(parts))
		for i, x := range parts {
			vs[i] = p.eval(x, depth+1)
		}
		if vs[0].kind == valUnknown {
			return value{}
		}
		return join(vs, true)
	}
	if v, ok := p.stringLit(e, depth); ok {
		return v
	}
	switch e {
	case "tmp_path", "tmpdir", "tmp_dir", "temp_dir":
		return value{kind: valTemp}
	}
	if callee, args, ok := splitCall(e); ok {
		ev := func(i int) value {
			if i < len(args) {
				return p.eval(args[i], depth+1)
			}
			return value{}
		}
		all := func(first []value) value {
			vs := first
			for i := range args {
				vs = append(vs, ev(i))
			}
			return join(vs, true)
		}
		if isDotted(callee) {
			switch p.canonical(callee) {
			case "os.path.join":
				return all(nil)
			case "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "Path":
				if len(args) == 0 {
					return value{}
				}
				return all(nil)
			case "os.path.expanduser":
				return expandUser(ev(0))
			case "os.path.abspath", "os.path.realpath", "os.path.normpath", "os.fspath", "str", "os.path.expandvars":
				return ev(0)
			case "pathlib.Path.home", "Path.home":
				return value{kind: valHome}
			case "os.getenv", "os.environ.get":
				if v := ev(0); v.kind == valLit {
					switch v.s {
					case "HOME", "USERPROFILE":
						return value{kind: valHome}
					case "TMPDIR", "TEMP", "TMP":
						return value{kind: valTemp}
					}
				}
				return value{}
			case "tempfile.gettempdir", "tempfile.mkdtemp":
				return value{kind: valTemp}
			}
		}
		if recv, method, ok := splitMethod(callee); ok {
			switch method {
			case "expanduser":
				return expandUser(p.eval(recv, depth+1))
			case "resolve", "absolute":
				return p.eval(recv, depth+1)
			case "joinpath":
				return all([]value{p.eval(recv, depth+1)})
			case "mktemp", "mkdtemp", "getbasetemp":
				return value{kind: valTemp}
			}
		}
		return value{}
	}
	if m := pyEnvIndexRE().FindStringSubmatch(e); m != nil && m[0] == e && p.canonical(m[1]) == "os.environ" {
		switch m[3] {
		case "HOME", "USERPROFILE":
			return value{kind: valHome}
		}
		return value{}
	}
	if isIdent(e) {
		if v, ok := p.vars.value(e); ok {
			return p.eval(v, depth+1)
		}
	}
	return value{}
}

// expandUser models os.path.expanduser: a leading ~ is the home directory.
func expandUser(v value) value {
	if v.kind == valLit && (v.s == "~" || strings.HasPrefix(v.s, "~/") || strings.HasPrefix(v.s, "~\\")) {
		return value{kind: valHome, s: v.s[1:]}
	}
	return v
}

// stringLit reads a Python string literal, evaluating the fields of an
// f-string.
func (p *pyFile) stringLit(e string, depth int) (value, bool) {
	m := pyStringRE().FindStringSubmatch(e)
	if m == nil {
		return value{}, false
	}
	prefix := strings.ToLower(e[:len(m[0])-len(m[1])])
	q := m[1]
	if len(e) < len(m[0])+len(q) || !strings.HasSuffix(e, q) {
		return value{}, false
	}
	body := e[len(m[0]) : len(e)-len(q)]
	for i := 0; i < len(body); i++ { // one literal, not "a" "b" or "a" + x
		if body[i] == '\\' {
			i++
		} else if strings.HasPrefix(body[i:], q) {
			return value{}, false
		}
	}
	raw := strings.Contains(prefix, "r")
	if !strings.Contains(prefix, "f") {
		return lit(unescapeQuoted(body, raw)), true
	}
	out := value{kind: valLit}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if (c == '{' || c == '}') && i+1 < len(body) && body[i+1] == c {
			b.WriteByte(c)
			i++
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		end := closing(body, i)
		if end < 0 {
			return value{}, true
		}
		field := body[i+1 : end]
		if k := strings.IndexAny(field, "!:"); k >= 0 && closing(field, 0) < 0 {
			field = field[:k]
		}
		v := p.eval(field, depth+1)
		switch {
		case i == 0 && (v.kind == valHome || v.kind == valTemp):
			out.kind = v.kind
			b.WriteString(v.s)
		case v.kind == valLit:
			b.WriteString(v.s)
		default:
			b.WriteString(unknownPart)
		}
		i = end
	}
	out.s = unescapeQuoted(b.String(), raw)
	return out, true
}
