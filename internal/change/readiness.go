package change

import (
	"slices"
	"time"

	"gantry.dev/gantry"
)

// Readiness is whether a change may enter an environment as far as the
// change itself goes, as of a time: its class, approvals and the freeze
// windows. Who deploys and which gates passed belong to the run that
// deploys, and are checked when it gets there.
type Readiness struct {
	Name    string   `json:"name"`
	Ready   bool     `json:"ready"`
	Reasons []string `json:"reasons"` // what it still needs
	Notes   []string `json:"notes,omitempty"`
}

// ReadinessOf says, environment by environment in the configured order,
// what c still needs before it may be deployed there.
func ReadinessOf(cfg *Config, c *gantry.Change, approvals []*gantry.Approval, now time.Time) []Readiness {
	loose := *cfg
	loose.Environments = slices.Clone(cfg.Environments)
	for i := range loose.Environments {
		loose.Environments[i].Deployers = nil
		loose.Environments[i].RequiredGates = nil
	}
	out := []Readiness{}
	for _, name := range cfg.EnvironmentNames() {
		adm := Admit(&loose, name, c, approvals, nil, Actor{}, now)
		out = append(out, Readiness{Name: name, Ready: adm.Allowed, Reasons: nonNilStrings(adm.Reasons), Notes: adm.Notes})
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
