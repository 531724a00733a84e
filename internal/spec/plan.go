package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// Plan is a pipeline ready to run: matrices expanded, defaults applied and
// needs resolved to the unique names of steps.
type Plan struct {
	File   string        `json:"file"`
	Digest gantry.Digest `json:"digest"`
	Stages []*PlanStage  `json:"stages"`
}

// PlanStage is a stage of a Plan.
type PlanStage struct {
	Index int         `json:"index"`
	Name  string      `json:"name"`
	Steps []*PlanStep `json:"steps"`
	// Policies decide, with the steps, the stage's gate: files or
	// directories relative to the pipeline file's directory.
	Policies []string `json:"policies,omitempty"`
	// Environment is where the stage deploys to; "" when it does not.
	Environment string `json:"environment,omitempty"`
}

// PlanStep is one step of a Plan: what the engine schedules and runs.
type PlanStep struct {
	Name            string            `json:"name"` // unique; matrix variants carry their values: "test (go=1.26, os=linux)"
	Stage           string            `json:"stage"`
	StageIndex      int               `json:"stage_index"`
	Script          string            `json:"script,omitempty"` // run commands joined by "\n", for sh -e -c; "" for uses
	Uses            string            `json:"uses,omitempty"`
	With            map[string]string `json:"with,omitempty"`
	Env             map[string]string `json:"env"`               // defaults.env, then the step's env, then GANTRY_MATRIX_*; never nil
	Secrets         []string          `json:"secrets,omitempty"` // names of the secrets the step receives
	Needs           []string          `json:"needs,omitempty"`   // unique names of the steps it waits for
	When            *When             `json:"when,omitempty"`    // nil: always
	Executor        string            `json:"executor"`          // "local" or "docker"
	Image           string            `json:"image,omitempty"`   // set for docker steps only
	Network         bool              `json:"network,omitempty"`
	Timeout         time.Duration     `json:"timeout"`
	Retry           Retry             `json:"retry,omitzero"`
	ContinueOnError bool              `json:"continue_on_error,omitempty"`
	Outputs         []string          `json:"outputs,omitempty"`
	Kind            string            `json:"kind,omitempty"`        // as written; "" lets the engine choose
	TestReport      string            `json:"test_report,omitempty"` // relative to the workspace
	Coverage        string            `json:"coverage,omitempty"`    // a coverage report, relative to the workspace
	Matrix          map[string]string `json:"matrix,omitempty"`      // this variant's values; nil if not a matrix step
	Pos             Pos               `json:"pos"`                   // where the step is written
}

// Step returns the step named name, or nil.
func (p *Plan) Step(name string) *PlanStep {
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			if s.Name == name {
				return s
			}
		}
	}
	return nil
}

// Plan expands the pipeline into the steps to run. Parse has validated the
// pipeline, so Plan fails only for one built or changed in code.
func (p *Pipeline) Plan() (*Plan, error) {
	var errs ErrorList
	fail := func(pos Pos, format string, args ...any) {
		errs = append(errs, &Error{File: p.File, Line: pos.Line, Col: pos.Col, Msg: fmt.Sprintf(format, args...)})
	}

	// First the names of every step's variants, for needs to refer to.
	variants := map[string][]map[string]string{}
	expanded := map[string][]string{}
	stageOf := map[string]int{}
	total := 0
	for i, st := range p.Stages {
		for _, s := range st.Steps {
			if _, dup := expanded[s.Name]; dup {
				fail(s.Pos, "duplicate step name %q", s.Name)
				continue
			}
			vs, err := s.Matrix.variants()
			if err != nil {
				fail(s.Pos, "step %q: %v", s.Name, err)
				continue
			}
			if total += max(len(vs), 1); total > MaxPlanSteps {
				fail(s.Pos, "the pipeline has more than %d steps once matrices are expanded", MaxPlanSteps)
				return nil, errs
			}
			variants[s.Name] = vs
			stageOf[s.Name] = i
			if vs == nil {
				expanded[s.Name] = []string{s.Name}
				continue
			}
			for _, v := range vs {
				expanded[s.Name] = append(expanded[s.Name], variantName(s.Name, v))
			}
		}
	}

	plan := &Plan{File: p.File, Digest: p.Digest}
	for i, st := range p.Stages {
		ps := &PlanStage{Index: i, Name: st.Name, Environment: st.Environment}
		if st.Gate != nil {
			ps.Policies = slices.Clone([]string(st.Gate.Policies))
		}
		for _, s := range st.Steps {
			var needs []string
			for _, n := range s.Needs {
				names, ok := expanded[n]
				if !ok || stageOf[n] > i || n == s.Name {
					fail(s.Pos, "step %q needs %q, which is not a step of its own stage or an earlier one", s.Name, n)
					continue
				}
				for _, name := range names {
					if !slices.Contains(needs, name) {
						needs = append(needs, name)
					}
				}
			}
			vs := variants[s.Name]
			if vs == nil {
				vs = []map[string]string{nil}
			}
			for _, v := range vs {
				ps.Steps = append(ps.Steps, p.planStep(s, i, st.Name, v, needs))
			}
		}
		plan.Stages = append(plan.Stages, ps)
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return plan, nil
}

func (p *Pipeline) planStep(s Step, stageIndex int, stage string, vars map[string]string, needs []string) *PlanStep {
	sub := func(v string) string { return substitute(v, vars) }
	ps := &PlanStep{
		Name:            s.Name,
		Stage:           stage,
		StageIndex:      stageIndex,
		Uses:            s.Uses,
		Env:             map[string]string{},
		Secrets:         slices.Clone([]string(s.Secrets)),
		Needs:           slices.Clone(needs),
		Executor:        cmpOr(s.Executor, p.Defaults.Executor, ExecutorLocal),
		Network:         s.Network,
		Timeout:         time.Duration(cmpOr(s.Timeout, p.Defaults.Timeout, Duration(DefaultTimeout))),
		ContinueOnError: s.ContinueOnError,
		Outputs:         slices.Clone([]string(s.Outputs)),
		Kind:            s.Kind,
		TestReport:      s.TestReport,
		Coverage:        s.Coverage,
		Matrix:          vars,
		Pos:             s.Pos,
	}
	if vars != nil {
		ps.Name = variantName(s.Name, vars)
	}
	if len(s.Run) > 0 {
		cmds := make([]string, len(s.Run))
		for i, c := range s.Run {
			cmds[i] = sub(c)
		}
		ps.Script = strings.Join(cmds, "\n")
	}
	if s.Uses != "" {
		ps.With = map[string]string{}
		for k, v := range s.With {
			ps.With[k] = sub(v)
		}
	}
	maps.Copy(ps.Env, p.Defaults.Env)
	for k, v := range s.Env {
		ps.Env[k] = sub(v)
	}
	for k, v := range vars {
		ps.Env[matrixVar(k)] = v
	}
	if ps.Executor == ExecutorDocker {
		ps.Image = cmpOr(sub(s.Image), p.Defaults.Image)
	}
	if s.When != nil {
		w := *s.When
		ps.When = &w
	}
	if s.Retry != nil {
		ps.Retry = Retry{Count: s.Retry.Count, ExitCodes: slices.Clone(s.Retry.ExitCodes)}
	}
	return ps
}

// cmpOr is cmp.Or for any comparable type.
func cmpOr[T comparable](vals ...T) T {
	var zero T
	for _, v := range vals {
		if v != zero {
			return v
		}
	}
	return zero
}

// variants returns the matrix's combinations, keys sorted and the last key
// varying fastest, or nil when there is no matrix.
func (m Matrix) variants() ([]map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	keys := slices.Sorted(maps.Keys(m))
	n := 1
	for _, k := range keys {
		if len(m[k]) == 0 {
			return nil, fmt.Errorf("matrix key %q has no values", k)
		}
		if n *= len(m[k]); n > MaxVariants {
			return nil, fmt.Errorf("the matrix has more than %d variants", MaxVariants)
		}
	}
	out := make([]map[string]string, 0, n)
	idx := make([]int, len(keys))
	for range n {
		v := make(map[string]string, len(keys))
		for i, k := range keys {
			v[k] = m[k][idx[i]]
		}
		out = append(out, v)
		for i := len(keys) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < len(m[keys[i]]) {
				break
			}
			idx[i] = 0
		}
	}
	return out, nil
}

// variantName is "name (k1=v1, k2=v2)" with the keys sorted.
func variantName(name string, vars map[string]string) string {
	keys := slices.Sorted(maps.Keys(vars))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + vars[k]
	}
	return name + " (" + strings.Join(parts, ", ") + ")"
}

// substitute replaces ${{ matrix.KEY }} by the variant's values. Parse has
// checked every expression, so anything else is left as it is.
func substitute(s string, vars map[string]string) string {
	if vars == nil || !strings.Contains(s, "${{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		expr := strings.TrimSpace(s[i+3 : i+j])
		if key, ok := strings.CutPrefix(expr, "matrix."); ok && hasKey(vars, key) {
			b.WriteString(vars[key])
		} else {
			b.WriteString(s[i : i+j+2])
		}
		s = s[i+j+2:]
	}
	b.WriteString(s)
	return b.String()
}
