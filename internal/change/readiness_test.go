package change

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

func TestReadinessOf(t *testing.T) {
	cfg, err := ParseConfig("c.yml", []byte(`environments:
  - name: staging
    required_approvals: 0
    deployers: [nobody]
    required_gates: [commit]
  - name: production
    required_approvals: 1
    freeze:
      - {start: 2026-03-01T00:00:00Z, end: 2026-03-08T00:00:00Z, reason: launch week}
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	c := change(gantry.ClassNormal)
	got := ReadinessOf(cfg, c, nil, now)
	// Deployers and gates are the run's: staging is ready though nobody
	// listed may deploy and no gate passed.
	want := []Readiness{
		{Name: "staging", Ready: true, Reasons: []string{}},
		{Name: "production", Reasons: []string{
			"production is inside freeze window launch week until 2026-03-08 00:00 UTC: only an urgent change may be deployed",
			"needs 1 approval for production from an approver other than the author, has 0: gantry approve pr-7 --env production",
		}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ReadinessOf (-want +got):\n%s", d)
	}
	if cfg.Environments[0].Deployers == nil || cfg.Environments[0].RequiredGates == nil {
		t.Error("ReadinessOf changed the configuration it was given")
	}
}
