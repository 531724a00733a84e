package spec

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"gantry.dev/gantry/internal/yamlfile"
)

func (d *decoder) pipeline(n *yaml.Node) *Pipeline {
	p := &Pipeline{}
	entries, ok := d.fields(n, "the file", "a mapping with version and stages", "at the top of the file", pipelineKeys)
	if !ok {
		return p
	}
	var version, stages bool
	for _, e := range entries {
		switch e.key.Value {
		case "version":
			version = true
			p.Version = d.version(e.val)
		case "defaults":
			p.Defaults = d.defaults(e.val)
		case "stages":
			stages = true
			p.Stages = d.stages(e.val)
		}
	}
	m := yamlfile.Resolve(n)
	if !version {
		d.Errorf(m, "missing version: add version: 1 at the top of the file")
	}
	if !stages {
		d.Errorf(m, "missing stages: a pipeline needs at least one stage with steps")
	}
	return p
}

func (d *decoder) version(n *yaml.Node) int {
	r := yamlfile.Resolve(n)
	if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!int" {
		var v int
		if r.Decode(&v) == nil && v == 1 {
			return 1
		}
		d.Errorf(n, "version: unsupported version %s: this Gantry reads version 1", r.Value)
		return 0
	}
	if r.Kind == yaml.ScalarNode && r.Value == "1" {
		d.Errorf(n, "version: expected the number 1, got %s: remove the quotes", yamlfile.Describe(n))
		return 0
	}
	d.Errorf(n, "version: expected 1, got %s", yamlfile.Describe(n))
	return 0
}

func (d *decoder) defaults(n *yaml.Node) Defaults {
	var def Defaults
	entries, _ := d.fields(n, "defaults", "a mapping", "under defaults", defaultsKeys)
	for _, e := range entries {
		key := "defaults." + e.key.Value
		switch e.key.Value {
		case "executor":
			d.defExec = e.val
			def.Executor = d.executor(e.val, key)
		case "image":
			if s, ok := d.str(e.val, key); ok {
				d.noExpr(e.val, s, key)
				def.Image = s
			}
		case "env":
			var values []*yaml.Node
			def.Env, _, values = d.env(e.val, key)
			for _, v := range values {
				d.noExpr(v, yamlfile.Resolve(v).Value, key)
			}
		case "timeout":
			def.Timeout = d.duration(e.val, key)
		}
	}
	return def
}

// noExpr reports ${{ }} where it would not be replaced.
func (d *decoder) noExpr(n *yaml.Node, s, key string) {
	if i := strings.Index(s, "${{"); i >= 0 {
		line, col := d.locate(n, i)
		d.ErrorAt(line, col, "%s: ${{ }} is not replaced here: only a matrix step's run, env, image and with are", key)
	}
}

func (d *decoder) stages(n *yaml.Node) []Stage {
	r := yamlfile.Resolve(n)
	if r.Kind != yaml.SequenceNode {
		d.Errorf(n, "stages: expected a list of stages, got %s", yamlfile.Describe(n))
		return nil
	}
	if len(r.Content) == 0 {
		d.Errorf(n, "stages: the list is empty: a pipeline needs at least one stage")
		return nil
	}
	seen := map[string]*yaml.Node{}
	var stages []Stage
	for i, item := range r.Content {
		st, name, ok := d.stage(item, i, len(stages))
		if !ok {
			continue
		}
		if name != nil {
			if prev, dup := seen[st.Name]; dup {
				d.Errorf(name, "duplicate stage name %q: it is already used at line %d", st.Name, prev.Line)
			} else {
				seen[st.Name] = name
			}
		}
		stages = append(stages, st)
	}
	// Point at the steps only now that the slices no longer move.
	for _, info := range d.steps {
		info.step = &stages[info.stage].Steps[info.index]
	}
	return stages
}

func (d *decoder) stage(n *yaml.Node, i, index int) (Stage, *yaml.Node, bool) {
	st := Stage{}
	m := yamlfile.Resolve(n)
	if m.Kind == yaml.MappingNode {
		st.Pos = Pos{m.Line, m.Column}
	}
	label := fmt.Sprintf("stages[%d]", i)
	where := fmt.Sprintf("in stage %d", i+1)
	if name := lookup(m, "name"); name != nil && yamlfile.Resolve(name).Kind == yaml.ScalarNode {
		where = fmt.Sprintf("in stage %q", yamlfile.Resolve(name).Value)
	}
	entries, ok := d.fields(n, label, "a stage: a mapping with name and steps", where, stageKeys)
	if !ok {
		return st, nil, false
	}
	var nameNode, stepsNode *yaml.Node
	for _, e := range entries {
		switch e.key.Value {
		case "name":
			if s, ok := d.str(e.val, "name"); ok {
				st.Name = s
				nameNode = e.val
				d.stageName(e.val, s)
			}
		case "steps":
			stepsNode = e.val
		case "gate":
			st.Gate = d.gate(e.val)
		case "environment":
			if s, ok := d.str(e.val, "environment"); ok {
				d.noExpr(e.val, s, "environment")
				if !stageNameRE.MatchString(s) || len(s) > 63 {
					d.Errorf(e.val, "environment: invalid name %q: use lower-case letters, digits, '-' and '_', starting with a letter or digit", s)
				} else {
					st.Environment = s
				}
			}
		}
	}
	if !has(entries, "name") {
		d.Errorf(m, "stage %d has no name: add name: with a name such as commit", i+1)
	}
	if stepsNode == nil {
		d.Errorf(m, "%s has no steps: add steps: with at least one step", stageLabel(st.Name, i))
		return st, nameNode, true
	}
	r := yamlfile.Resolve(stepsNode)
	if r.Kind != yaml.SequenceNode {
		d.Errorf(stepsNode, "steps: expected a list of steps, got %s", yamlfile.Describe(stepsNode))
		return st, nameNode, true
	}
	if len(r.Content) == 0 {
		d.Errorf(stepsNode, "steps: the list is empty: %s needs at least one step", stageLabel(st.Name, i))
	}
	for j, item := range r.Content {
		if step, info, ok := d.step(item, j, stageLabel(st.Name, i)); ok {
			info.stage, info.index = index, len(st.Steps)
			d.steps = append(d.steps, info)
			st.Steps = append(st.Steps, step)
		}
	}
	return st, nameNode, true
}

func stageLabel(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("stage %d", i+1)
	}
	return fmt.Sprintf("stage %q", name)
}

func (d *decoder) stageName(n *yaml.Node, s string) {
	switch {
	case s == "":
		d.Errorf(n, "name: the stage name is empty")
	case len(s) > maxStageName:
		d.Errorf(n, "name: the stage name is %d characters long; the limit is %d", len(s), maxStageName)
	case !stageNameRE.MatchString(s):
		d.Errorf(n, "name: invalid stage name %q: use lower-case letters, digits, '-' and '_', starting with a letter or digit", s)
	}
}

// lookup returns the value of key in mapping m, without reporting anything.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := yamlfile.Resolve(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func has(entries []entry, key string) bool {
	for _, e := range entries {
		if e.key.Value == key {
			return true
		}
	}
	return false
}

// templated is a string in which ${{ matrix.KEY }} is replaced.
type templated struct {
	node *yaml.Node
	key  string
}

func (d *decoder) step(n *yaml.Node, j int, stage string) (Step, *stepInfo, bool) {
	s := Step{}
	info := &stepInfo{node: n}
	m := yamlfile.Resolve(n)
	if m.Kind == yaml.MappingNode {
		s.Pos = Pos{m.Line, m.Column}
	}
	where := fmt.Sprintf("in step %d of %s", j+1, stage)
	if name := lookup(m, "name"); name != nil && yamlfile.Resolve(name).Kind == yaml.ScalarNode {
		where = fmt.Sprintf("in step %q", yamlfile.Resolve(name).Value)
	}
	entries, ok := d.fields(n, fmt.Sprintf("steps[%d]", j), "a step: a mapping with name and run or uses", where, stepKeys)
	if !ok {
		return s, nil, false
	}
	var tmpl []templated
	var runKey, usesKey, withKey, matrixNode, kindKey *yaml.Node
	matrixOK := true
	for _, e := range entries {
		key := e.key.Value
		switch key {
		case "name":
			if v, ok := d.str(e.val, key); ok {
				s.Name = v
				info.name = e.val
				d.stepName(e.val, v)
			}
		case "run":
			runKey = e.key
			cmds, nodes, _ := d.strings(e.val, key)
			if r := yamlfile.Resolve(e.val); r.Kind == yaml.SequenceNode && len(r.Content) == 0 {
				d.Errorf(e.val, "run: the list is empty: give at least one command")
			}
			for i, c := range cmds {
				if strings.TrimSpace(c) == "" {
					d.Errorf(nodes[i], "run: the command is empty")
					continue
				}
				tmpl = append(tmpl, templated{nodes[i], key})
			}
			s.Run = cmds
		case "uses":
			usesKey = e.key
			if v, ok := d.str(e.val, key); ok {
				s.Uses = v
				d.action(e.val, v)
			}
		case "with":
			withKey = e.key
			entries, ok := d.mapping(e.val, key, "a mapping of input names to values")
			if !ok {
				break
			}
			s.With = Inputs{}
			for _, in := range entries {
				if v, ok := d.scalar(in.val, "with."+in.key.Value); ok {
					s.With[in.key.Value] = v
					tmpl = append(tmpl, templated{in.val, "with." + in.key.Value})
				}
			}
		case "needs":
			s.Needs, info.needs, _ = d.strings(e.val, key)
		case "env":
			var values []*yaml.Node
			s.Env, info.env, values = d.env(e.val, key)
			for _, v := range values {
				tmpl = append(tmpl, templated{v, key})
			}
		case "secrets":
			s.Secrets, info.secrets = d.secrets(e.val)
		case "when":
			s.When = d.when(e.val)
		case "executor":
			info.executor = e.val
			s.Executor = d.executor(e.val, key)
		case "image":
			if v, ok := d.str(e.val, key); ok {
				s.Image = v
				tmpl = append(tmpl, templated{e.val, key})
			}
		case "network":
			s.Network = d.boolean(e.val, key)
		case "timeout":
			s.Timeout = d.duration(e.val, key)
		case "retry":
			s.Retry = d.retry(e.val)
		case "continue-on-error":
			s.ContinueOnError = d.boolean(e.val, key)
		case "outputs":
			s.Outputs = d.outputs(e.val)
		case "kind":
			kindKey = e.val
			s.Kind = d.enum(e.val, key, "step kind", StepKinds)
		case "test-report":
			if v, ok := d.str(e.val, key); ok {
				d.noExpr(e.val, v, key)
				if msg := relPathProblem(v); msg != "" {
					d.Errorf(e.val, "test-report: %q %s", v, msg)
				} else {
					s.TestReport = v
				}
			}
		case "coverage":
			if v, ok := d.str(e.val, key); ok {
				d.noExpr(e.val, v, key)
				if msg := relPathProblem(v); msg != "" {
					d.Errorf(e.val, "coverage: %q %s", v, msg)
				} else {
					s.Coverage = v
				}
			}
		case "matrix":
			matrixNode = e.val
			s.Matrix, info.variants, matrixOK = d.matrix(e.val)
		}
	}
	label := where[len("in "):]
	if !has(entries, "name") {
		d.Errorf(m, "%s has no name: add name: with a name such as build", label)
	}
	switch {
	case runKey != nil && usesKey != nil:
		d.Errorf(usesKey, "%s has both run and uses: a step either runs commands or uses an action", label)
	case runKey == nil && usesKey == nil:
		d.Errorf(m, "%s has neither run nor uses: give it commands to run or an action to use", label)
	case withKey != nil && usesKey == nil:
		d.Errorf(withKey, "with: gives inputs to an action, but %s has no uses", label)
	}
	if s.TestReport != "" && s.Kind != "" && s.Kind != KindTest {
		d.Errorf(kindKey, "kind: the step has a test-report, so it is a test: write kind: test or remove kind")
	}
	if info.variants == 0 {
		info.variants = 1
	}
	for _, t := range tmpl {
		d.expressions(t, s.Matrix, matrixNode != nil, matrixOK, label)
	}
	return s, info, true
}

func (d *decoder) stepName(n *yaml.Node, s string) {
	switch {
	case s == "":
		d.Errorf(n, "name: the step name is empty")
		return
	case len(s) > maxStepName:
		d.Errorf(n, "name: the step name is %d characters long; the limit is %d", len(s), maxStepName)
		return
	}
	if !isAlnum(s[0]) {
		d.Errorf(n, "name: invalid step name %q: it must start with a letter or digit", s)
		return
	}
	for _, r := range s {
		if r >= utf8.RuneSelf || !(isAlnum(byte(r)) || strings.ContainsRune(" -_.", r)) {
			d.Errorf(n, "name: invalid step name %q: %s is not allowed; use letters, digits, spaces, '-', '_' and '.' (the name is used in file names)", s, describeRune(r))
			return
		}
	}
	if strings.HasSuffix(s, " ") {
		d.Errorf(n, "name: invalid step name %q: it ends with a space", s)
	}
}

func describeRune(r rune) string {
	if r > ' ' && r < utf8.RuneSelf {
		return fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf("%q (%U)", r, r)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (d *decoder) action(n *yaml.Node, s string) {
	switch {
	case d.actions == nil && !actionRE.MatchString(s):
		d.Errorf(n, "uses: invalid action name %q: expected lower-case letters, digits and '-', starting with a letter", s)
	case d.actions == nil:
	case len(d.actions) == 0:
		d.Errorf(n, "uses: unknown action %q: no built-in actions are available", s)
	case !slices.Contains(d.actions, s):
		if m := suggest(s, d.actions); m != "" {
			d.Errorf(n, "uses: unknown action %q: did you mean %q? (the actions are %s)", s, m, strings.Join(d.actions, ", "))
		} else {
			d.Errorf(n, "uses: unknown action %q: the actions are %s", s, strings.Join(d.actions, ", "))
		}
	}
}

func (d *decoder) secrets(n *yaml.Node) (Strings, []*yaml.Node) {
	names, nodes, _ := d.strings(n, "secrets")
	seen := map[string]bool{}
	var out Strings
	var outNodes []*yaml.Node
	for i, s := range names {
		switch {
		case !envNameRE.MatchString(s):
			d.Errorf(nodes[i], "secrets: invalid secret name %q: use letters, digits and '_', not starting with a digit", s)
		case seen[s]:
			d.Errorf(nodes[i], "secrets: %s is listed twice", s)
		default:
			seen[s] = true
			out = append(out, s)
			outNodes = append(outNodes, nodes[i])
		}
	}
	return out, outNodes
}

func (d *decoder) gate(n *yaml.Node) *StageGate {
	entries, ok := d.fields(n, "gate", "a mapping with policies", "under gate", gateKeys)
	if !ok {
		return nil
	}
	g := &StageGate{}
	for _, e := range entries {
		if e.key.Value != "policies" {
			continue
		}
		paths, nodes, _ := d.strings(e.val, "gate.policies")
		if r := yamlfile.Resolve(e.val); r.Kind == yaml.SequenceNode && len(r.Content) == 0 {
			d.Errorf(e.val, "gate.policies: the list is empty: name policy files or directories, or remove gate")
		}
		for i, p := range paths {
			d.noExpr(nodes[i], p, "gate.policies")
			if msg := relPathProblem(p); msg != "" {
				d.Errorf(nodes[i], "gate.policies: %q %s", p, msg)
				continue
			}
			g.Policies = append(g.Policies, p)
		}
	}
	if !has(entries, "policies") {
		d.Errorf(n, "gate has no policies: add policies: with Rego files or directories")
	}
	return g
}

func (d *decoder) when(n *yaml.Node) *When {
	entries, ok := d.fields(n, "when", "a mapping of conditions (branch, event, paths)", "under when", whenKeys)
	if !ok {
		return nil
	}
	if len(entries) == 0 && len(yamlfile.Resolve(n).Content) == 0 {
		d.Errorf(n, "when: no conditions: add branch, event or paths, or remove when")
		return nil
	}
	w := &When{}
	for _, e := range entries {
		key := "when." + e.key.Value
		patterns, nodes, _ := d.strings(e.val, key)
		if r := yamlfile.Resolve(e.val); r.Kind == yaml.SequenceNode && len(r.Content) == 0 {
			d.Errorf(e.val, "%s: the list is empty, so the step would never run: add a pattern or remove %s", key, e.key.Value)
		}
		for i, p := range patterns {
			d.pattern(nodes[i], p, e.key.Value)
		}
		switch e.key.Value {
		case "branch":
			w.Branch = patterns
		case "event":
			w.Event = patterns
		case "paths":
			w.Paths = patterns
		}
	}
	return w
}

func (d *decoder) pattern(n *yaml.Node, p, kind string) {
	key := "when." + kind
	if p == "" {
		d.Errorf(n, "%s: the pattern is empty", key)
		return
	}
	d.noExpr(n, p, key)
	if err := checkGlob(p); err != nil {
		d.Errorf(n, "%s: invalid pattern %q: %v", key, p, err)
		return
	}
	switch kind {
	case "event":
		if !hasMeta(p) && !slices.Contains(Events, p) {
			if m := suggest(p, Events); m != "" {
				d.Errorf(n, "%s: unknown event %q: did you mean %q? (the events are %s)", key, p, m, yamlfile.OrList(Events))
			} else {
				d.Errorf(n, "%s: unknown event %q: the events are %s", key, p, yamlfile.OrList(Events))
			}
		}
	case "branch":
		if strings.HasPrefix(p, "refs/") {
			d.Errorf(n, "%s: %q: write the branch name without refs/heads/", key, p)
		}
	case "paths":
		if strings.HasPrefix(p, "/") || strings.HasPrefix(p, "./") {
			d.Errorf(n, "%s: %q: paths are relative to the repository root: write %q", key, p, strings.TrimLeft(strings.TrimPrefix(p, "./"), "/"))
		}
	}
}

func (d *decoder) outputs(n *yaml.Node) Strings {
	paths, nodes, _ := d.strings(n, "outputs")
	seen := map[string]bool{}
	var out Strings
	for i, p := range paths {
		node := nodes[i]
		d.noExpr(node, p, "outputs")
		switch {
		case strings.TrimSpace(p) == "":
			d.Errorf(node, "outputs: the path is empty")
		case relPathProblem(p) != "":
			d.Errorf(node, "outputs: %q %s", p, relPathProblem(p))
		case seen[p]:
			d.Errorf(node, "outputs: %q is listed twice", p)
		default:
			if err := checkGlob(p); err != nil {
				d.Errorf(node, "outputs: invalid pattern %q: %v", p, err)
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// relPathProblem says what is wrong with p as a path relative to the
// workspace, or "".
func relPathProblem(p string) string {
	switch {
	case strings.TrimSpace(p) == "":
		return "is empty"
	case strings.HasPrefix(p, "/"):
		return "is absolute: write a path relative to the workspace"
	case strings.Contains(p, `\`):
		return `uses \: separate directories with /`
	case slices.Contains(strings.Split(p, "/"), ".."):
		return "leaves the workspace: write a path inside it"
	case cleanPath(p) != p:
		return fmt.Sprintf("should be written %q", cleanPath(p))
	}
	return ""
}

// cleanPath drops empty and "." segments and a trailing slash.
func cleanPath(p string) string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			segs = append(segs, s)
		}
	}
	return strings.Join(segs, "/")
}

func (d *decoder) retry(n *yaml.Node) *Retry {
	r := yamlfile.Resolve(n)
	if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!int" {
		c, ok := d.integer(n, "retry", 0, MaxRetries)
		if !ok {
			return nil
		}
		return &Retry{Count: c}
	}
	if r.Kind != yaml.MappingNode {
		d.Errorf(n, "retry: expected a number of retries, or a mapping such as {count: 2, exit-codes: [75]}, got %s", yamlfile.Describe(n))
		return nil
	}
	entries, _ := d.fields(n, "retry", "a mapping", "under retry", retryKeys)
	rt := &Retry{}
	count := false
	for _, e := range entries {
		switch e.key.Value {
		case "count":
			count = true
			rt.Count, _ = d.integer(e.val, "retry.count", 0, MaxRetries)
		case "exit-codes":
			codes := yamlfile.Resolve(e.val)
			if codes.Kind != yaml.SequenceNode {
				d.Errorf(e.val, "retry.exit-codes: expected a list of exit codes, got %s", yamlfile.Describe(e.val))
				continue
			}
			seen := map[int]bool{}
			for i, c := range codes.Content {
				code, ok := d.integer(c, fmt.Sprintf("retry.exit-codes[%d]", i), 1, 255)
				switch {
				case !ok:
				case seen[code]:
					d.Errorf(c, "retry.exit-codes: %d is listed twice", code)
				default:
					seen[code] = true
					rt.ExitCodes = append(rt.ExitCodes, code)
				}
			}
		}
	}
	if !count {
		d.Errorf(r, "retry: missing count: say how many times to retry, such as count: 2")
	}
	return rt
}
