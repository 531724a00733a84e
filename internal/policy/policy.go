// Package policy decides stage gates with OPA Rego policies over the
// evidence of a run, and carries a built-in library of gate rules.
//
// A gate fails closed: a policy that does not parse or compile, an
// evaluation error, a timeout or a stage with no policy all deny, with the
// reason.
package policy

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"gantry.dev/gantry"
)

// Limits on what a gate will load and how long it may think.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultMaxFileBytes = 1 << 20
	DefaultMaxBytes     = 8 << 20
	MaxFiles            = 1000
)

// Source is one policy file: its name (a path, as shown in reasons) and
// its bytes.
type Source struct {
	Name string
	Data []byte
}

// Options tune Prepare. The zero value uses the defaults.
type Options struct {
	Timeout      time.Duration // of one evaluation; DefaultTimeout when zero
	MaxFileBytes int           // of one policy file; DefaultMaxFileBytes when zero
	MaxBytes     int           // of all policy files; DefaultMaxBytes when zero
}

func (o Options) withDefaults() Options {
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	o.MaxFileBytes = cmp.Or(o.MaxFileBytes, DefaultMaxFileBytes)
	o.MaxBytes = cmp.Or(o.MaxBytes, DefaultMaxBytes)
	return o
}

// Decision is what a gate decided.
type Decision struct {
	Allowed bool     `json:"allowed"`
	Deny    []string `json:"deny,omitempty"` // every reason, sorted
	Warn    []string `json:"warn,omitempty"` // sorted
	// PolicyDigest is the sha256 over the policy files' names and bytes,
	// the built-in library's included, sorted by name.
	PolicyDigest gantry.Digest `json:"policy_digest"`
	Files        []string      `json:"files"` // the policy files, sorted; library files start with "gantry:lib/"
}

// LibraryPrefix starts the names of the built-in library's files.
const LibraryPrefix = "gantry:lib/"

// Load reads the policy files named by paths: each path is a .rego file,
// or a directory searched recursively for .rego files. Test files
// (*_test.rego) are left out. Names keep the paths as given, with forward
// slashes: give paths relative to the repository, so that the policy
// digest, which covers the names, is the same on every machine.
func Load(paths []string) ([]Source, error) {
	return load(paths, false)
}

func load(paths []string, tests bool) ([]Source, error) {
	var srcs []Source
	seen := map[string]bool{}
	add := func(name string) error {
		name = filepath.ToSlash(filepath.Clean(name))
		if seen[name] {
			return nil
		}
		seen[name] = true
		if len(srcs) >= MaxFiles {
			return gantry.Errorf(gantry.EInvalid, "more than %d policy files", MaxFiles)
		}
		b, err := readLimited(name, DefaultMaxFileBytes)
		if err != nil {
			return err
		}
		srcs = append(srcs, Source{Name: name, Data: b})
		return nil
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("load policies: %w", err)
		}
		if !fi.IsDir() {
			if err := add(p); err != nil {
				return nil, fmt.Errorf("load policies: %w", err)
			}
			continue
		}
		err = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if name != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego") && !tests {
				return nil
			}
			return add(name)
		})
		if err != nil {
			return nil, fmt.Errorf("load policies from %s: %w", p, err)
		}
	}
	return srcs, nil
}

func readLimited(name string, limit int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > limit {
		return nil, gantry.Errorf(gantry.EInvalid, "policy %s is larger than %d bytes", name, limit)
	}
	return b, nil
}

// Gate is a stage's policies, compiled once to be evaluated many times.
// A Gate whose policies are broken is still a Gate: it denies every input
// with the reason.
type Gate struct {
	stage  string
	opts   Options
	digest gantry.Digest
	files  []string
	broken []string // reasons to deny whatever the input
	deny   rego.PreparedEvalQuery
	warn   *rego.PreparedEvalQuery
}

// unsafeBuiltins are those that reach outside the evidence: a gate's
// decision must depend on its input and policies alone.
var unsafeBuiltins = []string{
	ast.HTTPSend.Name, ast.NetLookupIPAddr.Name, ast.OPARuntime.Name,
	ast.RandIntn.Name, ast.Trace.Name,
}

// PackagePath returns the Rego reference of stage's gate package,
// data.gantry.gates.<stage>, with the stage quoted when it is not a plain
// identifier: data.gantry.gates["commit-stage"].
func PackagePath(stage string) string { return gateRef(stage).String() }

func gateRef(stage string) ast.Ref {
	return ast.Ref{ast.DefaultRootDocument, ast.StringTerm("gantry"), ast.StringTerm("gates"), ast.StringTerm(stage)}
}

// Prepare compiles the policies of stage's gate together with the built-in
// library. It does not fail: problems with the policies make a Gate that
// denies.
func Prepare(ctx context.Context, srcs []Source, stage string, opts Options) *Gate {
	opts = opts.withDefaults()
	g := &Gate{stage: stage, opts: opts}
	all := slices.Clone(srcs)
	all = append(all, librarySources(false)...)
	slices.SortFunc(all, func(a, b Source) int { return strings.Compare(a.Name, b.Name) })
	g.digest, g.files = digestOf(all)

	if stage == "" {
		g.broken = append(g.broken, "gate has no stage name")
		return g
	}
	total := 0
	for _, s := range srcs {
		total += len(s.Data)
		if len(s.Data) > opts.MaxFileBytes {
			g.broken = append(g.broken, fmt.Sprintf("policy %s is larger than %d bytes", s.Name, opts.MaxFileBytes))
		}
	}
	if total > opts.MaxBytes {
		g.broken = append(g.broken, fmt.Sprintf("policies are larger than %d bytes together", opts.MaxBytes))
	}
	if len(srcs) > MaxFiles {
		g.broken = append(g.broken, fmt.Sprintf("more than %d policy files", MaxFiles))
	}
	if g.broken != nil {
		return g
	}

	modules := map[string]*ast.Module{}
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}
	for _, s := range all {
		if _, dup := modules[s.Name]; dup {
			g.broken = append(g.broken, fmt.Sprintf("policy %s is given twice", s.Name))
			continue
		}
		m, err := ast.ParseModuleWithOpts(s.Name, string(s.Data), popts)
		if err != nil {
			g.broken = append(g.broken, astReasons("parse", err)...)
			continue
		}
		if m == nil { // an empty file
			g.broken = append(g.broken, fmt.Sprintf("policy %s is empty", s.Name))
			continue
		}
		modules[s.Name] = m
	}
	if g.broken != nil {
		return g
	}

	ref := gateRef(stage)
	var hasPkg, hasDeny, hasWarn bool
	for _, m := range modules {
		if !m.Package.Path.Equal(ref) {
			continue
		}
		hasPkg = true
		for _, r := range m.Rules {
			switch r.Head.Ref().String() {
			case "deny":
				hasDeny = true
			case "warn":
				hasWarn = true
			}
		}
	}
	switch {
	case !hasPkg:
		g.broken = append(g.broken, fmt.Sprintf("no policy for stage %q: no file declares package %s", stage, strings.TrimPrefix(ref.String(), "data.")))
		return g
	case !hasDeny:
		g.broken = append(g.broken, fmt.Sprintf("policy package %s has no deny rule", strings.TrimPrefix(ref.String(), "data.")))
		return g
	}

	compiler := ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithDefaultRegoVersion(ast.RegoV1).
		WithEnablePrintStatements(false)
	if compiler.Compile(modules); compiler.Failed() {
		g.broken = append(g.broken, astReasons("compile", compiler.Errors)...)
		return g
	}

	prep := func(rule string) (rego.PreparedEvalQuery, error) {
		return rego.New(
			rego.Query(ref.Append(ast.StringTerm(rule)).String()),
			rego.Compiler(compiler),
			rego.StrictBuiltinErrors(true),
			rego.SetRegoVersion(ast.RegoV1),
		).PrepareForEval(ctx)
	}
	var err error
	if g.deny, err = prep("deny"); err != nil {
		g.broken = append(g.broken, astReasons("prepare", err)...)
		return g
	}
	if hasWarn {
		w, err := prep("warn")
		if err != nil {
			g.broken = append(g.broken, astReasons("prepare", err)...)
			return g
		}
		g.warn = &w
	}
	return g
}

// capabilities are this OPA's, less the unsafe built-ins: a policy that
// calls one does not compile.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool {
		return slices.Contains(unsafeBuiltins, b.Name)
	})
	return caps
}

// astReasons turns parse and compile errors into one reason each, with
// file:line:col.
func astReasons(what string, err error) []string {
	var errs ast.Errors
	if errors.As(err, &errs) && len(errs) > 0 {
		out := make([]string, 0, len(errs))
		for _, e := range errs {
			out = append(out, astErrorReason(what, e))
		}
		return out
	}
	var e *ast.Error
	if errors.As(err, &e) {
		return []string{astErrorReason(what, e)}
	}
	return []string{fmt.Sprintf("policy %s error: %v", what, err)}
}

func astErrorReason(what string, e *ast.Error) string {
	if e.Location != nil {
		return fmt.Sprintf("%s:%d:%d: policy %s error: %s", e.Location.File, e.Location.Row, e.Location.Col, what, e.Message)
	}
	return fmt.Sprintf("policy %s error: %s", what, e.Message)
}

// digestOf hashes sorted sources: for each, the name and the data, each
// preceded by its length so that no two sets of files hash alike.
func digestOf(srcs []Source) (gantry.Digest, []string) {
	h := sha256.New()
	files := make([]string, 0, len(srcs))
	var n [8]byte
	for _, s := range srcs {
		binary.BigEndian.PutUint64(n[:], uint64(len(s.Name)))
		h.Write(n[:])
		h.Write([]byte(s.Name))
		binary.BigEndian.PutUint64(n[:], uint64(len(s.Data)))
		h.Write(n[:])
		h.Write(s.Data)
		files = append(files, s.Name)
	}
	return gantry.NewDigest(h.Sum(nil)), files
}

// Stage returns the stage the gate decides.
func (g *Gate) Stage() string { return g.stage }

// Err returns why the gate's policies are broken, or nil. A broken gate
// denies every input.
func (g *Gate) Err() error {
	if g.broken == nil {
		return nil
	}
	return gantry.Errorf(gantry.EInvalid, "gate %s: %s", g.stage, strings.Join(g.broken, "; "))
}

// Evaluate decides on in. The decision is never nil and denies unless the
// policies ran without error and produced no deny message. The error is
// non-nil only when in is nil or ctx ended before the decision; the
// decision then denies as well.
func (g *Gate) Evaluate(ctx context.Context, in *Input) (*Decision, error) {
	d := &Decision{PolicyDigest: g.digest, Files: slices.Clone(g.files)}
	if g.broken != nil {
		d.Deny = sorted(g.broken)
		return d, nil
	}
	if in == nil {
		d.Deny = []string{"gate has no input"}
		return d, gantry.Errorf(gantry.EInvalid, "evaluate gate %s: no input", g.stage)
	}
	// The input goes through JSON so that policies see exactly the
	// documented form, whatever Go types built it.
	b, err := json.Marshal(in)
	if err != nil {
		d.Deny = []string{fmt.Sprintf("gate input: %v", err)}
		return d, fmt.Errorf("evaluate gate %s: encode input: %w", g.stage, err)
	}
	doc, err := ast.ValueFromReader(bytes.NewReader(b))
	if err != nil {
		d.Deny = []string{fmt.Sprintf("gate input: %v", err)}
		return d, fmt.Errorf("evaluate gate %s: decode input: %w", g.stage, err)
	}

	if err := ctx.Err(); err != nil {
		d.Deny = []string{fmt.Sprintf("policy evaluation stopped: %v", err)}
		return d, fmt.Errorf("evaluate gate %s: %w", g.stage, err)
	}
	ctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	opts := []rego.EvalOption{rego.EvalParsedInput(doc), rego.EvalTime(in.Now)}

	deny, err := evalSet(ctx, g.deny, opts, "deny")
	if err != nil {
		d.Deny = []string{g.evalReason(ctx, err)}
		return d, ctxErr(ctx, g.stage)
	}
	var warn []string
	if g.warn != nil {
		if warn, err = evalSet(ctx, *g.warn, opts, "warn"); err != nil {
			d.Deny = []string{g.evalReason(ctx, err)}
			return d, ctxErr(ctx, g.stage)
		}
	}
	d.Deny, d.Warn = sorted(deny), sorted(warn)
	d.Allowed = len(d.Deny) == 0
	return d, nil
}

func (g *Gate) evalReason(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Sprintf("policy evaluation did not finish within %s", g.opts.Timeout)
		}
		return fmt.Sprintf("policy evaluation stopped: %v", ctx.Err())
	}
	var te *topdown.Error
	if errors.As(err, &te) && te.Location != nil {
		return fmt.Sprintf("%s:%d:%d: policy evaluation error: %s", te.Location.File, te.Location.Row, te.Location.Col, te.Message)
	}
	return fmt.Sprintf("policy evaluation error: %v", err)
}

// ctxErr reports an ended context as the caller's error, but only when it
// is the caller's: the gate's own timeout is a denial, not an error.
func ctxErr(ctx context.Context, stage string) error {
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("evaluate gate %s: %w", stage, err)
	}
	return nil
}

// evalSet evaluates a set rule to its messages. An undefined rule is an
// empty set; a rule that is not a set is an error.
func evalSet(ctx context.Context, q rego.PreparedEvalQuery, opts []rego.EvalOption, rule string) ([]string, error) {
	rs, err := q.Eval(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	v := rs[0].Expressions[0].Value
	items, ok := v.([]any) // sets come out as slices
	if !ok {
		return nil, fmt.Errorf("rule %s is a %T, not a set of messages", rule, v)
	}
	msgs := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			msgs = append(msgs, s)
			continue
		}
		b, err := json.Marshal(it)
		if err != nil {
			return nil, fmt.Errorf("rule %s: message %v: %w", rule, it, err)
		}
		msgs = append(msgs, string(b))
	}
	return msgs, nil
}

func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// Evaluate compiles srcs for stage and decides on in: Prepare and
// Gate.Evaluate in one call, for a gate decided once.
func Evaluate(ctx context.Context, srcs []Source, stage string, in *Input) (*Decision, error) {
	return Prepare(ctx, srcs, stage, Options{}).Evaluate(ctx, in)
}

// EvaluatePaths loads the policies named by paths (files or directories)
// and decides on in. Policies that cannot be read deny, like broken ones,
// and the error says what could not be read.
func EvaluatePaths(ctx context.Context, paths []string, stage string, in *Input) (*Decision, error) {
	srcs, err := Load(paths)
	if err != nil {
		d := &Decision{Deny: []string{err.Error()}, Files: []string{}}
		d.PolicyDigest, _ = digestOf(nil)
		return d, err
	}
	return Evaluate(ctx, srcs, stage, in)
}
