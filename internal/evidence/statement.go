package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	linkv0 "github.com/in-toto/attestation/go/predicates/link/v0"
	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	testresult "github.com/in-toto/attestation/go/predicates/test_result/v0"
	vulns "github.com/in-toto/attestation/go/predicates/vulns/v02"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"gantry.dev/gantry"
)

// The predicate types of Gantry's attestations, one for each kind.
const (
	PredicateProvenance = "https://slsa.dev/provenance/v1"
	PredicateTestResult = "https://in-toto.io/attestation/test-result/v0.1"
	PredicateVulns      = "https://in-toto.io/attestation/vulns/v0.2"
	PredicateScan       = "https://gantry.dev/attestation/scan/v1"
	PredicateLink       = "https://in-toto.io/attestation/link/v0.3"
	PredicateGate       = "https://gantry.dev/attestation/gate/v1"
)

// BuildType is the buildType of Gantry's provenance: one step of a run,
// defined by the pipeline file, stage and step in externalParameters.
const BuildType = "https://gantry.dev/buildtypes/step/v1"

// The StepResult.Meta keys that name the image a step ran in.
const (
	metaImageRepoDigest = "image_repo_digest" // name@sha256:… of the manifest
	metaImageDigest     = "image_digest"      // sha256:… of the image config
)

var predicateTypes = map[string]string{
	gantry.KindProvenance: PredicateProvenance,
	gantry.KindTestResult: PredicateTestResult,
	gantry.KindVulns:      PredicateVulns,
	gantry.KindScan:       PredicateScan,
	gantry.KindLink:       PredicateLink,
	gantry.KindGate:       PredicateGate,
}

// StepInput is what an attestation of one step is made from.
type StepInput struct {
	Run  *gantry.Run
	Step *gantry.StepResult
	// Kind chooses the predicate: gantry.KindProvenance, KindTestResult,
	// KindVulns, KindScan or KindLink.
	Kind string
	// Repo is the source repository's URI (https://…, ssh://…, file://…)
	// and Commit the commit the run built; an empty Commit means the
	// run's Trigger.Commit. The branch, when the trigger has one, is the
	// ref provenance names.
	Repo   string
	Commit string
	// BuilderID identifies what ran the step (the local CLI, an agent
	// pool): provenance's runDetails.builder.id, required for it.
	BuilderID string
	// Script is the step's script, the link predicate's command. It
	// comes from the pipeline file and holds no secret values.
	Script string
	// Findings are a scanner's findings (vulns and scan kinds).
	Findings []gantry.Finding
	// SARIF is a scanner's SARIF output; nil means the output named
	// "<step>.sarif", if there is one.
	SARIF *gantry.Artifact
	// Tests is the step's parsed test report (test-result kind); nil
	// means the exit status alone decides the result.
	Tests *TestReport
}

// GateInput is what the attestation of a stage's gate decision is made
// from.
type GateInput struct {
	Run   *gantry.Run
	Stage *gantry.StageResult
	// Attestations are those of the stage's steps: the gate's subjects
	// are their envelope digests.
	Attestations []*gantry.Attestation
}

// statement is an in-toto Statement v1 on its way to JSON, its predicate
// still a message of its own type.
type statement struct {
	subjects      []gantry.Subject
	rds           []*intoto.ResourceDescriptor
	predicateType string
	predicate     proto.Message
}

// StepStatement returns the in-toto Statement v1 about a step, as compact
// JSON. Its subjects are the step's outputs, or its log when it has none.
func StepStatement(in *StepInput) ([]byte, error) {
	st, err := stepStatement(in)
	if err != nil {
		return nil, err
	}
	return st.marshal()
}

func stepStatement(in *StepInput) (*statement, error) {
	if in == nil || in.Run == nil || in.Step == nil {
		return nil, gantry.Errorf(gantry.EInvalid, "attest step: a run and a step result are needed")
	}
	step := in.Step
	fail := func(err error) (*statement, error) {
		return nil, fmt.Errorf("attest step %s: %w", step.Name, err)
	}
	predicateType, ok := predicateTypes[in.Kind]
	if !ok || in.Kind == gantry.KindGate {
		return fail(gantry.Errorf(gantry.EInvalid, "unknown step kind %q", in.Kind))
	}
	subjects := make([]gantry.Subject, 0, len(step.Outputs))
	for _, o := range step.Outputs {
		subjects = append(subjects, gantry.Subject{Name: o.Path, Digest: o.Digest})
	}
	if len(subjects) == 0 {
		if step.Log == "" {
			return fail(gantry.Errorf(gantry.EInvalid, "no outputs and no log: nothing to be the statement's subject"))
		}
		subjects = append(subjects, gantry.Subject{Name: step.Name + ".log", Digest: step.Log})
	}
	rds, err := subjectDescriptors(subjects)
	if err != nil {
		return fail(err)
	}
	pipeline, err := pipelineDescriptor(in.Run)
	if err != nil {
		return fail(err)
	}

	var predicate proto.Message
	switch in.Kind {
	case gantry.KindProvenance:
		predicate, err = provenance(in, pipeline)
	case gantry.KindTestResult:
		predicate, err = testResult(in, pipeline)
	case gantry.KindVulns:
		predicate, err = vulnsPredicate(in)
	case gantry.KindScan:
		predicate, err = scanPredicate(in)
	case gantry.KindLink:
		predicate, err = link(in)
	}
	if err != nil {
		return fail(err)
	}
	return &statement{subjects: subjects, rds: rds, predicateType: predicateType, predicate: predicate}, nil
}

// GateStatement returns the in-toto Statement v1 about a stage's gate
// decision, as compact JSON. Its subjects are the stage's step
// attestations, named "attestation/<step>"; a stage without any has the
// pipeline file as its subject, so that even a decision on no evidence is
// recorded.
func GateStatement(in *GateInput) ([]byte, error) {
	st, err := gateStatement(in)
	if err != nil {
		return nil, err
	}
	return st.marshal()
}

func gateStatement(in *GateInput) (*statement, error) {
	if in == nil || in.Run == nil || in.Stage == nil {
		return nil, gantry.Errorf(gantry.EInvalid, "attest gate: a run and a stage result are needed")
	}
	stage := in.Stage
	fail := func(err error) (*statement, error) {
		return nil, fmt.Errorf("attest gate of stage %s: %w", stage.Name, err)
	}
	pipeline, err := pipelineDescriptor(in.Run)
	if err != nil {
		return fail(err)
	}
	var subjects []gantry.Subject
	for _, a := range in.Attestations {
		if a == nil || a.Step == "" {
			continue
		}
		subjects = append(subjects, gantry.Subject{Name: "attestation/" + a.Step, Digest: a.Digest})
	}
	if len(subjects) == 0 {
		subjects = append(subjects, gantry.Subject{Name: in.Run.Pipeline, Digest: in.Run.PipelineDigest})
	}
	rds, err := subjectDescriptors(subjects)
	if err != nil {
		return fail(err)
	}
	reasons := make([]any, len(stage.Gate.Reasons))
	for i, r := range stage.Gate.Reasons {
		reasons[i] = r
	}
	p := map[string]any{
		"run":      string(in.Run.ID),
		"pipeline": rdMap(pipeline),
		"stage":    stage.Name,
		"allowed":  stage.Gate.Allowed,
		"decider":  stage.Gate.Decider,
		"reasons":  reasons,
	}
	if len(stage.Gate.Notes) > 0 {
		notes := make([]any, len(stage.Gate.Notes))
		for i, n := range stage.Gate.Notes {
			notes[i] = n
		}
		p["notes"] = notes
	}
	if stage.Gate.Environment != "" {
		p["environment"] = stage.Gate.Environment
	}
	if !stage.FinishedAt.IsZero() {
		p["decidedOn"] = stage.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	predicate, err := structpb.NewStruct(p)
	if err != nil {
		return fail(err)
	}
	return &statement{subjects: subjects, rds: rds, predicateType: PredicateGate, predicate: predicate}, nil
}

// provenance is SLSA Provenance v1 of a step.
func provenance(in *StepInput, pipeline *intoto.ResourceDescriptor) (proto.Message, error) {
	run, step := in.Run, in.Step
	if in.BuilderID == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "provenance needs a builder id")
	}
	ext := map[string]any{
		"pipeline": rdMap(pipeline),
		"stage":    step.Stage,
		"step":     step.Name,
	}
	var deps []*intoto.ResourceDescriptor
	src, err := sourceDescriptor(in)
	if err != nil {
		return nil, err
	}
	if src != nil {
		deps = append(deps, src)
		if src.Uri != "" {
			ext["source"] = src.Uri
		}
	}
	inputs, err := artifactDescriptors(step.Inputs)
	if err != nil {
		return nil, err
	}
	deps = append(deps, inputs...)
	img, err := imageDescriptor(step)
	if err != nil {
		return nil, err
	}
	if img != nil {
		deps = append(deps, img)
	}
	internal := map[string]any{"executor": step.Executor}
	for k, v := range map[string]string{"uses": step.Uses, "sandbox": step.Sandbox, "image": step.Image} {
		if v != "" {
			internal[k] = v
		}
	}
	if step.Command != "" {
		d, err := digestSet(step.Command)
		if err != nil {
			return nil, fmt.Errorf("command digest: %w", err)
		}
		internal["commandDigest"] = map[string]any{"sha256": d["sha256"]}
	}
	if run.Trigger.Dirty {
		// The commit alone does not describe the source that was built.
		internal["dirty"] = true
	}
	extStruct, err := structpb.NewStruct(ext)
	if err != nil {
		return nil, err
	}
	intStruct, err := structpb.NewStruct(internal)
	if err != nil {
		return nil, err
	}
	var byproducts []*intoto.ResourceDescriptor
	if step.Log != "" {
		d, err := digestSet(step.Log)
		if err != nil {
			return nil, fmt.Errorf("log digest: %w", err)
		}
		outcome, err := structpb.NewStruct(map[string]any{"status": string(step.Status), "exitCode": step.ExitCode})
		if err != nil {
			return nil, err
		}
		byproducts = append(byproducts, &intoto.ResourceDescriptor{Name: step.Name + ".log", Digest: d, MediaType: "text/plain", Annotations: outcome})
	}
	p := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   extStruct,
			InternalParameters:   intStruct,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: in.BuilderID},
			Metadata: &slsa.BuildMetadata{
				InvocationId: string(run.ID) + "/" + step.Name,
				StartedOn:    timestamp(step.StartedAt),
				FinishedOn:   timestamp(step.FinishedAt),
			},
			Byproducts: byproducts,
		},
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// testResult is the in-toto test-result predicate. The predicate has no
// counts: they are the lengths of its lists. Skipped tests are not
// listed, since the predicate has no place for them.
func testResult(in *StepInput, pipeline *intoto.ResourceDescriptor) (proto.Message, error) {
	step := in.Step
	failed := step.Status != gantry.StatusSucceeded
	p := &testresult.TestResult{Configuration: []*intoto.ResourceDescriptor{pipeline}}
	if t := in.Tests; t != nil {
		p.PassedTests = t.Passed
		p.FailedTests = t.Failed
		failed = failed || len(t.Failed) > 0
	}
	switch {
	case !failed:
		p.Result = "PASSED"
	case step.AllowFail:
		// The pipeline lets this step fail: the run goes on, with a
		// warning.
		p.Result = "WARNED"
	default:
		p.Result = "FAILED"
	}
	return p, nil
}

// vulnsPredicate is the in-toto vulns predicate of a dependency scan.
// With no findings, scanner.result is absent: in the predicate's proto3
// JSON form an absent list is an empty one.
func vulnsPredicate(in *StepInput) (proto.Message, error) {
	step := in.Step
	results := make([]*vulns.Result, 0, len(in.Findings))
	for _, f := range in.Findings {
		ann, err := structpb.NewStruct(map[string]any{
			"path":        f.Location.Path,
			"fingerprint": f.Fingerprint,
			"waived":      f.Waiver.Active(step.FinishedAt),
		})
		if err != nil {
			return nil, err
		}
		results = append(results, &vulns.Result{
			Id:          f.RuleID,
			Severity:    []*vulns.Result_Severity{{Method: "gantry", Score: string(f.Severity)}},
			Annotations: []*structpb.Struct{ann},
		})
	}
	p := &vulns.Vulns{
		Scanner: &vulns.Scanner{Uri: scannerURI(in), Result: results},
		Metadata: &vulns.ScanMetadata{
			ScanStartedOn:  timestamp(step.StartedAt),
			ScanFinishedOn: timestamp(step.FinishedAt),
		},
	}
	return p, nil
}

// scanPredicate is Gantry's scan predicate: the SARIF digest and the
// findings counted by severity.
func scanPredicate(in *StepInput) (proto.Message, error) {
	step := in.Step
	counts := map[string]any{}
	waived := map[string]any{}
	for _, s := range []gantry.Severity{gantry.SeverityCritical, gantry.SeverityHigh, gantry.SeverityMedium, gantry.SeverityLow, gantry.SeverityInfo} {
		counts[string(s)], waived[string(s)] = 0, 0
	}
	for _, f := range in.Findings {
		sev := string(f.Severity)
		if f.Severity.Rank() == 0 {
			return nil, gantry.Errorf(gantry.EInvalid, "finding %s of %s has unknown severity %q", f.RuleID, f.Location.Path, f.Severity)
		}
		counts[sev] = counts[sev].(int) + 1
		if f.Waiver.Active(step.FinishedAt) {
			waived[sev] = waived[sev].(int) + 1
		}
	}
	p := map[string]any{
		"scanner":  scannerURI(in),
		"findings": len(in.Findings),
		"counts":   counts,
		"waived":   waived,
		"status":   string(step.Status),
		"exitCode": step.ExitCode,
	}
	sarif := in.SARIF
	if sarif == nil {
		for i, o := range step.Outputs {
			if o.Path == step.Name+".sarif" || strings.HasSuffix(o.Path, "/"+step.Name+".sarif") {
				sarif = &step.Outputs[i]
				break
			}
		}
	}
	if sarif != nil {
		d, err := digestSet(sarif.Digest)
		if err != nil {
			return nil, fmt.Errorf("SARIF %s: %w", sarif.Path, err)
		}
		p["sarif"] = map[string]any{"name": sarif.Path, "digest": map[string]any{"sha256": d["sha256"]}, "mediaType": "application/sarif+json"}
	}
	return structpb.NewStruct(p)
}

// link is the in-toto link predicate: any other step.
func link(in *StepInput) (proto.Message, error) {
	step := in.Step
	materials, err := artifactDescriptors(step.Inputs)
	if err != nil {
		return nil, err
	}
	var command []string
	switch {
	case in.Script != "":
		command = []string{in.Script}
	case step.Uses != "":
		command = []string{"uses", step.Uses}
	}
	by := map[string]any{
		"return-value": step.ExitCode,
		"status":       string(step.Status),
	}
	if step.Log != "" {
		d, err := digestSet(step.Log)
		if err != nil {
			return nil, fmt.Errorf("log digest: %w", err)
		}
		by["log"] = map[string]any{"name": step.Name + ".log", "digest": map[string]any{"sha256": d["sha256"]}}
	}
	env := map[string]any{"executor": step.Executor}
	if step.EnvDigest != "" {
		d, err := digestSet(step.EnvDigest)
		if err != nil {
			return nil, fmt.Errorf("environment digest: %w", err)
		}
		env["digest"] = map[string]any{"sha256": d["sha256"]}
	}
	for k, v := range map[string]string{"image": step.Image, "sandbox": step.Sandbox} {
		if v != "" {
			env[k] = v
		}
	}
	byStruct, err := structpb.NewStruct(by)
	if err != nil {
		return nil, err
	}
	envStruct, err := structpb.NewStruct(env)
	if err != nil {
		return nil, err
	}
	return &linkv0.Link{
		Name:        step.Name,
		Command:     command,
		Materials:   materials,
		Byproducts:  byStruct,
		Environment: envStruct,
	}, nil
}

// sourceDescriptor is the source commit a run built, or nil when the run
// has none (a directory that is not a repository).
func sourceDescriptor(in *StepInput) (*intoto.ResourceDescriptor, error) {
	commit := in.Commit
	if commit == "" {
		commit = in.Run.Trigger.Commit
	}
	if commit == "" {
		return nil, nil
	}
	// in-toto's gitCommit is a SHA-1 commit id: SHA-256 repositories are
	// not supported yet.
	if !isHex(commit) || len(commit) != 40 {
		return nil, gantry.Errorf(gantry.EInvalid, "commit %q is not a 40-digit lower-case hex commit id", commit)
	}
	rd := &intoto.ResourceDescriptor{Digest: map[string]string{"gitCommit": commit}}
	if in.Repo == "" {
		rd.Name = "source"
		return rd, nil
	}
	ref := commit
	if b := in.Run.Trigger.Branch; b != "" {
		ref = "refs/heads/" + strings.TrimPrefix(b, "refs/heads/")
	}
	uri := in.Repo
	if !strings.HasPrefix(uri, "git+") {
		uri = "git+" + uri
	}
	rd.Uri = uri + "@" + ref
	return rd, nil
}

// imageDescriptor is the image a step ran in, when the executor reported
// its digest: the manifest's, else the image config's.
func imageDescriptor(step *gantry.StepResult) (*intoto.ResourceDescriptor, error) {
	var hex string
	if ref := step.Meta[metaImageRepoDigest]; ref != "" {
		_, d, ok := strings.Cut(ref, "@")
		if hex = gantry.Digest(d).Hex(); !ok || hex == "" {
			return nil, gantry.Errorf(gantry.EInvalid, "image repo digest %q is not name@sha256:<hex>", ref)
		}
	} else if d := step.Meta[metaImageDigest]; d != "" {
		if hex = gantry.Digest(d).Hex(); hex == "" {
			return nil, gantry.Errorf(gantry.EInvalid, "image digest %q is not sha256:<hex>", d)
		}
	} else {
		return nil, nil
	}
	name := step.Image
	if name == "" {
		name = "image"
	}
	return &intoto.ResourceDescriptor{Uri: "docker://" + name, Digest: map[string]string{"sha256": hex}}, nil
}

func pipelineDescriptor(run *gantry.Run) (*intoto.ResourceDescriptor, error) {
	d, err := digestSet(run.PipelineDigest)
	if err != nil {
		return nil, fmt.Errorf("pipeline digest: %w", err)
	}
	return &intoto.ResourceDescriptor{Name: run.Pipeline, Digest: d}, nil
}

func subjectDescriptors(subjects []gantry.Subject) ([]*intoto.ResourceDescriptor, error) {
	rds := make([]*intoto.ResourceDescriptor, len(subjects))
	seen := make(map[string]bool, len(subjects))
	for i, s := range subjects {
		if seen[s.Name] {
			return nil, gantry.Errorf(gantry.EInvalid, "two subjects named %q", s.Name)
		}
		seen[s.Name] = true
		d, err := digestSet(s.Digest)
		if err != nil {
			return nil, fmt.Errorf("subject %s: %w", s.Name, err)
		}
		rds[i] = &intoto.ResourceDescriptor{Name: s.Name, Digest: d}
	}
	return rds, nil
}

func artifactDescriptors(arts []gantry.Artifact) ([]*intoto.ResourceDescriptor, error) {
	rds := make([]*intoto.ResourceDescriptor, len(arts))
	for i, a := range arts {
		d, err := digestSet(a.Digest)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", a.Path, err)
		}
		rds[i] = &intoto.ResourceDescriptor{Name: a.Path, Digest: d}
	}
	return rds, nil
}

// digestSet is an in-toto DigestSet of a Gantry digest.
func digestSet(d gantry.Digest) (map[string]string, error) {
	hex := d.Hex()
	if hex == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "digest %q is not sha256:<64 lower-case hex digits>", d)
	}
	return map[string]string{"sha256": hex}, nil
}

// rdMap is a resource descriptor with a name and digests as a struct
// value.
func rdMap(rd *intoto.ResourceDescriptor) map[string]any {
	digest := make(map[string]any, len(rd.Digest))
	for k, v := range rd.Digest {
		digest[k] = v
	}
	return map[string]any{"name": rd.Name, "digest": digest}
}

func scannerURI(in *StepInput) string {
	name := in.Step.Uses
	if name == "" && len(in.Findings) > 0 {
		name = in.Findings[0].Tool
	}
	if name == "" {
		name = in.Step.Name
	}
	return "https://gantry.dev/scanners/" + name
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// marshal writes the statement as compact JSON. protojson writes the
// parts, and its output is compacted: it adds random spaces on purpose so
// that nobody relies on its bytes, and a signed payload must not change
// between builds. The predicate's JSON goes in as it is, rather than
// through a structpb.Struct, which would take most of a step's evidence
// time.
func (st *statement) marshal() ([]byte, error) {
	head, err := protojson.Marshal(&intoto.Statement{Type: intoto.StatementTypeUri, Subject: st.rds, PredicateType: st.predicateType})
	if err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	pred, err := protojson.Marshal(st.predicate)
	if err != nil {
		return nil, fmt.Errorf("encode predicate: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(head) + len(pred) + 16)
	if err := json.Compact(&buf, head); err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	buf.Truncate(buf.Len() - 1) // the closing brace
	buf.WriteString(`,"predicate":`)
	if err := json.Compact(&buf, pred); err != nil {
		return nil, fmt.Errorf("encode predicate: %w", err)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}
