package policy

import (
	"context"
	"testing"
	"time"
)

// FuzzEvaluate feeds arbitrary policy text and stage names to a gate: it
// must never panic, and a gate whose policies are broken must deny.
func FuzzEvaluate(f *testing.F) {
	f.Add("commit", "package gantry.gates.commit\n\ndeny contains \"x\" if input.stage == \"y\"\n")
	f.Add("commit-stage", "package gantry.gates[\"commit-stage\"]\n\ndeny contains msg if {\n\tsome s in input.run.steps\n\tmsg := s.name\n}\n")
	f.Add("commit", "package gantry.gates.commit\n\nx := 1\nx := 2\ndeny contains \"x\" if x\n")
	f.Add("", "package")
	f.Add("a\"b", "package gantry.gates[\"a\\\"b\"]\n\ndeny := {1}\n")
	in := testInput()
	f.Fuzz(func(t *testing.T, stage, policy string) {
		g := Prepare(context.Background(), []Source{{Name: "fuzz.rego", Data: []byte(policy)}}, stage, Options{Timeout: 100 * time.Millisecond})
		d, err := g.Evaluate(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil || !d.PolicyDigest.Valid() {
			t.Fatalf("decision %+v", d)
		}
		if g.Err() != nil && d.Allowed {
			t.Fatalf("broken gate (%v) allowed", g.Err())
		}
		if d.Allowed != (len(d.Deny) == 0) {
			t.Fatalf("allowed %v with deny %q", d.Allowed, d.Deny)
		}
	})
}
