package scan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// SARIF names the version of the Static Analysis Results Interchange Format
// that WriteSARIF writes, and the schema it conforms to.
const (
	SARIFVersion = "2.1.0"
	SARIFSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

// FingerprintKey is the key of partialFingerprints under which SARIF
// results carry Finding.Fingerprint. The version lets a later change of the
// fingerprint scheme live beside this one.
const FingerprintKey = "gantry/v1"

// srcRoot is the uriBaseId of every location: paths are relative to the
// scanned root, which a SARIF consumer (a code scanning service, an IDE)
// knows and Gantry does not write down.
const srcRoot = "%SRCROOT%"

// ToolInfo describes the Gantry that ran the scanners, for the SARIF tool
// objects, and optionally the rules the scanners know.
type ToolInfo struct {
	// Version is Gantry's version, written as every driver's version.
	Version string
	// InformationURI is where the scanners are documented (absolute URI).
	InformationURI string
	// Rules describes rules by tool and then by rule ID. A rule that is
	// not described here is described from its findings.
	Rules map[string]map[string]RuleInfo
}

// RuleInfo describes one rule of a scanner.
type RuleInfo struct {
	// Title says in a few words what the rule finds: "Subprocess
	// launched with variable".
	Title string
	// Help says how to fix what the rule finds.
	Help string
}

// SecuritySeverity is the CVSS-like score that code scanning services read
// from a SARIF rule's "security-severity" property.
func SecuritySeverity(s gantry.Severity) string {
	switch s {
	case gantry.SeverityCritical:
		return "9.5"
	case gantry.SeverityHigh:
		return "8.0"
	case gantry.SeverityMedium:
		return "5.5"
	case gantry.SeverityLow:
		return "3.0"
	}
	return "0.0"
}

// WriteSARIF writes results as one SARIF 2.1.0 log, one run per tool. Two
// results of the same tool share a run; a finding goes to the run of its
// own Tool, or of its result's when it names none. The output depends only on its
// input: runs, rules, results and notifications are sorted, so that the
// same scan gives the same bytes. It writes nothing that is not in the
// findings, the gaps or info: no source text, no absolute paths.
//
// Waived findings stay in the log with a suppression that gives the
// waiver's reason; gaps become warnings of the run's invocation, whose
// execution is successful (the scanner ran; what it could not cover is
// said, not hidden).
func WriteSARIF(w io.Writer, results []*Result, info ToolInfo) error {
	log := buildSARIF(results, info)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("write sarif: %w", err)
	}
	return nil
}

// The SARIF object model, as far as Gantry writes it. Field order follows
// the specification's, for a readable file.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool        sarifTool         `json:"tool"`
		Invocations []sarifInvocation `json:"invocations"`
		Results     []sarifResult     `json:"results"`
		Properties  map[string]any    `json:"properties,omitempty"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string              `json:"id"`
		ShortDescription     *sarifMessage       `json:"shortDescription,omitempty"`
		Help                 *sarifMessage       `json:"help,omitempty"`
		DefaultConfiguration *sarifConfiguration `json:"defaultConfiguration,omitempty"`
		Properties           sarifRuleProperties `json:"properties"`
	}
	sarifConfiguration struct {
		Level string `json:"level"`
	}
	sarifRuleProperties struct {
		Tags             []string `json:"tags"`
		SecuritySeverity string   `json:"security-severity"`
	}
	sarifMessage struct {
		Text string `json:"text"`
	}
	sarifInvocation struct {
		ExecutionSuccessful        bool                `json:"executionSuccessful"`
		ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level      string            `json:"level"`
		Message    sarifMessage      `json:"message"`
		Properties map[string]string `json:"properties,omitempty"`
	}
	sarifResult struct {
		RuleID              string             `json:"ruleId"`
		RuleIndex           int                `json:"ruleIndex"`
		Level               string             `json:"level"`
		Message             sarifMessage       `json:"message"`
		Locations           []sarifLocation    `json:"locations,omitempty"`
		PartialFingerprints map[string]string  `json:"partialFingerprints,omitempty"`
		Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
		Properties          sarifResultProps   `json:"properties"`
	}
	sarifResultProps struct {
		Severity   gantry.Severity `json:"severity"`
		Confidence string          `json:"confidence,omitempty"`
		New        bool            `json:"new"`
		Waived     bool            `json:"waived"`
		Commit     string          `json:"commit,omitempty"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
	}
	sarifPhysicalLocation struct {
		ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
		Region           *sarifRegion          `json:"region,omitempty"`
	}
	sarifArtifactLocation struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine,omitempty"`
		StartColumn int `json:"startColumn,omitempty"`
		EndLine     int `json:"endLine,omitempty"`
		EndColumn   int `json:"endColumn,omitempty"`
	}
	sarifSuppression struct {
		Kind          string            `json:"kind"`
		Status        string            `json:"status"`
		Justification string            `json:"justification,omitempty"`
		Properties    map[string]string `json:"properties,omitempty"`
	}
)

// buildSARIF turns results into the SARIF object model.
func buildSARIF(results []*Result, info ToolInfo) sarifLog {
	// Merge results by tool, without touching the caller's slices.
	type toolRun struct {
		findings []gantry.Finding
		gaps     []Gap
		scanned  map[string]int
	}
	byTool := map[string]*toolRun{}
	runOf := func(tool string) *toolRun {
		tr := byTool[tool]
		if tr == nil {
			tr = &toolRun{scanned: map[string]int{}}
			byTool[tool] = tr
		}
		return tr
	}
	for _, r := range results {
		if r == nil {
			continue
		}
		tr := runOf(r.Tool)
		for _, f := range r.Findings {
			// A finding names its tool; one that does not is its result's.
			ftr := tr
			if f.Tool != "" && f.Tool != r.Tool {
				ftr = runOf(f.Tool)
			}
			ftr.findings = append(ftr.findings, f)
		}
		tr.gaps = append(tr.gaps, r.Gaps...)
		for k, v := range r.Scanned {
			tr.scanned[k] += v
		}
	}

	log := sarifLog{Schema: SARIFSchema, Version: SARIFVersion, Runs: []sarifRun{}}
	for _, tool := range sortedKeys(byTool) {
		tr := byTool[tool]
		findings := slices.Clone(tr.findings)
		slices.SortStableFunc(findings, compareForSARIF)
		run := sarifRun{
			Tool: sarifTool{Driver: sarifDriver{
				Name:           "gantry-" + tool,
				Version:        info.Version,
				InformationURI: info.InformationURI,
				Rules:          buildRules(findings, info.Rules[tool]),
			}},
			Invocations: []sarifInvocation{{
				ExecutionSuccessful:        true,
				ToolExecutionNotifications: gapNotifications(tr.gaps),
			}},
			Results: make([]sarifResult, 0, len(findings)),
		}
		if len(tr.scanned) > 0 {
			run.Properties = map[string]any{"scanned": tr.scanned}
		}
		index := make(map[string]int, len(run.Tool.Driver.Rules))
		for i, r := range run.Tool.Driver.Rules {
			index[r.ID] = i
		}
		for _, f := range findings {
			run.Results = append(run.Results, buildResult(f, index[f.RuleID]))
		}
		log.Runs = append(log.Runs, run)
	}
	return log
}

// buildRules describes every rule that findings name, sorted by ID.
func buildRules(findings []gantry.Finding, known map[string]RuleInfo) []sarifRule {
	type ruleAcc struct {
		maxSev  gantry.Severity
		cwe     map[string]bool
		message string // the findings' message, while they all share it
		mixed   bool   // the findings' messages differ
		help    string
	}
	acc := map[string]*ruleAcc{}
	for _, f := range findings {
		a := acc[f.RuleID]
		switch {
		case a == nil:
			a = &ruleAcc{maxSev: f.Severity, cwe: map[string]bool{}, message: f.Message}
			acc[f.RuleID] = a
		case a.message != f.Message:
			a.mixed = true
		}
		if displayRank(f.Severity) > displayRank(a.maxSev) {
			a.maxSev = f.Severity
		}
		for _, c := range f.CWE {
			a.cwe[c] = true
		}
		if a.help == "" {
			a.help = f.Help
		}
	}

	rules := make([]sarifRule, 0, len(acc))
	for _, id := range sortedKeys(acc) {
		a := acc[id]
		k := known[id]
		rule := sarifRule{ID: id}
		// A rule's short description is its title when the scanner gave
		// one, else the message its findings share, else its ID: never
		// one finding's message standing for others.
		short := k.Title
		if short == "" && !a.mixed {
			short = a.message
		}
		if short == "" {
			short = id
		}
		rule.ShortDescription = &sarifMessage{Text: short}
		help := cmp.Or(k.Help, a.help)
		if help != "" {
			rule.Help = &sarifMessage{Text: help}
		}
		sev := a.maxSev
		if sev.Rank() == 0 {
			// Unknown severities are taken as the worst, as the gate does.
			sev = gantry.SeverityCritical
		}
		rule.DefaultConfiguration = &sarifConfiguration{Level: sev.SARIFLevel()}
		tags := []string{"security"}
		for _, c := range sortedKeys(a.cwe) {
			tags = append(tags, c)
			if n, ok := strings.CutPrefix(strings.ToUpper(c), "CWE-"); ok && n != "" {
				// The form code scanning services group CWEs by.
				tags = append(tags, "external/cwe/cwe-"+n)
			}
		}
		rule.Properties = sarifRuleProperties{Tags: tags, SecuritySeverity: SecuritySeverity(sev)}
		rules = append(rules, rule)
	}
	return rules
}

// buildResult writes one finding as a SARIF result.
func buildResult(f gantry.Finding, ruleIndex int) sarifResult {
	sev := f.Severity
	if sev.Rank() == 0 {
		sev = gantry.SeverityCritical
	}
	r := sarifResult{
		RuleID:    f.RuleID,
		RuleIndex: ruleIndex,
		Level:     sev.SARIFLevel(),
		Message:   sarifMessage{Text: cmp.Or(f.Message, f.RuleID)},
		Properties: sarifResultProps{
			Severity:   f.Severity,
			Confidence: f.Confidence,
			New:        f.New,
			Waived:     f.Waiver != nil,
			Commit:     f.Location.Commit,
		},
	}
	if f.Location.Path != "" {
		loc := sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{
			URI:       pathURI(f.Location.Path),
			URIBaseID: srcRoot,
		}}
		if f.Location.Line > 0 {
			loc.Region = region(f.Location)
		}
		r.Locations = []sarifLocation{{PhysicalLocation: loc}}
	}
	if f.Fingerprint != "" {
		r.PartialFingerprints = map[string]string{FingerprintKey: f.Fingerprint}
	}
	if wv := f.Waiver; wv != nil {
		props := map[string]string{"owner": wv.Owner}
		if !wv.Expires.IsZero() {
			props["expires"] = wv.Expires.UTC().Format(time.RFC3339Nano)
		}
		r.Suppressions = []sarifSuppression{{
			Kind:          "external",
			Status:        "accepted",
			Justification: wv.Reason,
			Properties:    props,
		}}
	}
	return r
}

// region writes the lines and columns of l that are known (> 0) and
// consistent: an end before the start is dropped rather than written.
func region(l gantry.Location) *sarifRegion {
	r := &sarifRegion{StartLine: l.Line, StartColumn: max(l.Column, 0)}
	if l.EndLine >= l.Line {
		r.EndLine = l.EndLine
	}
	endLine := cmp.Or(r.EndLine, r.StartLine)
	if l.EndColumn > 0 && (endLine > r.StartLine || l.EndColumn >= r.StartColumn) {
		r.EndColumn = l.EndColumn
	}
	return r
}

// gapNotifications writes gaps as warnings, sorted.
func gapNotifications(gaps []Gap) []sarifNotification {
	gaps = slices.Clone(gaps)
	slices.SortFunc(gaps, func(a, b Gap) int {
		return cmp.Or(cmp.Compare(a.What, b.What), cmp.Compare(a.Reason, b.Reason))
	})
	gaps = slices.Compact(gaps)
	var out []sarifNotification
	for _, g := range gaps {
		out = append(out, sarifNotification{
			Level:      "warning",
			Message:    sarifMessage{Text: "not covered: " + gapText(g)},
			Properties: map[string]string{"what": g.What, "reason": g.Reason},
		})
	}
	return out
}

// gapText says what a gap left uncovered and why.
func gapText(g Gap) string {
	switch {
	case g.Reason == "":
		return g.What
	case g.What == "":
		return g.Reason
	}
	return g.What + ": " + g.Reason
}

// pathURI turns a slash-separated relative path into a relative URI
// reference: special characters are escaped, and a first segment with a
// colon is kept from reading as a scheme.
func pathURI(p string) string {
	return (&url.URL{Path: p}).String()
}

// compareForSARIF orders findings by where they are, then by what they are,
// so that a log reads top to bottom through each file.
func compareForSARIF(a, b gantry.Finding) int {
	return cmp.Or(
		cmp.Compare(a.Location.Path, b.Location.Path),
		cmp.Compare(a.Location.Line, b.Location.Line),
		cmp.Compare(a.Location.Column, b.Location.Column),
		cmp.Compare(a.RuleID, b.RuleID),
		cmp.Compare(a.Fingerprint, b.Fingerprint),
		cmp.Compare(a.Message, b.Message),
		cmp.Compare(a.Location.Commit, b.Location.Commit),
	)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
