package vulndb

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/semantic"
)

// The ecosystems whose OSV data Gantry downloads by default, named as OSV
// names them.
const (
	EcosystemGo       = "Go"
	EcosystemNPM      = "npm"
	EcosystemPyPI     = "PyPI"
	EcosystemCratesIO = "crates.io"
	EcosystemMaven    = "Maven"
)

// DefaultEcosystems are the ecosystems Update fetches when none are named.
var DefaultEcosystems = []string{EcosystemGo, EcosystemNPM, EcosystemPyPI, EcosystemCratesIO, EcosystemMaven}

// ErrVersion is returned (wrapped) for a version that cannot be read in its
// ecosystem's scheme.
var ErrVersion = errors.New("unreadable version")

// Verdict is whether one OSV affected entry covers a version, and how to
// get out of it.
type Verdict struct {
	Affected bool
	// Fixed is the first fixed version after the affected one, in the
	// ecosystem's spelling ("" if no fix is recorded).
	Fixed string
	// LastAffected is the last affected version of the range, when the
	// range closes with last_affected instead of fixed.
	LastAffected string
}

// NormalizeName returns the form of a package name used to compare names in
// an ecosystem: PyPI names are compared after PEP 503 normalisation, others
// exactly.
func NormalizeName(ecosystem, name string) string {
	if baseEcosystem(ecosystem) == EcosystemPyPI {
		return strings.ToLower(pep503.ReplaceAllString(strings.TrimSpace(name), "-"))
	}
	return name
}

var pep503 = regexp.MustCompile(`[-_.]+`)

// pep440 accepts the versions PEP 440 defines, with the spellings its
// normalisation rules allow: epoch, release, pre-, post- and
// development-release segments, and a local label.
var pep440 = regexp.MustCompile(`(?i)^\s*v?` +
	`(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*` + // epoch and release
	`(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?` + // pre-release
	`(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?` + // post-release
	`(?:[-_.]?dev[-_.]?[0-9]*)?` + // development release
	`(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?\s*$`) // local version

// Compare compares two versions in an ecosystem's own scheme (semver for Go,
// npm and crates.io, PEP 440 for PyPI, Maven's ComparableVersion for
// Maven, …). Go versions may carry the leading v of go.mod.
func Compare(ecosystem, a, b string) (int, error) {
	va, err := parseVersion(ecosystem, "ECOSYSTEM", a)
	if err != nil {
		return 0, err
	}
	vb, err := parseVersion(ecosystem, "ECOSYSTEM", b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb)
}

// parseVersion reads v for a range of type rangeType (SEMVER or ECOSYSTEM)
// in ecosystem.
func parseVersion(ecosystem, rangeType, v string) (semantic.Version, error) {
	eco := baseEcosystem(ecosystem)
	if eco == EcosystemGo {
		// go.mod and govulncheck write v1.2.3; OSV writes 1.2.3.
		v = strings.TrimPrefix(v, "v")
	}
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%w: empty", ErrVersion)
	}
	if rangeType == "SEMVER" {
		return semantic.ParseSemverVersion(strings.TrimPrefix(v, "v")), nil
	}
	if eco == EcosystemPyPI && !pep440.MatchString(v) {
		// The parser would read it as a pre-PEP 440 "legacy" version,
		// ordered before every real one: a guess, not a comparison.
		return nil, fmt.Errorf("%w: %s %q is not a PEP 440 version", ErrVersion, eco, v)
	}
	pv, err := semantic.Parse(v, eco)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q: %w", ErrVersion, eco, v, err)
	}
	return pv, nil
}

// Affects reports whether the affected entry a covers version of its
// package in ecosystem, by OSV's rules: a version is affected when it is
// listed in versions, or when it lies in a SEMVER or ECOSYSTEM range
// between an introduced event (inclusive, "0" meaning the beginning) and
// the next fixed (exclusive), last_affected (inclusive) or limit
// (exclusive) event; events are taken in version order. GIT ranges are
// ignored: Gantry matches released versions only.
func Affects(a *Affected, ecosystem, version string) (Verdict, error) {
	v, err := parseVersion(ecosystem, "ECOSYSTEM", version)
	if err != nil {
		return Verdict{}, err
	}
	var out Verdict
	var errs []error
	for _, r := range a.Ranges {
		if r.Type != "SEMVER" && r.Type != "ECOSYSTEM" {
			continue
		}
		vr := v
		if r.Type == "SEMVER" {
			vr, _ = parseVersion(ecosystem, "SEMVER", version)
		}
		verdict, err := inRange(r, ecosystem, vr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if verdict.Affected {
			out = better(ecosystem, out, verdict)
		}
	}
	if !out.Affected {
		for _, listed := range a.Versions {
			lv, err := parseVersion(ecosystem, "ECOSYSTEM", listed)
			if err != nil {
				if listed == version {
					out.Affected = true
				}
				continue
			}
			if c, err := v.Compare(lv); err == nil && c == 0 {
				out.Affected = true
				break
			}
		}
	}
	if !out.Affected && len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, nil
}

// better picks, of two affected verdicts, the one with the lowest fix.
func better(ecosystem string, a, b Verdict) Verdict {
	if !a.Affected {
		return b
	}
	if a.Fixed == "" {
		if b.Fixed != "" {
			return b
		}
		return a
	}
	if b.Fixed == "" {
		return a
	}
	if c, err := Compare(ecosystem, b.Fixed, a.Fixed); err == nil && c < 0 {
		return b
	}
	return a
}

type event struct {
	kind string // introduced, fixed, last_affected, limit
	raw  string
	v    semantic.Version // nil for introduced "0"
}

// inRange evaluates one range for an already parsed version.
func inRange(r Range, ecosystem string, v semantic.Version) (Verdict, error) {
	events := make([]event, 0, len(r.Events))
	for _, e := range r.Events {
		var ev event
		switch {
		case e.Introduced != "":
			ev = event{kind: "introduced", raw: e.Introduced}
		case e.Fixed != "":
			ev = event{kind: "fixed", raw: e.Fixed}
		case e.LastAffected != "":
			ev = event{kind: "last_affected", raw: e.LastAffected}
		case e.Limit != "":
			ev = event{kind: "limit", raw: e.Limit}
		default:
			continue
		}
		if !(ev.kind == "introduced" && ev.raw == "0") && !(ev.kind == "limit" && ev.raw == "*") {
			pv, err := parseVersion(ecosystem, r.Type, ev.raw)
			if err != nil {
				return Verdict{}, fmt.Errorf("range event %s %q: %w", ev.kind, ev.raw, err)
			}
			ev.v = pv
		}
		events = append(events, ev)
	}
	var sortErr error
	slices.SortStableFunc(events, func(a, b event) int {
		switch {
		case a.v == nil && b.v == nil:
			return cmp.Compare(order(a), order(b))
		case a.v == nil:
			return orderNil(a)
		case b.v == nil:
			return -orderNil(b)
		}
		c, err := a.v.Compare(b.v)
		if err != nil {
			sortErr = err
			return 0
		}
		if c != 0 {
			return c
		}
		// At one version an interval opens before it closes, so that
		// introduced=X, fixed=X is empty rather than open-ended.
		return cmp.Compare(order(a), order(b))
	})
	if sortErr != nil {
		return Verdict{}, sortErr
	}
	var open *event
	for i := range events {
		ev := &events[i]
		if ev.kind == "introduced" {
			if open == nil {
				open = ev
			}
			continue
		}
		if open == nil {
			continue
		}
		lo := open
		open = nil
		if !atLeast(v, lo) {
			continue
		}
		switch ev.kind {
		case "fixed":
			if c, _ := v.Compare(ev.v); c < 0 {
				return Verdict{Affected: true, Fixed: ev.raw}, nil
			}
		case "last_affected":
			if c, _ := v.Compare(ev.v); c <= 0 {
				return Verdict{Affected: true, LastAffected: ev.raw}, nil
			}
		case "limit":
			if ev.v == nil {
				return Verdict{Affected: true}, nil
			}
			if c, _ := v.Compare(ev.v); c < 0 {
				return Verdict{Affected: true}, nil
			}
		}
	}
	if open != nil && atLeast(v, open) {
		return Verdict{Affected: true}, nil
	}
	return Verdict{}, nil
}

func atLeast(v semantic.Version, introduced *event) bool {
	if introduced.v == nil {
		return true
	}
	c, err := v.Compare(introduced.v)
	return err == nil && c >= 0
}

func order(e event) int {
	if e.kind == "introduced" {
		return 0
	}
	return 1
}

// orderNil places versionless events: introduced "0" before everything,
// limit "*" after everything.
func orderNil(e event) int {
	if e.kind == "introduced" {
		return -1
	}
	return 1
}
