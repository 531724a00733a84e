package scan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gantry.dev/gantry"
)

// FailOnNone is the Threshold.FailOn that never fails on findings
// (`fail-on: none`). The zero FailOn is not it: it means the default.
const FailOnNone gantry.Severity = "none"

// DefaultFailOn is the severity from which findings fail a scan step when
// the step does not say: high and critical.
const DefaultFailOn = gantry.SeverityHigh

// The step inputs (`with:`) that ParseThreshold reads.
const (
	InputFailOn        = "fail-on"
	InputFailOnNewOnly = "fail-on-new-only"
	InputFailOnGap     = "fail-on-gap"
)

// GapRule says when a scan's gaps (what it was asked to cover and could
// not) fail its step. Gaps are always reported, in the table and in SARIF;
// the rule decides only whether they also block.
type GapRule string

// The gap rules.
const (
	// GapAuto, the default, blocks a scan that has gaps and covered
	// nothing at all (every Scanned count is zero, or there is none): a
	// scanner that looked at nothing gives no evidence, and no evidence is
	// not a pass. A scan that covered something passes with its gaps
	// listed.
	GapAuto GapRule = ""
	// GapFail blocks any gap (`fail-on-gap: true`).
	GapFail GapRule = "true"
	// GapAccept never blocks on gaps (`fail-on-gap: false`): the
	// pipeline says, in version control, that what the scanner cannot
	// cover is accepted.
	GapAccept GapRule = "false"
)

// Threshold decides which findings and gaps fail a scan step. A scanner
// that returns an error always fails its step, whatever the threshold.
type Threshold struct {
	// FailOn is the lowest severity that blocks; FailOnNone blocks on no
	// finding; the zero value means DefaultFailOn.
	FailOn gantry.Severity
	// NewOnly blocks only on findings that are new against the base
	// branch (see MarkNew).
	NewOnly bool
	// FailOnGap says when gaps block.
	FailOnGap GapRule
}

// ParseThreshold reads a threshold from a step's inputs: `fail-on` (none,
// info, low, medium, high or critical; default high), `fail-on-new-only`
// (a boolean; default false) and `fail-on-gap` (a boolean; when absent,
// GapAuto). Other inputs are the scanner's own and are ignored.
func ParseThreshold(with map[string]string) (Threshold, error) {
	t := Threshold{FailOn: DefaultFailOn}
	if v, ok := with[InputFailOn]; ok {
		switch s := strings.ToLower(strings.TrimSpace(v)); s {
		case "none", "never":
			t.FailOn = FailOnNone
		default:
			sev, err := gantry.ParseSeverity(s)
			if err != nil {
				return Threshold{}, gantry.Errorf(gantry.EInvalid, "%s: unknown value %q (want none, info, low, medium, high or critical)", InputFailOn, v)
			}
			t.FailOn = sev
		}
	}
	var err error
	if t.NewOnly, err = parseBoolInput(with, InputFailOnNewOnly); err != nil {
		return Threshold{}, err
	}
	if v, ok := with[InputFailOnGap]; ok {
		b, err := parseBool(InputFailOnGap, v)
		if err != nil {
			return Threshold{}, err
		}
		t.FailOnGap = GapAccept
		if b {
			t.FailOnGap = GapFail
		}
	}
	return t, nil
}

func parseBoolInput(with map[string]string, key string) (bool, error) {
	v, ok := with[key]
	if !ok {
		return false, nil
	}
	return parseBool(key, v)
}

func parseBool(key, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, gantry.Errorf(gantry.EInvalid, "%s: %q is not a boolean (want true or false)", key, v)
}

// String writes the threshold as the inputs that give it.
func (t Threshold) String() string {
	s := fmt.Sprintf("%s: %s", InputFailOn, t.failOn())
	if t.NewOnly {
		s += ", " + InputFailOnNewOnly + ": true"
	}
	if t.FailOnGap != GapAuto {
		s += ", " + InputFailOnGap + ": " + string(t.FailOnGap)
	}
	return s
}

func (t Threshold) failOn() gantry.Severity {
	if t.FailOn == "" {
		return DefaultFailOn
	}
	return t.FailOn
}

// Blocking returns the findings that fail the step, in their order: those
// without a waiver, at FailOn or above, and new when NewOnly is set. A
// finding of unknown severity counts as critical, so that a scanner's
// mistake cannot let it through. A finding's waiver is trusted to be
// active: Waivers.Apply sets only active ones.
func (t Threshold) Blocking(findings []gantry.Finding) []gantry.Finding {
	failOn := t.failOn()
	if failOn == FailOnNone {
		return nil
	}
	if failOn.Rank() == 0 {
		// A threshold not made by ParseThreshold with a severity it does
		// not know: fail closed.
		failOn = gantry.SeverityInfo
	}
	var out []gantry.Finding
	for _, f := range findings {
		if f.Waiver != nil || (t.NewOnly && !f.New) {
			continue
		}
		sev := f.Severity
		if sev.Rank() == 0 {
			sev = gantry.SeverityCritical
		}
		if sev.AtLeast(failOn) {
			out = append(out, f)
		}
	}
	return out
}

// MarkNew sets Finding.New on each finding, in place: a finding is new
// when its fingerprint is not among baseline, the fingerprints of the last
// successful run on the base branch. With no baseline (nil) every finding
// is new, so that fail-on-new-only cannot pass what was never compared. A
// finding without a fingerprint is always new.
func MarkNew(findings []gantry.Finding, baseline map[string]bool) {
	for i := range findings {
		f := &findings[i]
		f.New = baseline == nil || f.Fingerprint == "" || !baseline[f.Fingerprint]
	}
}

// GapsBlock reports whether res's gaps fail its step under the gap rule.
// A scan without gaps is never blocked by this; a nil result is (it is no
// evidence).
func (t Threshold) GapsBlock(res *Result) bool {
	if res == nil {
		return true
	}
	if len(res.Gaps) == 0 {
		return false
	}
	switch t.FailOnGap {
	case GapFail:
		return true
	case GapAccept:
		return false
	}
	return !coveredAnything(res)
}

// coveredAnything reports whether a scan looked at anything at all.
func coveredAnything(res *Result) bool {
	for _, n := range res.Scanned {
		if n > 0 {
			return true
		}
	}
	return len(res.Findings) > 0
}

// Verdict is the decision of a threshold over one scan.
type Verdict struct {
	// Err is the scanner's error; a scan that failed fails its step.
	Err error
	// Blocking are the findings that fail the step.
	Blocking []gantry.Finding
	// Gaps are all the scan's gaps; GapsBlock says whether they fail it.
	Gaps      []Gap
	GapsBlock bool
}

// Passed reports whether the step passes.
func (v Verdict) Passed() bool { return v.Err == nil && len(v.Blocking) == 0 && !v.GapsBlock }

// Reasons says, one line each, why the step fails; none when it passes.
func (v Verdict) Reasons() []string {
	var out []string
	if v.Err != nil {
		out = append(out, "the scan failed: "+gantry.ErrorMessageOrText(v.Err))
	}
	if n := len(v.Blocking); n > 0 {
		counts, unknown := map[gantry.Severity]int{}, 0
		for _, f := range v.Blocking {
			if f.Severity.Rank() == 0 {
				unknown++
				continue
			}
			counts[f.Severity]++
		}
		var parts []string
		for _, s := range severitiesDesc {
			if counts[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
			}
		}
		if unknown > 0 {
			parts = append(parts, fmt.Sprintf("%d of unknown severity", unknown))
		}
		out = append(out, fmt.Sprintf("%s blocking: %s", plural(n, "finding"), strings.Join(parts, ", ")))
	}
	if v.GapsBlock {
		if len(v.Gaps) == 0 {
			out = append(out, "the scan gave no result")
		} else {
			whats := make([]string, len(v.Gaps))
			for i, g := range v.Gaps {
				whats[i] = g.What
			}
			slices.Sort(whats)
			out = append(out, fmt.Sprintf("%s not covered: %s", plural(len(v.Gaps), "gap"), strings.Join(slices.Compact(whats), ", ")))
		}
	}
	return out
}

// Check decides one scan: the result of a scanner and its error.
func (t Threshold) Check(res *Result, scanErr error) Verdict {
	v := Verdict{Err: scanErr}
	if scanErr != nil {
		return v
	}
	if res == nil {
		v.GapsBlock = true
		return v
	}
	v.Blocking = t.Blocking(res.Findings)
	v.Gaps = slices.Clone(res.Gaps)
	v.GapsBlock = t.GapsBlock(res)
	return v
}

// severitiesDesc are the severities from the worst.
var severitiesDesc = []gantry.Severity{
	gantry.SeverityCritical, gantry.SeverityHigh, gantry.SeverityMedium, gantry.SeverityLow, gantry.SeverityInfo,
}

// plural writes "1 finding" or "2 findings".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
