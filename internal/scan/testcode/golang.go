package testcode

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
)

// goFile is one Go test file being checked. It works from the syntax tree
// alone: imports are resolved through their local names, and the values
// of variables through their assignments in the enclosing function.
type goFile struct {
	rep     *reporter
	fset    *token.FileSet
	src     []byte
	imports map[string]string // local name → import path
	dots    []string          // dot-imported paths
	globals bindings          // package-level consts and vars of the file
	steps   int               // evaluation steps of the current argument
}

// bindings maps a variable's name to the expressions assigned to it.
type bindings map[string][]binding

type binding struct {
	expr  ast.Expr // nil: something not modelled (a range variable, a parameter)
	index int      // which result of a call with several
}

// maxEvalDepth bounds how many variables are followed to find a value.
const maxEvalDepth = 8

// checkGo checks a Go test file. A file that does not parse is an error,
// which the caller reports as a gap.
func checkGo(rep *reporter, src []byte) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rep.path, src, parser.SkipObjectResolution|parser.ParseComments)
	if err != nil {
		return err
	}
	g := &goFile{rep: rep, fset: fset, src: src, imports: map[string]string{}, globals: bindings{}}
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		name := p[strings.LastIndexByte(p, '/')+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		} else if v := strings.TrimPrefix(name, "v"); name != "" && name[0] == 'v' && isNumber(v) && strings.Contains(p, "/") {
			// A major-version suffix: example.com/mod/v2 is package mod.
			q := strings.TrimSuffix(p, "/"+name)
			name = q[strings.LastIndexByte(q, '/')+1:]
		}
		switch name {
		case "_":
		case ".":
			g.dots = append(g.dots, p)
		default:
			g.imports[name] = p
		}
	}
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && (gd.Tok == token.CONST || gd.Tok == token.VAR) {
			collectSpecs(gd, g.globals)
		}
	}
	for _, d := range f.Decls {
		fc := &funcCtx{env: bindings{}, sent: map[string]bool{}, assigned: map[*ast.CallExpr]string{}}
		env := fc.env
		if fd, ok := d.(*ast.FuncDecl); ok {
			fc.name = fd.Name.Name
			if strings.HasPrefix(fd.Name.Name, "Example") && fd.Recv == nil && !hasOutput(f, fd) {
				continue // go test compiles an example without output but never runs it
			}
			if fd.Body != nil {
				collectBindings(fd.Body, env)
				collectSent(fd.Body, fc)
			}
			if fd.Type.Params != nil {
				for _, fld := range fd.Type.Params.List {
					for _, n := range fld.Names {
						env[n.Name] = append(env[n.Name], binding{})
					}
				}
			}
		}
		ast.Inspect(d, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				g.checkCall(fc, call)
			}
			return true
		})
	}
	return nil
}

// funcCtx is what is known about the function a call is in.
type funcCtx struct {
	name string
	env  bindings
	// sent are the variables passed to a Do or RoundTrip method: requests
	// that are sent, not just built for a handler.
	sent map[string]bool
	// assigned maps a call to the variable its first result is assigned to.
	assigned map[*ast.CallExpr]string
}

// collectSent fills fc.sent and fc.assigned from a function body.
func collectSent(body ast.Node, fc *funcCtx) {
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && (sel.Sel.Name == "Do" || sel.Sel.Name == "RoundTrip") && len(n.Args) == 1 {
				if id, ok := ast.Unparen(n.Args[0]).(*ast.Ident); ok {
					fc.sent[id.Name] = true
				}
			}
		case *ast.AssignStmt:
			if len(n.Rhs) == 1 && len(n.Lhs) > 0 {
				if call, ok := ast.Unparen(n.Rhs[0]).(*ast.CallExpr); ok {
					if id, ok := n.Lhs[0].(*ast.Ident); ok {
						fc.assigned[call] = id.Name
					}
				}
			}
		}
		return true
	})
}

// hasOutput reports whether an example function has an output comment,
// without which go test does not run it.
func hasOutput(f *ast.File, fd *ast.FuncDecl) bool {
	if fd.Body == nil {
		return false
	}
	for _, cg := range f.Comments {
		if cg.Pos() < fd.Body.Lbrace || cg.End() > fd.Body.Rbrace {
			continue
		}
		t := strings.ToLower(strings.TrimSpace(cg.Text()))
		if strings.HasPrefix(t, "output:") || strings.HasPrefix(t, "unordered output:") {
			return true
		}
	}
	return false
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return s != "" && err == nil
}

func collectSpecs(gd *ast.GenDecl, b bindings) {
	for _, sp := range gd.Specs {
		vs, ok := sp.(*ast.ValueSpec)
		if !ok {
			continue
		}
		for i, n := range vs.Names {
			switch {
			case len(vs.Values) == len(vs.Names):
				b[n.Name] = append(b[n.Name], binding{expr: vs.Values[i]})
			case len(vs.Values) == 1:
				b[n.Name] = append(b[n.Name], binding{expr: vs.Values[0], index: i})
			default:
				b[n.Name] = append(b[n.Name], binding{})
			}
		}
	}
}

// collectBindings records every assignment in a function body, nested
// function literals included (closures see the variables around them).
func collectBindings(body ast.Node, b bindings) {
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				id, ok := l.(*ast.Ident)
				if !ok || id.Name == "_" {
					continue
				}
				switch {
				case n.Tok != token.ASSIGN && n.Tok != token.DEFINE:
					b[id.Name] = append(b[id.Name], binding{}) // +=, …
				case len(n.Lhs) == len(n.Rhs):
					b[id.Name] = append(b[id.Name], binding{expr: n.Rhs[i]})
				case len(n.Rhs) == 1:
					b[id.Name] = append(b[id.Name], binding{expr: n.Rhs[0], index: i})
				}
			}
		case *ast.GenDecl:
			collectSpecs(n, b)
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if id, ok := e.(*ast.Ident); ok {
					b[id.Name] = append(b[id.Name], binding{})
				}
			}
		case *ast.FuncLit:
			for _, fld := range n.Type.Params.List {
				for _, nm := range fld.Names {
					b[nm.Name] = append(b[nm.Name], binding{})
				}
			}
		}
		return true
	})
}

// callee names what a call calls: a package function (pkg is its import
// path) or a method (recv is the receiver expression).
func (g *goFile) callee(call *ast.CallExpr, env bindings) (pkg, name string, recv ast.Expr) {
	switch fn := ast.Unparen(call.Fun).(type) {
	case *ast.SelectorExpr:
		if id, ok := fn.X.(*ast.Ident); ok {
			if p, ok := g.imports[id.Name]; ok && len(env[id.Name]) == 0 {
				return p, fn.Sel.Name, nil
			}
		}
		return "", fn.Sel.Name, fn.X
	case *ast.Ident:
		for _, p := range g.dots {
			if knownGoFunc(p, fn.Name) {
				return p, fn.Name, nil
			}
		}
		return "", fn.Name, nil
	}
	return "", "", nil
}

func knownGoFunc(pkg, name string) bool {
	_, ok := goFuncs[pkg+"."+name]
	return ok
}

// goFunc says how a package function is checked: which argument holds
// what.
type goFunc struct {
	net       int // index of a URL or address argument, or -1
	netIsAddr bool
	exec      int // index of the program argument, or -1
	write     []int
	read      []int
	env       int  // index of an environment variable name, or -1
	openFlags int  // for OpenFile: index of the flags
	sendOnly  bool // net counts only if the result is sent (http.NewRequest)
}

// goFuncOf returns a goFunc with no checks but those mod sets.
func goFuncOf(mod func(*goFunc)) goFunc {
	f := goFunc{net: -1, exec: -1, env: -1, openFlags: -1}
	mod(&f)
	return f
}

var goFuncs = map[string]goFunc{
	"net.Dial":                           goFuncOf(func(f *goFunc) { f.net, f.netIsAddr = 1, true }),
	"net.DialTimeout":                    goFuncOf(func(f *goFunc) { f.net, f.netIsAddr = 1, true }),
	"crypto/tls.Dial":                    goFuncOf(func(f *goFunc) { f.net, f.netIsAddr = 1, true }),
	"crypto/tls.DialWithDialer":          goFuncOf(func(f *goFunc) { f.net, f.netIsAddr = 2, true }),
	"google.golang.org/grpc.Dial":        goFuncOf(func(f *goFunc) { f.net, f.netIsAddr = 0, true }),
	"google.golang.org/grpc.NewClient":   goFuncOf(func(f *goFunc) { f.net, f.netIsAddr = 0, true }),
	"google.golang.org/grpc.DialContext": goFuncOf(func(f *goFunc) { f.net, f.netIsAddr = 1, true }),
	"net/http.Get":                       goFuncOf(func(f *goFunc) { f.net = 0 }),
	"net/http.Head":                      goFuncOf(func(f *goFunc) { f.net = 0 }),
	"net/http.Post":                      goFuncOf(func(f *goFunc) { f.net = 0 }),
	"net/http.PostForm":                  goFuncOf(func(f *goFunc) { f.net = 0 }),
	"net/http.NewRequest":                goFuncOf(func(f *goFunc) { f.net, f.sendOnly = 1, true }),
	"net/http.NewRequestWithContext":     goFuncOf(func(f *goFunc) { f.net, f.sendOnly = 2, true }),
	"os/exec.Command":                    goFuncOf(func(f *goFunc) { f.exec = 0 }),
	"os/exec.CommandContext":             goFuncOf(func(f *goFunc) { f.exec = 1 }),
	"os.StartProcess":                    goFuncOf(func(f *goFunc) { f.exec = 0 }),
	"syscall.Exec":                       goFuncOf(func(f *goFunc) { f.exec = 0 }),
	"syscall.ForkExec":                   goFuncOf(func(f *goFunc) { f.exec = 0 }),
	"os.WriteFile":                       goFuncOf(func(f *goFunc) { f.write = []int{0} }),
	"io/ioutil.WriteFile":                goFuncOf(func(f *goFunc) { f.write = []int{0} }),
	"os.Create":                          goFuncOf(func(f *goFunc) { f.write = []int{0} }),
	"os.Mkdir":                           goFuncOf(func(f *goFunc) { f.write = []int{0} }),
	"os.MkdirAll":                        goFuncOf(func(f *goFunc) { f.write = []int{0} }),
	"os.Remove":                          goFuncOf(func(f *goFunc) { f.write = []int{0} }),
	"os.RemoveAll":                       goFuncOf(func(f *goFunc) { f.write = []int{0} }),
	"os.Chmod":                           goFuncOf(func(f *goFunc) { f.write = []int{0} }),
	"os.Rename":                          goFuncOf(func(f *goFunc) { f.write = []int{1} }),
	"os.Symlink":                         goFuncOf(func(f *goFunc) { f.write = []int{1} }),
	"os.Link":                            goFuncOf(func(f *goFunc) { f.write = []int{1} }),
	"os.OpenFile":                        goFuncOf(func(f *goFunc) { f.openFlags = 1 }),
	"os.ReadFile":                        goFuncOf(func(f *goFunc) { f.read = []int{0} }),
	"io/ioutil.ReadFile":                 goFuncOf(func(f *goFunc) { f.read = []int{0} }),
	"os.Open":                            goFuncOf(func(f *goFunc) { f.read = []int{0} }),
	"os.ReadDir":                         goFuncOf(func(f *goFunc) { f.read = []int{0} }),
	"io/ioutil.ReadDir":                  goFuncOf(func(f *goFunc) { f.read = []int{0} }),
	"os.Getenv":                          goFuncOf(func(f *goFunc) { f.env = 0 }),
	"os.LookupEnv":                       goFuncOf(func(f *goFunc) { f.env = 0 }),
	"syscall.Getenv":                     goFuncOf(func(f *goFunc) { f.env = 0 }),
}

func (g *goFile) checkCall(fc *funcCtx, call *ast.CallExpr) {
	env := fc.env
	pkg, name, recv := g.callee(call, env)
	if name == "" {
		return
	}
	ev := func(i int) value {
		if i < 0 || i >= len(call.Args) {
			return value{}
		}
		return g.eval(call.Args[i], env, 0)
	}
	display := name
	if pkg != "" {
		display = pkg[strings.LastIndexByte(pkg, '/')+1:] + "." + name
	}
	report := func(rule, msg string) {
		pos := g.fset.Position(call.Pos())
		g.rep.add(rule, pos.Line, pos.Column, msg, fc.name+" "+g.text(call))
	}

	if pkg == "" {
		if recv == nil {
			return
		}
		g.checkMethod(name, recv, call, env, ev, report)
		return
	}
	f, ok := goFuncs[pkg+"."+name]
	if !ok {
		if pkg == "os" && name == "ExpandEnv" {
			if v := ev(0); v.kind == valLit {
				for _, m := range envRefRE().FindAllStringSubmatch(v.s, -1) {
					if n := m[1] + m[2]; secretEnvName(n) {
						report(ruleEnv, fmt.Sprintf("%s reads secret-like environment variable %s", display, n))
						break
					}
				}
			}
		}
		return
	}
	if f.net >= 0 && f.sendOnly {
		// A request that is built and handed to a handler goes nowhere;
		// only one given to Do or RoundTrip is sent.
		if v, ok := fc.assigned[call]; !ok || !fc.sent[v] {
			f.net = -1
		}
	}
	if f.net >= 0 {
		v := ev(f.net)
		host, remote := hostOfURL(v)
		if f.netIsAddr {
			if pkg == "google.golang.org/grpc" {
				v = grpcTarget(v)
			}
			host, remote = hostOfAddr(v)
			if strings.HasPrefix(strings.ToLower(ev(0).s), "unix") {
				remote = false
			}
		}
		if remote {
			report(ruleNet, fmt.Sprintf("%s connects to %s, which is not a loopback address", display, host))
		}
	}
	if f.exec >= 0 {
		var args []value
		for i := f.exec + 1; i < len(call.Args); i++ {
			args = append(args, ev(i))
		}
		if pkg == "os" || pkg == "syscall" {
			args = g.argvValues(call, f.exec+1, env)
		}
		prog := ev(f.exec)
		if prog.kind == valLit {
			if why := shellCommand(prog.s, args); why != "" {
				report(ruleExec, fmt.Sprintf("%s starts %s", display, why))
			}
		}
		for _, a := range append([]value{prog}, args...) {
			if p, ok := credentialPath(a); ok {
				report(ruleCred, fmt.Sprintf("%s passes credential file %s to a command", display, p))
				break
			}
		}
	}
	writes, reads := f.write, f.read
	if f.openFlags >= 0 {
		switch openMode(call, f.openFlags) {
		case "read":
			reads = []int{0}
		case "write":
			writes = []int{0}
		default:
			reads, writes = []int{0}, []int{0}
		}
	}
	for _, i := range writes {
		if where, ok := outsideTemp(ev(i)); ok {
			report(ruleFS, fmt.Sprintf("%s writes to %s, outside the test's temporary directories", display, where))
		}
	}
	for _, i := range reads {
		if p, ok := credentialPath(ev(i)); ok {
			report(ruleCred, fmt.Sprintf("%s reads credential file %s", display, p))
		}
	}
	if f.env >= 0 {
		if v := ev(f.env); v.kind == valLit && secretEnvName(v.s) {
			report(ruleEnv, fmt.Sprintf("%s reads secret-like environment variable %s", display, v.s))
		}
	}
}

// checkMethod checks a method call: Get, Post, Head and PostForm on an
// http.Client, and Dial or DialContext with a literal address on any
// receiver (net.Dialer, tls.Dialer, websocket dialers).
func (g *goFile) checkMethod(name string, recv ast.Expr, call *ast.CallExpr, env bindings, ev func(int) value, report func(rule, msg string)) {
	switch name {
	case "Get", "Head", "Post", "PostForm":
		if g.isHTTPClient(recv, env, 0) {
			if host, ok := hostOfURL(ev(0)); ok {
				report(ruleNet, fmt.Sprintf("http.Client.%s connects to %s, which is not a loopback address", name, host))
			}
		}
	case "Dial", "DialContext", "DialTLS", "DialTLSContext":
		for i := range call.Args {
			v := ev(i)
			if v.kind != valLit {
				continue
			}
			switch strings.ToLower(v.s) {
			case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "ip", "ip4", "ip6":
				continue
			case "unix", "unixgram", "unixpacket":
				return
			}
			if host, ok := hostOfAddr(v); ok {
				report(ruleNet, fmt.Sprintf("%s connects to %s, which is not a loopback address", name, host))
			}
			return
		}
	}
}

// isHTTPClient reports whether e is, as far as the syntax shows, an
// *http.Client: http.DefaultClient, an http.Client literal, new(http.Client),
// or a variable assigned one of these.
func (g *goFile) isHTTPClient(e ast.Expr, env bindings, depth int) bool {
	if depth > maxEvalDepth {
		return false
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.SelectorExpr:
		return g.isPkgSel(e, "net/http", "DefaultClient", env)
	case *ast.UnaryExpr:
		return e.Op == token.AND && g.isHTTPClient(e.X, env, depth+1)
	case *ast.CompositeLit:
		for _, el := range e.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Transport" {
					return false // the test's own transport: often a fake
				}
			}
		}
		if sel, ok := e.Type.(*ast.SelectorExpr); ok {
			return g.isPkgSel(sel, "net/http", "Client", env)
		}
	case *ast.CallExpr:
		if id, ok := e.Fun.(*ast.Ident); ok && id.Name == "new" && len(e.Args) == 1 {
			if sel, ok := e.Args[0].(*ast.SelectorExpr); ok {
				return g.isPkgSel(sel, "net/http", "Client", env)
			}
		}
	case *ast.Ident:
		bs := env[e.Name]
		if len(bs) == 0 {
			bs = g.globals[e.Name]
		}
		if len(bs) == 0 {
			return false
		}
		for _, b := range bs {
			if b.expr == nil || b.index != 0 || !g.isHTTPClient(b.expr, env, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

func (g *goFile) isPkgSel(sel *ast.SelectorExpr, pkg, name string, env bindings) bool {
	id, ok := sel.X.(*ast.Ident)
	return ok && sel.Sel.Name == name && g.imports[id.Name] == pkg && len(env[id.Name]) == 0
}

// grpcTarget strips the resolver scheme of a gRPC target: dns:///host:443,
// dns:host:443, passthrough:///host:443. Other schemes (unix:) are not
// network addresses.
func grpcTarget(v value) value {
	if v.kind != valLit {
		return v
	}
	scheme, rest, ok := strings.Cut(v.s, ":")
	switch {
	case !ok:
		return v
	case scheme == "dns" || scheme == "passthrough":
		if strings.HasPrefix(rest, "//") {
			rest = rest[2:]
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest = rest[i+1:] // the authority is the DNS server, not the target
			}
		}
		return lit(rest)
	case scheme == "unix" || scheme == "unix-abstract" || scheme == "vsock":
		return value{}
	}
	return v
}

// openMode reads the flags of os.OpenFile: "read", "write" or "" when
// they are not visible.
func openMode(call *ast.CallExpr, i int) string {
	if i >= len(call.Args) {
		return ""
	}
	mode := "read"
	known := true
	ast.Inspect(call.Args[i], func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			switch n.Sel.Name {
			case "O_WRONLY", "O_RDWR", "O_CREATE", "O_APPEND", "O_TRUNC":
				mode = "write"
			case "O_RDONLY", "O_EXCL", "O_SYNC":
			default:
				known = false
			}
			return false
		case *ast.Ident:
			known = false
		case *ast.BasicLit:
			if n.Value != "0" {
				known = false
			}
		}
		return true
	})
	if mode == "write" {
		return mode
	}
	if !known {
		return ""
	}
	return mode
}

// argvValues evaluates the argv slice of os.StartProcess or syscall.Exec
// when it is a literal, skipping argv[0].
func (g *goFile) argvValues(call *ast.CallExpr, i int, env bindings) []value {
	if i >= len(call.Args) {
		return nil
	}
	cl, ok := ast.Unparen(call.Args[i]).(*ast.CompositeLit)
	if !ok || len(cl.Elts) == 0 {
		return nil
	}
	var out []value
	for _, e := range cl.Elts[1:] {
		out = append(out, g.eval(e, env, 0))
	}
	return out
}

// eval works out what is known of the string value of e.
func (g *goFile) eval(e ast.Expr, env bindings, depth int) value {
	if depth == 0 {
		g.steps = 0
	}
	if g.steps++; depth > maxEvalDepth || g.steps > maxEvalSteps {
		return value{}
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			if s, err := strconv.Unquote(e.Value); err == nil {
				return lit(s)
			}
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			return concat(g.eval(e.X, env, depth+1), g.eval(e.Y, env, depth+1))
		}
	case *ast.Ident:
		return g.evalIdent(e.Name, env, depth)
	case *ast.CallExpr:
		return g.evalCall(e, env, depth, 0)
	}
	return value{}
}

func (g *goFile) evalIdent(name string, env bindings, depth int) value {
	bs, ok := env[name]
	if !ok {
		bs = g.globals[name]
	}
	if len(bs) == 0 {
		return value{}
	}
	var v value
	for i, b := range bs {
		if b.expr == nil {
			return value{}
		}
		var bv value
		if call, ok := ast.Unparen(b.expr).(*ast.CallExpr); ok {
			bv = g.evalCall(call, env, depth+1, b.index)
		} else if b.index == 0 {
			bv = g.eval(b.expr, env, depth+1)
		}
		if i > 0 && bv != v {
			return value{} // assigned different values: not known
		}
		v = bv
	}
	return v
}

// evalCall works out the value of result index of a call.
func (g *goFile) evalCall(call *ast.CallExpr, env bindings, depth, index int) value {
	pkg, name, recv := g.callee(call, env)
	if pkg == "" {
		// t.TempDir(), b.TempDir(), f.TempDir()
		if recv != nil && name == "TempDir" && len(call.Args) == 0 && index == 0 {
			return value{kind: valTemp}
		}
		return value{}
	}
	args := func(from int) []value {
		var out []value
		for i := from; i < len(call.Args); i++ {
			out = append(out, g.eval(call.Args[i], env, depth+1))
		}
		return out
	}
	if index != 0 {
		return value{}
	}
	switch pkg + "." + name {
	case "path/filepath.Join", "path.Join":
		if call.Ellipsis.IsValid() {
			return value{}
		}
		return join(args(0), false)
	case "os.Getenv":
		if v := args(0); len(v) == 1 && v[0].kind == valLit {
			switch v[0].s {
			case "HOME", "USERPROFILE":
				return value{kind: valHome}
			case "TMPDIR", "TEMP", "TMP":
				return value{kind: valTemp}
			}
		}
	case "os.UserHomeDir":
		return value{kind: valHome}
	case "os.UserConfigDir":
		return value{kind: valHome, s: "/.config"}
	case "os.UserCacheDir":
		return value{kind: valHome, s: "/.cache"}
	case "os.TempDir", "os.MkdirTemp", "io/ioutil.TempDir":
		return value{kind: valTemp}
	case "os.ExpandEnv":
		if v := args(0); len(v) == 1 && v[0].kind == valLit {
			return expandEnv(v[0].s)
		}
	case "fmt.Sprintf":
		a := args(0)
		if len(a) == 0 || a[0].kind != valLit {
			return value{}
		}
		return sprintf(a[0].s, a[1:])
	}
	return value{}
}

// envRefRE matches ${NAME} (submatch 1) and $NAME (submatch 2).
var envRefRE = lazyRE(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)

// expandEnv models os.ExpandEnv: $HOME at the start gives a path in the
// home directory; other variables become unknown parts.
func expandEnv(s string) value {
	start := value{kind: valLit}
	if m := envRefRE().FindStringSubmatch(s); m != nil && strings.HasPrefix(s, m[0]) {
		name := m[1] + m[2]
		switch name {
		case "HOME", "USERPROFILE":
			start = value{kind: valHome}
		case "TMPDIR":
			start = value{kind: valTemp}
		default:
			start = lit(unknownPart)
		}
		s = s[len(m[0]):]
	}
	return concat(start, lit(envRefRE().ReplaceAllString(s, unknownPart)))
}

// sprintf models fmt.Sprintf: verbs take the values of their arguments;
// a format that starts with a verb takes its argument's kind.
func sprintf(format string, args []value) value {
	var b strings.Builder
	out := value{kind: valLit}
	ai := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("+-# 0123456789.*[]", format[j]) >= 0 {
			j++
		}
		if ai < len(args) {
			a := args[ai]
			switch {
			case i == 0 && (a.kind == valHome || a.kind == valTemp):
				out.kind = a.kind
				b.WriteString(a.s)
			case a.kind == valLit:
				b.WriteString(a.s)
			default:
				b.WriteString(unknownPart)
			}
		} else {
			b.WriteString(unknownPart)
		}
		ai++
		i = j
	}
	out.s = b.String()
	return out
}

// text returns the source of n with its whitespace folded.
func (g *goFile) text(n ast.Node) string {
	start, end := g.fset.Position(n.Pos()).Offset, g.fset.Position(n.End()).Offset
	if start < 0 || end > len(g.src) || start > end {
		return ""
	}
	return string(bytes.Join(bytes.Fields(g.src[start:end]), []byte(" ")))
}
