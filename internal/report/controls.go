package report

import (
	"fmt"
	"slices"
	"strings"

	"gantry.dev/gantry"
)

// Frameworks of the controls.
const (
	NIST800_53 = "NIST SP 800-53 Rev. 5"
	SOC2       = "SOC 2 Trust Services Criteria (2017)"
)

// Control is one control that a change's evidence can satisfy, and the
// rule that says whether it does.
type Control struct {
	// ID is the OSCAL control-id: "cm-3", "cc8.1".
	ID string
	// Label is the control as people write it: "CM-3", "CC8.1".
	Label     string
	Framework string
	Title     string
	// Evidence says, in words, which evidence satisfies the control.
	Evidence string
	// Kinds are the evidence link kinds that bear on the control.
	Kinds []string
	// allLinks says that every evidence link bears on the control.
	allLinks bool
	// check returns why a change does not satisfy the control, or "".
	check func(c *Change) string
}

// The table of controls: which evidence of a change satisfies which
// control. A control is satisfied in a period when every change of the
// period satisfies it (and there is at least one change).
//
//	CM-3  configuration change control   classification + gate decisions + the approvals its class needs
//	CM-4  impact analyses                 a risk score with the factors behind it
//	CM-5  access restrictions for change  approvals by others than the author (or a recorded exception)
//	SA-10 developer configuration mgmt    commits linked to the change, built from a protected branch
//	SA-11 developer testing               a test-result attestation
//	AU-9  protection of audit information every evidence link proven in the ledger
//	AU-10 non-repudiation                 the gate decisions attested, every link under a signed checkpoint
//	RA-5  vulnerability monitoring        a vulns or scan attestation
//	SI-7  software integrity              signed provenance
//	SR-4  provenance                      provenance (its resolved dependencies) or an SBOM
//	CC8.1 change management (SOC 2)       the whole flow: CM-3, CM-5, SA-11 and AU-9 together
var controls = []Control{
	{ID: "cm-3", Label: "CM-3", Framework: NIST800_53, Title: "Configuration Change Control",
		Evidence: "the change's classification, its gate decisions and the approvals its class requires",
		Kinds:    []string{gantry.KindGate, KindApproval}, check: checkCM3},
	{ID: "cm-4", Label: "CM-4", Framework: NIST800_53, Title: "Impact Analyses",
		Evidence: "a risk score with the factors that make it up",
		check:    checkCM4},
	{ID: "cm-5", Label: "CM-5", Framework: NIST800_53, Title: "Access Restrictions for Change",
		Evidence: "approvals by someone other than the author, or a recorded single-maintainer exception",
		Kinds:    []string{KindApproval}, check: checkCM5},
	{ID: "sa-10", Label: "SA-10", Framework: NIST800_53, Title: "Developer Configuration Management",
		Evidence: "the change's commits, built from a protected branch",
		Kinds:    []string{gantry.KindProvenance}, check: checkSA10},
	{ID: "sa-11", Label: "SA-11", Framework: NIST800_53, Title: "Developer Testing and Evaluation",
		Evidence: "a test-result attestation in the ledger",
		Kinds:    []string{gantry.KindTestResult}, check: needKind("a test-result attestation", gantry.KindTestResult)},
	{ID: "au-9", Label: "AU-9", Framework: NIST800_53, Title: "Protection of Audit Information",
		Evidence: "every evidence link with its ledger inclusion proof",
		allLinks: true, check: checkAU9},
	{ID: "au-10", Label: "AU-10", Framework: NIST800_53, Title: "Non-repudiation",
		Evidence: "attested gate decisions, every link under a signed ledger checkpoint",
		Kinds:    []string{gantry.KindGate}, check: checkAU10},
	{ID: "ra-5", Label: "RA-5", Framework: NIST800_53, Title: "Vulnerability Monitoring and Scanning",
		Evidence: "a vulns or scan attestation",
		Kinds:    []string{gantry.KindVulns, gantry.KindScan}, check: needKind("a vulns or scan attestation", gantry.KindVulns, gantry.KindScan)},
	{ID: "si-7", Label: "SI-7", Framework: NIST800_53, Title: "Software, Firmware, and Information Integrity",
		Evidence: "signed SLSA provenance",
		Kinds:    []string{gantry.KindProvenance}, check: needKind("signed provenance", gantry.KindProvenance)},
	{ID: "sr-4", Label: "SR-4", Framework: NIST800_53, Title: "Provenance",
		Evidence: "provenance, with its resolved dependencies, or an SBOM attestation",
		Kinds:    []string{gantry.KindProvenance, KindSBOM}, check: needKind("provenance or an SBOM", gantry.KindProvenance, KindSBOM)},
	{ID: "cc8.1", Label: "CC8.1", Framework: SOC2, Title: "Change Management",
		Evidence: "the change management flow: CM-3, CM-5, SA-11 and AU-9 all satisfied",
		Kinds:    []string{gantry.KindGate, gantry.KindTestResult}, check: checkCC81},
}

// Controls returns the table of controls, in report order.
func Controls() []Control { return slices.Clone(controls) }

// Check returns why c does not satisfy the control, or "" when it does.
func (ctl Control) Check(c *Change) string { return ctl.check(c) }

// relevant reports whether an evidence link of kind bears on the control.
func (ctl Control) relevant(kind string) bool {
	return ctl.allLinks || slices.Contains(ctl.Kinds, kind)
}

func checkCM3(c *Change) string {
	switch {
	case !c.Classification.Class.Valid():
		return "not classified"
	case len(c.Gates) == 0:
		return "no gate decision"
	}
	switch c.Classification.Class {
	case Normal:
		if len(c.Approvals) == 0 {
			return "a normal change without approval"
		}
	case Urgent:
		if len(c.Approvals) == 0 {
			return "an urgent change whose retrospective review is not done"
		}
	}
	return ""
}

func checkCM4(c *Change) string {
	if !c.Classification.Class.Valid() || len(c.Classification.Factors) == 0 {
		return "no risk analysis: no risk factors recorded"
	}
	return ""
}

func checkCM5(c *Change) string {
	others := 0
	for _, a := range c.Approvals {
		if a.Who == c.Author && a.Exception == "" {
			return fmt.Sprintf("approved by its author %s without a recorded exception", a.Who)
		}
		others++
	}
	if c.Classification.Class == Normal && others == 0 {
		return "a normal change without approval"
	}
	return ""
}

func checkSA10(c *Change) string {
	switch {
	case len(c.Commits) == 0:
		return "no commits linked"
	case !c.ProtectedBranch:
		if c.Branch == "" {
			return "not built from a protected branch"
		}
		return fmt.Sprintf("built from branch %s, which is not protected", c.Branch)
	}
	return ""
}

func needKind(what string, kinds ...string) func(*Change) string {
	return func(c *Change) string {
		for _, l := range c.Evidence {
			if slices.Contains(kinds, l.Kind) {
				return ""
			}
		}
		return "no " + strings.TrimPrefix(strings.TrimPrefix(what, "a "), "an ")
	}
}

func checkAU9(c *Change) string {
	if len(c.Evidence) == 0 {
		return "no evidence in the ledger"
	}
	for _, l := range c.Evidence {
		if l.Inclusion == nil {
			return fmt.Sprintf("attestation %s has no ledger inclusion proof", l.Digest)
		}
	}
	return ""
}

func checkAU10(c *Change) string {
	if why := checkAU9(c); why != "" {
		return why
	}
	if len(c.Gates) > 0 {
		if why := needKind("attested gate decision", gantry.KindGate)(c); why != "" {
			return why
		}
	}
	return ""
}

func checkCC81(c *Change) string {
	for _, f := range []struct {
		label string
		check func(*Change) string
	}{{"CM-3", checkCM3}, {"CM-5", checkCM5}, {"SA-11", needKind("test-result attestation", gantry.KindTestResult)}, {"AU-9", checkAU9}} {
		if why := f.check(c); why != "" {
			return f.label + ": " + why
		}
	}
	return ""
}

// Assessment is how a control fares over a report's changes.
type Assessment struct {
	Control   Control
	Satisfied bool
	// Failures are the changes that do not satisfy the control, and why.
	Failures []Failure
}

// Failure is one change that does not satisfy a control.
type Failure struct {
	Change string
	Reason string
}

// Assess assesses every control over r's changes. A period without
// changes satisfies none: no evidence is not a pass.
func Assess(r *Report) []Assessment {
	out := make([]Assessment, 0, len(controls))
	for _, ctl := range controls {
		a := Assessment{Control: ctl}
		for i := range r.Changes {
			if why := ctl.check(&r.Changes[i]); why != "" {
				a.Failures = append(a.Failures, Failure{Change: r.Changes[i].ID, Reason: why})
			}
		}
		a.Satisfied = len(r.Changes) > 0 && len(a.Failures) == 0
		out = append(out, a)
	}
	return out
}
