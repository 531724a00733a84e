package testcode

import (
	"fmt"
	"strings"
)

// prepareJS blanks the comments of JavaScript or TypeScript source and
// marks its string, template and regular-expression literals.
func prepareJS(src string) *script {
	b := []byte(src)
	inStr := make([]bool, len(b))
	mark := func(from, to int) {
		for k := from; k < to && k < len(b); k++ {
			inStr[k] = true
		}
	}
	prev := byte(0) // the last significant byte, to tell a regexp from a division
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			j := i
			for j < len(b) && b[j] != '\n' {
				j++
			}
			blank(b, i, j)
			i = j
			continue
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			j := strings.Index(string(b[i+2:]), "*/")
			end := len(b)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			blank(b, i, end)
			i = end
			continue
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(b) && b[j] != c && b[j] != '\n' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			end := min(j+1, len(b))
			mark(i, end)
			i, prev = end, c
			continue
		case c == '`':
			j := i + 1
			depth := 0
			for j < len(b) {
				if b[j] == '\\' {
					j += 2
					continue
				}
				if depth == 0 && b[j] == '`' {
					break
				}
				if b[j] == '$' && j+1 < len(b) && b[j+1] == '{' {
					depth++
					j += 2
					continue
				}
				if depth > 0 && b[j] == '}' {
					depth--
				}
				j++
			}
			end := min(j+1, len(b))
			mark(i, end)
			i, prev = end, c
			continue
		case c == '/' && regexpCanStart(prev):
			j := i + 1
			class := false
			for j < len(b) && b[j] != '\n' {
				if b[j] == '\\' {
					j += 2
					continue
				}
				if b[j] == '[' {
					class = true
				} else if b[j] == ']' {
					class = false
				} else if b[j] == '/' && !class {
					break
				}
				j++
			}
			end := min(j+1, len(b))
			mark(i, end)
			i, prev = end, '/'
			continue
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			prev = c
		}
		i++
	}
	return newScript(b, inStr)
}

// regexpCanStart reports whether a / after prev starts a regular
// expression literal rather than a division.
func regexpCanStart(prev byte) bool {
	return prev == 0 || strings.IndexByte("(,=:[!&|?{};+-*%<>~^", prev) >= 0
}

// jsFile is one JavaScript or TypeScript test file being checked.
type jsFile struct {
	s     *script
	rep   *reporter
	mods  map[string]string // local name → module, for default and namespace imports
	funcs map[string]string // local name → module.function, for named imports
	vars  assignments
	seen  map[string]bool // rule and line already reported
	steps int             // evaluation steps of the current argument
}

var (
	jsRequireRE   = lazyRE(`(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*require\(\s*['"]([^'"]+)['"]\s*\)`)
	jsDestructRE  = lazyRE(`(?:const|let|var)\s*\{([^}]*)\}\s*=\s*(?:require\(\s*['"]([^'"]+)['"]\s*\)|([A-Za-z_$][\w$.]*))`)
	jsImportRE    = lazyRE(`import\s+(?:([A-Za-z_$][\w$]*)\s*,?\s*)?(?:\*\s*as\s+([A-Za-z_$][\w$]*)|\{([^}]*)\})?\s*from\s*['"]([^'"]+)['"]`)
	jsVarRE       = lazyRE(`(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::\s*[\w$.<>\[\]]+\s*)?=\s*`)
	jsEnvRE       = lazyRE(`\bprocess\s*\.\s*env\s*(?:\.\s*([A-Za-z_$][\w$]*)|\[\s*(['"])([^'"]+)['"]\s*\])`)
	jsEnvDestruct = lazyRE(`(?:const|let|var)\s*\{([^}]*)\}\s*=\s*process\s*\.\s*env\b`)
	jsAssignAfter = lazyRE(`^\s*(?:=[^=>]|\+=|-=|\|\|=|\?\?=)`)
	jsShellOption = lazyRE(`\bshell\s*:\s*(?:true|['"])`)
)

// normModule reduces a module specifier to the module the checks know.
func normModule(m string) string {
	m = strings.TrimPrefix(m, "node:")
	switch m {
	case "fs/promises", "fs-extra", "graceful-fs", "fs":
		return "fs"
	case "node-fetch", "cross-fetch", "isomorphic-fetch":
		return "fetch"
	}
	return m
}

// checkJS checks a JavaScript or TypeScript test file.
func checkJS(rep *reporter, src string) {
	j := &jsFile{s: prepareJS(src), rep: rep, mods: map[string]string{}, funcs: map[string]string{}, vars: assignments{}, seen: map[string]bool{}}
	code := j.s.code
	for _, m := range jsRequireRE().FindAllStringSubmatch(code, -1) {
		j.mods[m[1]] = normModule(m[2])
	}
	for _, m := range jsImportRE().FindAllStringSubmatch(code, -1) {
		mod := normModule(m[4])
		if m[1] != "" {
			j.mods[m[1]] = mod
		}
		if m[2] != "" {
			j.mods[m[2]] = mod
		}
		j.named(mod, m[3], " as ")
	}
	for _, m := range jsDestructRE().FindAllStringSubmatch(code, -1) {
		mod := normModule(m[2])
		if mod == "" {
			mod = j.canonical(m[3])
			if mod == m[3] && j.mods[m[3]] == "" {
				continue
			}
		}
		j.named(mod, m[1], ":")
	}
	for _, m := range jsVarRE().FindAllStringSubmatchIndex(code, -1) {
		if j.s.inStr[m[0]] {
			continue
		}
		name := code[m[2]:m[3]]
		end := j.s.exprEnd(m[1], true)
		j.vars[name] = append(j.vars[name], strings.TrimSpace(code[m[1]:end]))
	}
	for _, c := range j.s.calls() {
		j.checkCall(c)
	}
	j.checkEnv()
}

// named records the names of "{ a, b as c }" (sep " as ") or "{ a, b: c }"
// (sep ":") bound from module mod.
func (j *jsFile) named(mod, list, sep string) {
	if list == "" {
		return
	}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		item, _, _ = strings.Cut(item, "=") // a default value
		item = strings.TrimSpace(strings.TrimPrefix(item, "type "))
		if item == "" || strings.HasPrefix(item, "...") {
			continue
		}
		orig, local, ok := strings.Cut(item, sep)
		if !ok {
			local = orig
		}
		orig, local = strings.TrimSpace(orig), strings.TrimSpace(local)
		if mod == "fs" && orig == "promises" {
			j.mods[local] = "fs"
			continue
		}
		j.funcs[local] = mod + "." + orig
	}
}

// canonical rewrites a dotted name so that it starts with the module it
// comes from: cp.exec → child_process.exec, fsp.writeFile → fs.writeFile.
func (j *jsFile) canonical(chain string) string {
	parts := strings.Split(chain, ".")
	if f, ok := j.funcs[parts[0]]; ok {
		parts = append(strings.Split(f, "."), parts[1:]...)
	} else if m, ok := j.mods[parts[0]]; ok {
		parts[0] = m
	}
	if parts[0] == "fs" && len(parts) > 2 && parts[1] == "promises" {
		parts = append([]string{"fs"}, parts[2:]...)
	}
	return strings.Join(parts, ".")
}

var jsRequireCallRE = lazyRE(`^require\(\s*['"]([^'"]+)['"]\s*\)$`)

func (j *jsFile) calleeName(c call) string {
	if !c.afterDot {
		return j.canonical(c.callee)
	}
	if m := jsRequireCallRE().FindStringSubmatch(c.recv); m != nil {
		return normModule(m[1]) + "." + c.callee
	}
	recv := strings.Join(strings.Fields(c.recv), "")
	for _, ch := range []byte(recv) {
		if !isIdentByte(ch) && ch != '.' {
			return "?." + c.callee // a computed receiver: request(app).get
		}
	}
	return j.canonical(recv + "." + c.callee)
}

func (j *jsFile) report(rule string, c call, msg string) {
	line, col := j.s.pos(c.start)
	k := fmt.Sprintf("%s\x00%d", rule, line)
	if j.seen[k] {
		return
	}
	j.seen[k] = true
	j.rep.add(rule, line, col, msg, j.s.code[c.start:c.end])
}

func (j *jsFile) arg(c call, i int) value {
	if i >= len(c.args) {
		return value{}
	}
	return j.eval(c.args[i], 0)
}

var (
	jsWrites = map[string]int{
		"writeFile": 0, "writeFileSync": 0, "appendFile": 0, "appendFileSync": 0, "mkdir": 0, "mkdirSync": 0,
		"createWriteStream": 0, "rm": 0, "rmSync": 0, "rmdir": 0, "rmdirSync": 0, "unlink": 0, "unlinkSync": 0,
		"chmod": 0, "chmodSync": 0, "truncate": 0, "truncateSync": 0, "outputFile": 0, "outputFileSync": 0,
		"ensureDir": 0, "ensureDirSync": 0, "remove": 0, "removeSync": 0, "writeJson": 0, "writeJsonSync": 0,
		"outputJson": 0, "outputJsonSync": 0, "emptyDir": 0, "emptyDirSync": 0,
		"copyFile": 1, "copyFileSync": 1, "rename": 1, "renameSync": 1, "symlink": 1, "symlinkSync": 1,
		"cp": 1, "cpSync": 1, "copy": 1, "copySync": 1, "move": 1, "moveSync": 1,
	}
	jsReads = map[string]bool{
		"readFile": true, "readFileSync": true, "createReadStream": true, "readdir": true, "readdirSync": true,
		"readJson": true, "readJsonSync": true, "copyFile": true, "copyFileSync": true, "cp": true, "cpSync": true,
		"copy": true, "copySync": true, "open": true, "openSync": true,
	}
	// jsPathBuilders build paths from their arguments; a credential path
	// among their arguments is judged where the path is used.
	jsPathBuilders = map[string]bool{
		"path.join": true, "path.resolve": true, "path.normalize": true, "path.posix.join": true,
		"path.win32.join": true, "join": true, "resolve": true, "os.homedir": true, "homedir": true,
		"String": true, "URL": true, "fileURLToPath": true, "url.fileURLToPath": true,
	}
	jsHTTPVerbs = map[string]bool{
		"get": true, "post": true, "put": true, "patch": true, "delete": true, "head": true,
		"options": true, "request": true, "fetch": true, "goto": true,
	}
)

func (j *jsFile) checkCall(c call) {
	name := j.calleeName(c)
	mod, fn, _ := strings.Cut(name, ".")
	last := name[strings.LastIndexByte(name, '.')+1:]

	// Shells.
	switch {
	case mod == "child_process" && (fn == "exec" || fn == "execSync"):
		j.report(ruleExec, c, fmt.Sprintf("child_process.%s runs its command line through a shell", fn))
	case mod == "shelljs" && fn == "exec":
		j.report(ruleExec, c, "shelljs.exec runs its command line through a shell")
	case mod == "child_process" && (fn == "spawn" || fn == "spawnSync" || fn == "execFile" || fn == "execFileSync"),
		name == "execa" || name == "execa.execa" || name == "execa.sync" || name == "execaSync" || name == "execa.execaSync":
		if len(c.args) > 0 && jsShellOption().MatchString(c.args[len(c.args)-1]) && strings.HasPrefix(c.args[len(c.args)-1], "{") {
			j.report(ruleExec, c, fmt.Sprintf("%s runs its command through a shell (shell option)", name))
			break
		}
		prog := j.arg(c, 0)
		if prog.kind == valLit {
			if why := shellCommand(prog.s, j.arrayArg(c, 1)); why != "" {
				j.report(ruleExec, c, fmt.Sprintf("%s starts %s", name, why))
			}
		}
	}

	// Files.
	if mod == "fs" {
		if i, ok := jsWrites[last]; ok {
			if where, ok := outsideTemp(j.arg(c, i)); ok {
				j.report(ruleFS, c, fmt.Sprintf("fs.%s writes to %s, outside the test's temporary directories", last, where))
			}
		}
		if (last == "open" || last == "openSync") && len(c.args) > 1 {
			if f := j.arg(c, 1); f.kind == valLit && strings.ContainsAny(f.s, "wa+") {
				if where, ok := outsideTemp(j.arg(c, 0)); ok {
					j.report(ruleFS, c, fmt.Sprintf("fs.%s writes to %s, outside the test's temporary directories", last, where))
				}
				return
			}
		}
		if jsReads[last] {
			if p, ok := credentialPath(j.arg(c, 0)); ok {
				j.report(ruleCred, c, fmt.Sprintf("fs.%s reads credential file %s", last, p))
			}
		}
	} else if !jsPathBuilders[name] {
		for i := range c.args {
			if p, ok := credentialPath(j.arg(c, i)); ok {
				j.report(ruleCred, c, fmt.Sprintf("%s is given credential file %s", name, p))
				break
			}
		}
	}

	// Network.
	urlArg := func(i int) (string, bool) {
		if i >= len(c.args) {
			return "", false
		}
		a := c.args[i]
		if strings.HasPrefix(a, "{") {
			for _, k := range []string{"url", "baseURL", "href", "uri"} {
				if v, ok := objField(a, k); ok {
					if h, ok := hostOfURL(j.eval(v, 0)); ok {
						return h, true
					}
				}
			}
			for _, k := range []string{"host", "hostname"} {
				if v, ok := objField(a, k); ok {
					if x := j.eval(v, 0); x.kind == valLit {
						return remoteHost(x.s)
					}
				}
			}
			return "", false
		}
		return hostOfURL(j.arg(c, i))
	}
	netMsg := func(host string) string {
		return fmt.Sprintf("%s connects to %s, which is not a loopback address", name, host)
	}
	if isMock(name, c.object) {
		return
	}
	switch {
	case name == "fetch" || name == "fetch.default" || name == "undici.fetch" || name == "undici.request" ||
		name == "axios" || name == "axios.create" || name == "got" || name == "request" || name == "superagent" ||
		c.isNew && (name == "WebSocket" || name == "ws" || name == "EventSource"),
		(mod == "http" || mod == "https") && (fn == "get" || fn == "request"):
		if h, ok := urlArg(0); ok {
			j.report(ruleNet, c, netMsg(h))
		}
	case (mod == "net" || mod == "tls") && (fn == "connect" || fn == "createConnection"):
		if len(c.args) > 0 && strings.HasPrefix(c.args[0], "{") {
			if h, ok := urlArg(0); ok {
				j.report(ruleNet, c, netMsg(h))
			}
		} else if len(c.args) > 1 {
			if v := j.arg(c, 1); v.kind == valLit {
				if h, ok := remoteHost(v.s); ok {
					j.report(ruleNet, c, netMsg(h))
				}
			}
		}
	case jsHTTPVerbs[last]:
		if h, ok := urlArg(0); ok {
			j.report(ruleNet, c, netMsg(h))
		} else if last == "request" {
			if h, ok := urlArg(1); ok {
				j.report(ruleNet, c, netMsg(h))
			}
		}
	}
}

// arrayArg evaluates the elements of an array literal argument.
func (j *jsFile) arrayArg(c call, i int) []value {
	if i >= len(c.args) {
		return nil
	}
	a := strings.TrimSpace(c.args[i])
	if !strings.HasPrefix(a, "[") || !strings.HasSuffix(a, "]") {
		return nil
	}
	var out []value
	for _, e := range splitTop(a[1:len(a)-1], ',') {
		out = append(out, j.eval(e, 0))
	}
	return out
}

// objField returns the expression of field key in an object literal.
func objField(obj, key string) (string, bool) {
	obj = strings.TrimSpace(obj)
	if !strings.HasPrefix(obj, "{") || !strings.HasSuffix(obj, "}") {
		return "", false
	}
	for _, f := range splitTop(obj[1:len(obj)-1], ',') {
		k, v, ok := strings.Cut(f, ":")
		k = strings.Trim(strings.TrimSpace(k), `'"`)
		if !ok {
			if strings.TrimSpace(f) == key {
				return key, true // shorthand { url }
			}
			continue
		}
		if k == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// checkEnv reports reads of secret-like variables from process.env.
func (j *jsFile) checkEnv() {
	code := j.s.code
	for _, m := range jsEnvRE().FindAllStringSubmatchIndex(code, -1) {
		if j.s.inStr[m[0]] {
			continue
		}
		name := ""
		if m[2] >= 0 {
			name = code[m[2]:m[3]]
		} else {
			name = code[m[6]:m[7]]
		}
		if jsAssignAfter().MatchString(code[m[1]:min(len(code), m[1]+8)]) ||
			strings.HasSuffix(strings.TrimSpace(code[max(0, m[0]-8):m[0]]), "delete") {
			continue
		}
		if secretEnvName(name) {
			j.reportAt(ruleEnv, m[0], fmt.Sprintf("process.env.%s reads a secret-like environment variable", name))
		}
	}
	for _, m := range jsEnvDestruct().FindAllStringSubmatchIndex(code, -1) {
		if j.s.inStr[m[0]] {
			continue
		}
		for _, item := range strings.Split(code[m[2]:m[3]], ",") {
			name, _, _ := strings.Cut(item, ":")
			name, _, _ = strings.Cut(name, "=")
			name = strings.TrimSpace(name)
			if secretEnvName(name) {
				j.reportAt(ruleEnv, m[0], fmt.Sprintf("process.env.%s reads a secret-like environment variable", name))
			}
		}
	}
}

// reportAt reports a finding that is not a call, at offset start.
func (j *jsFile) reportAt(rule string, start int, msg string) {
	line, col := j.s.pos(start)
	k := fmt.Sprintf("%s\x00%d\x00%s", rule, line, msg)
	if j.seen[k] {
		return
	}
	j.seen[k] = true
	j.rep.add(rule, line, col, msg, msg)
}

var jsEnvValueRE = lazyRE(`^process\s*\.\s*env\s*(?:\.\s*([A-Za-z_$][\w$]*)|\[\s*['"]([^'"]+)['"]\s*\])$`)

// eval works out what is known of the string value of a JavaScript
// expression.
func (j *jsFile) eval(e string, depth int) value {
	if depth == 0 {
		j.steps = 0
	}
	if j.steps++; j.steps > maxEvalSteps {
		return value{}
	}
	e = unwrapParens(strings.TrimSpace(e))
	if depth > maxEvalDepth || e == "" {
		return value{}
	}
	e = strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(e, " as string")), "!")
	if parts := splitTop(e, '+'); len(parts) > 1 {
		v := j.eval(parts[0], depth+1)
		for _, p := range parts[1:] {
			v = concat(v, j.eval(p, depth+1))
		}
		return v
	}
	if s, ok := quotedString(e); ok {
		return lit(s)
	}
	if strings.HasPrefix(e, "`") && strings.HasSuffix(e, "`") && len(e) >= 2 {
		return j.template(e[1:len(e)-1], depth)
	}
	if m := jsEnvValueRE().FindStringSubmatch(e); m != nil {
		switch m[1] + m[2] {
		case "HOME", "USERPROFILE":
			return value{kind: valHome}
		case "TMPDIR", "TEMP", "TMP":
			return value{kind: valTemp}
		}
		return value{}
	}
	e = strings.TrimSpace(strings.TrimPrefix(e, "new "))
	if callee, args, ok := splitCall(e); ok {
		name := callee
		if isDotted(callee) {
			name = j.canonical(callee)
		} else if recv, method, ok := splitMethod(callee); ok {
			if m := jsRequireCallRE().FindStringSubmatch(recv); m != nil {
				name = normModule(m[1]) + "." + method
			}
		}
		switch name {
		case "path.join", "path.resolve", "path.normalize", "path.posix.join", "path.win32.join":
			vs := make([]value, len(args))
			for i, a := range args {
				vs[i] = j.eval(a, depth+1)
			}
			return join(vs, name == "path.resolve")
		case "os.homedir":
			return value{kind: valHome}
		case "os.tmpdir", "fs.mkdtempSync", "fs.mkdtemp":
			return value{kind: valTemp}
		case "String", "URL", "url.fileURLToPath", "fileURLToPath":
			if len(args) > 0 {
				return j.eval(args[0], depth+1)
			}
		}
		return value{}
	}
	if isIdent(e) {
		if v, ok := j.vars.value(e); ok {
			return j.eval(v, depth+1)
		}
	}
	return value{}
}

// template evaluates the body of a template literal.
func (j *jsFile) template(body string, depth int) value {
	out := value{kind: valLit}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			i++
			b.WriteByte(body[i])
			continue
		}
		if body[i] == '$' && i+1 < len(body) && body[i+1] == '{' {
			end := closing(body, i+1)
			if end < 0 {
				return value{}
			}
			v := j.eval(body[i+2:end], depth+1)
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
			continue
		}
		b.WriteByte(body[i])
	}
	out.s = b.String()
	return out
}

func isIdent(e string) bool {
	if e == "" || e[0] >= '0' && e[0] <= '9' {
		return false
	}
	for _, c := range []byte(e) {
		if !isIdentByte(c) {
			return false
		}
	}
	return true
}
