package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"gantry.dev/gantry/internal/yamlfile"
)

// edge is a need of one step on another, with where it is written.
type edge struct {
	to   *stepInfo
	node *yaml.Node
}

// check runs the checks that look across steps: unique names, needs that
// exist and point backwards, no cycles, docker images, secrets that do not
// shadow variables, and the size of the plan.
func (d *decoder) check(p *Pipeline) {
	byName := map[string]*stepInfo{}
	var names []string
	for _, s := range d.steps {
		if s.name == nil || s.step.Name == "" {
			continue
		}
		if prev, dup := byName[s.step.Name]; dup {
			d.Errorf(s.name, "duplicate step name %q: it is already used at line %d; step names must be unique across the pipeline", s.step.Name, prev.name.Line)
			continue
		}
		byName[s.step.Name] = s
		names = append(names, s.step.Name)
	}

	edges := map[*stepInfo][]edge{}
	total := 0
	var imageless []string // steps that run in docker by default and name no image
	for _, s := range d.steps {
		label := stepLabel(s)
		seen := map[string]bool{}
		for i, need := range s.step.Needs {
			node := s.needs[i]
			target := byName[need]
			switch {
			case seen[need]:
				d.Errorf(node, "needs: %q is listed twice", need)
			case target == s:
				d.Errorf(node, "needs: %s needs itself", label)
			case target == nil:
				if m := suggest(need, names); m != "" {
					d.Errorf(node, "needs: there is no step %q: did you mean %q?", need, m)
				} else {
					d.Errorf(node, "needs: there is no step %q in the pipeline", need)
				}
			case target.stage > s.stage:
				d.Errorf(node, "needs: %q is in stage %q, which runs after stage %q: a step can only need steps of its own stage or an earlier one",
					need, p.Stages[target.stage].Name, p.Stages[s.stage].Name)
			case target.stage == s.stage:
				edges[s] = append(edges[s], edge{target, node})
			}
			seen[need] = true
		}

		if s.step.Image == "" && p.Defaults.Image == "" {
			switch {
			case s.step.Executor == ExecutorDocker:
				d.Errorf(s.executor, "%s runs in docker but has no image: set image on the step or under defaults", label)
			case s.step.Executor == "" && p.Defaults.Executor == ExecutorDocker:
				if !slices.Contains(imageless, s.step.Name) {
					imageless = append(imageless, s.step.Name)
				}
			}
		}

		for i, secret := range s.step.Secrets {
			switch {
			case s.env[secret]:
				d.Errorf(s.secrets[i], "secrets: %s is also a variable under env; the secret is given to the step as the variable %s, so rename one", secret, secret)
			case hasKey(p.Defaults.Env, secret):
				d.Errorf(s.secrets[i], "secrets: %s is also a variable under defaults.env; the secret is given to the step as the variable %s, so rename one", secret, secret)
			}
		}

		if total <= MaxPlanSteps {
			if total += s.variants; total > MaxPlanSteps {
				d.Errorf(yamlfile.Resolve(s.node), "the pipeline has more than %d steps once matrices are expanded (this step passes the limit): split it", MaxPlanSteps)
			}
		}
	}
	if len(imageless) > 0 {
		d.Errorf(d.defExec, "defaults.executor: steps run in docker by default, but there is no image under defaults and %s %s none: add image under defaults",
			quoteList(imageless), map[bool]string{true: "sets", false: "set"}[len(imageless) == 1])
	}
	d.cycles(edges)
}

// quoteList writes "a", "b" and "c", shortened after a few names.
func quoteList(names []string) string {
	const most = 5
	q := make([]string, 0, most+1)
	for i, n := range names {
		if i == most {
			q = append(q, fmt.Sprintf("%d more", len(names)-most))
			break
		}
		q = append(q, strconv.Quote(n))
	}
	if len(names) == 1 {
		return "step " + q[0]
	}
	return "steps " + strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func stepLabel(s *stepInfo) string {
	if s.step.Name == "" {
		return "the step"
	}
	return "step \"" + s.step.Name + "\""
}

// cycles reports each cycle of needs once, as the shortest loop through
// its first step in file order.
func (d *decoder) cycles(edges map[*stepInfo][]edge) {
	order := map[*stepInfo]int{}
	for i, s := range d.steps {
		order[s] = i
	}
	for _, scc := range components(d.steps, edges) {
		if len(scc) < 2 {
			continue
		}
		in := map[*stepInfo]bool{}
		for _, s := range scc {
			in[s] = true
		}
		start := slices.MinFunc(scc, func(a, b *stepInfo) int { return order[a] - order[b] })
		path, first := shortestLoop(start, edges, in)
		names := make([]string, len(path))
		for i, s := range path {
			names[i] = s.step.Name
		}
		d.Errorf(first, "needs form a cycle: %s; remove one of these needs", strings.Join(names, " -> "))
	}
}

// shortestLoop finds the shortest path from start back to itself within
// the component, and the need of start that begins it.
func shortestLoop(start *stepInfo, edges map[*stepInfo][]edge, in map[*stepInfo]bool) ([]*stepInfo, *yaml.Node) {
	prev := map[*stepInfo]*stepInfo{}
	queue := []*stepInfo{start}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range edges[s] {
			if !in[e.to] {
				continue
			}
			if e.to == start {
				path := []*stepInfo{start}
				for at := s; at != start; at = prev[at] {
					path = append(path, at)
				}
				slices.Reverse(path[1:])
				path = append(path, start)
				// The first hop's need, for the position.
				for _, f := range edges[start] {
					if f.to == path[1] {
						return path, f.node
					}
				}
			}
			if _, seen := prev[e.to]; !seen && e.to != start {
				prev[e.to] = s
				queue = append(queue, e.to)
			}
		}
	}
	return []*stepInfo{start, start}, yamlfile.Resolve(start.node) // not reached for a real component
}

// components returns the strongly connected components of the needs graph
// (Tarjan's algorithm).
func components(nodes []*stepInfo, edges map[*stepInfo][]edge) [][]*stepInfo {
	index := map[*stepInfo]int{}
	low := map[*stepInfo]int{}
	onStack := map[*stepInfo]bool{}
	var stack []*stepInfo
	var out [][]*stepInfo
	var visit func(v *stepInfo)
	visit = func(v *stepInfo) {
		index[v] = len(index)
		low[v] = index[v]
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range edges[v] {
			w := e.to
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []*stepInfo
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			out = append(out, scc)
		}
	}
	for _, v := range nodes {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	return out
}
