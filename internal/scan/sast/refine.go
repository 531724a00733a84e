package sast

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"mime"
	"strconv"
	"strings"

	"github.com/securego/gosec/v2/issue"
	"golang.org/x/tools/go/ast/astutil"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/types/typeutil"
)

// Refinements: two checks that gosec's rules do not model, and which
// account for most of their false positives in ordinary handlers. Each one
// dismisses a finding only when the code right around the flagged call
// proves it harmless; anything it cannot resolve keeps the finding.
//
//   - Path rules (G304, G703): the path is a cleaned path (the result of
//     filepath.Join or filepath.Clean) checked with strings.HasPrefix
//     against a base directory, or built from a name checked with
//     filepath.IsLocal, in an if statement before the call whose body
//     leaves (return, panic, break, continue).
//   - XSS (G705): the handler set the response's Content-Type to a
//     constant type browsers do not render as HTML (text/plain, JSON,
//     octet-stream, CSV, raster images) before writing.

// dismiss reports whether the issue is proven harmless by its context.
func dismiss(pkg *packages.Package, files map[string]*ast.File, iss *issue.Issue) bool {
	switch iss.RuleID {
	case "G304", "G703", "G705":
	default:
		return false
	}
	if pkg.TypesInfo == nil || pkg.IllTyped {
		return false
	}
	call, path := callAt(pkg.Fset, files[iss.File], iss)
	if call == nil {
		return false
	}
	if iss.RuleID == "G705" {
		return nonHTMLResponse(pkg.TypesInfo, call, path)
	}
	return guardedPath(pkg.TypesInfo, call, path)
}

// callAt returns the innermost call at the issue's position and the path of
// nodes enclosing it.
func callAt(fset *token.FileSet, f *ast.File, iss *issue.Issue) (*ast.CallExpr, []ast.Node) {
	if f == nil {
		return nil, nil
	}
	tf := fset.File(f.Pos())
	line, _ := lineRange(iss.Line)
	col, _ := strconv.Atoi(iss.Col)
	if tf == nil || line < 1 || line > tf.LineCount() || col < 1 {
		return nil, nil
	}
	offset := tf.Offset(tf.LineStart(line)) + col - 1
	if offset >= tf.Size() {
		return nil, nil
	}
	pos := tf.Pos(offset)
	path, _ := astutil.PathEnclosingInterval(f, pos, pos)
	for i, n := range path {
		if c, ok := n.(*ast.CallExpr); ok {
			return c, path[i:]
		}
	}
	return nil, nil
}

// funcBody returns the body of the innermost function in path.
func funcBody(path []ast.Node) *ast.BlockStmt {
	for _, n := range path {
		switch f := n.(type) {
		case *ast.FuncDecl:
			return f.Body
		case *ast.FuncLit:
			return f.Body
		}
	}
	return nil
}

// dominatingIfs returns the if statements that run before the call on every
// path to it: those earlier in a block enclosing the call, within its
// function.
func dominatingIfs(path []ast.Node, call *ast.CallExpr) []*ast.IfStmt {
	var ifs []*ast.IfStmt
	for _, n := range path {
		switch b := n.(type) {
		case *ast.BlockStmt:
			for _, s := range b.List {
				if s.End() > call.Pos() {
					break
				}
				if is, ok := s.(*ast.IfStmt); ok && leaves(is.Body) {
					ifs = append(ifs, is)
				}
			}
		case *ast.CaseClause:
			for _, s := range b.Body {
				if s.End() > call.Pos() {
					break
				}
				if is, ok := s.(*ast.IfStmt); ok && leaves(is.Body) {
					ifs = append(ifs, is)
				}
			}
		case *ast.FuncDecl, *ast.FuncLit:
			return ifs
		}
	}
	return ifs
}

// leaves reports whether a block always leaves the enclosing flow.
func leaves(b *ast.BlockStmt) bool {
	if b == nil || len(b.List) == 0 {
		return false
	}
	switch s := b.List[len(b.List)-1].(type) {
	case *ast.ReturnStmt:
		return true
	case *ast.BranchStmt:
		return s.Tok == token.BREAK || s.Tok == token.CONTINUE
	case *ast.ExprStmt:
		if c, ok := s.X.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "panic" {
				return true
			}
		}
	}
	return false
}

// isFunc reports whether call calls the package-level function pkg.name.
func isFunc(info *types.Info, call *ast.CallExpr, pkg, name string) bool {
	f := typeutil.StaticCallee(info, call)
	return f != nil && f.Pkg() != nil && f.Pkg().Path() == pkg && f.Name() == name
}

// localVar returns the variable an expression names, if it is a plain
// identifier.
func localVar(info *types.Info, e ast.Expr) *types.Var {
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return nil
	}
	v, _ := info.ObjectOf(id).(*types.Var)
	return v
}

// assignments returns the right-hand sides assigned to v in body, nil for
// an assignment it cannot attribute to one value (a multi-value call, an
// increment, taking its address).
func assignments(info *types.Info, body *ast.BlockStmt, v *types.Var) (values []ast.Expr, other bool) {
	ast.Inspect(body, func(n ast.Node) bool {
		switch s := n.(type) {
		case *ast.AssignStmt:
			for i, lhs := range s.Lhs {
				if localVar(info, lhs) != v {
					continue
				}
				if len(s.Lhs) != len(s.Rhs) || s.Tok != token.DEFINE && s.Tok != token.ASSIGN {
					other = true
					continue
				}
				values = append(values, s.Rhs[i])
			}
		case *ast.ValueSpec:
			for i, name := range s.Names {
				if info.Defs[name] == v {
					if len(s.Values) != len(s.Names) {
						other = true
						continue
					}
					values = append(values, s.Values[i])
				}
			}
		case *ast.UnaryExpr:
			if s.Op == token.AND && localVar(info, s.X) == v {
				other = true
			}
		}
		return true
	})
	return values, other
}

// guardedPath reports whether every non-constant string argument of the
// call is a path proven to stay under a base directory.
func guardedPath(info *types.Info, call *ast.CallExpr, path []ast.Node) bool {
	body := funcBody(path)
	if body == nil {
		return false
	}
	ifs := dominatingIfs(path, call)
	checked := 0
	for _, arg := range call.Args {
		tv, ok := info.Types[arg]
		if !ok || tv.Value != nil {
			continue
		}
		if b, ok := tv.Type.Underlying().(*types.Basic); !ok || b.Info()&types.IsString == 0 {
			continue
		}
		if !guarded(info, body, ifs, arg) {
			return false
		}
		checked++
	}
	return checked > 0
}

// guarded reports whether a path expression is contained by a dominating
// check: a variable assigned once from filepath.Join or filepath.Clean and
// tested with strings.HasPrefix, or a filepath.Join whose non-constant
// elements are variables tested with filepath.IsLocal.
func guarded(info *types.Info, body *ast.BlockStmt, ifs []*ast.IfStmt, arg ast.Expr) bool {
	if v := localVar(info, arg); v != nil {
		values, other := assignments(info, body, v)
		if other || len(values) != 1 {
			return false
		}
		c, ok := ast.Unparen(values[0]).(*ast.CallExpr)
		if !ok || !isFunc(info, c, "path/filepath", "Join") && !isFunc(info, c, "path/filepath", "Clean") {
			return false
		}
		for _, is := range ifs {
			if negatedCall(info, is.Cond, "strings", "HasPrefix", v) {
				return true
			}
		}
		return guarded(info, body, ifs, c)
	}
	c, ok := ast.Unparen(arg).(*ast.CallExpr)
	if !ok || !isFunc(info, c, "path/filepath", "Join") || len(c.Args) < 2 {
		return false
	}
	// The first element is the base; every other non-constant one must be
	// a local name checked with filepath.IsLocal, and there must be one:
	// a variable base with constant names has no check to rely on.
	checked := 0
	for _, el := range c.Args[1:] {
		if tv, ok := info.Types[el]; ok && tv.Value != nil {
			continue
		}
		v := localVar(info, el)
		if v == nil {
			return false
		}
		if values, other := assignments(info, body, v); other || len(values) > 1 {
			return false
		}
		local := false
		for _, is := range ifs {
			if negatedCall(info, is.Cond, "path/filepath", "IsLocal", v) {
				local = true
				break
			}
		}
		if !local {
			return false
		}
		checked++
	}
	return checked > 0
}

// negatedCall reports whether cond is, or is a || of terms including,
// !pkg.name(v, ...).
func negatedCall(info *types.Info, cond ast.Expr, pkg, name string, v *types.Var) bool {
	switch e := ast.Unparen(cond).(type) {
	case *ast.BinaryExpr:
		if e.Op == token.LOR {
			return negatedCall(info, e.X, pkg, name, v) || negatedCall(info, e.Y, pkg, name, v)
		}
	case *ast.UnaryExpr:
		if e.Op != token.NOT {
			return false
		}
		c, ok := ast.Unparen(e.X).(*ast.CallExpr)
		return ok && len(c.Args) > 0 && isFunc(info, c, pkg, name) && localVar(info, c.Args[0]) == v
	}
	return false
}

// nonHTMLResponse reports whether the call writes to a response writer
// whose Content-Type was set, before the call, to a constant type that
// browsers do not render as HTML.
func nonHTMLResponse(info *types.Info, call *ast.CallExpr, path []ast.Node) bool {
	var writer *types.Var
	if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Write" {
		writer = localVar(info, sel.X)
	} else if len(call.Args) > 0 {
		writer = localVar(info, call.Args[0])
	}
	body := funcBody(path)
	if writer == nil || body == nil {
		return false
	}
	safe := false
	ast.Inspect(body, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok || c.Pos() >= call.Pos() || len(c.Args) != 2 {
			return true
		}
		// w.Header().Set("Content-Type", "text/plain")
		sel, ok := c.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Set" {
			return true
		}
		hc, ok := sel.X.(*ast.CallExpr)
		if !ok {
			return true
		}
		hsel, ok := hc.Fun.(*ast.SelectorExpr)
		if !ok || hsel.Sel.Name != "Header" || localVar(info, hsel.X) != writer {
			return true
		}
		key, val := info.Types[c.Args[0]].Value, info.Types[c.Args[1]].Value
		if key == nil || val == nil || key.Kind() != constant.String || val.Kind() != constant.String {
			return true
		}
		if strings.EqualFold(constant.StringVal(key), "Content-Type") {
			safe = notHTML(constant.StringVal(val))
		}
		return true
	})
	return safe
}

// notHTML reports whether browsers never render the media type as a
// document that runs script.
func notHTML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "text/plain", "text/csv", "application/json", "application/octet-stream",
		"application/zip", "application/gzip", "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}
