package change

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/glob"
)

// Facts are what is known about a change when it is classified: its
// evidence so far, its author's record and the state of its service.
type Facts struct {
	Change      *gantry.Change
	TestsRan    bool
	TestsFailed []string // the failing test steps
	// Coverage and BaseCoverage are percentages; nil when unknown.
	Coverage, BaseCoverage *float64
	// NewSevereFindings counts the new, unwaived high and critical findings.
	NewSevereFindings int
	UnwaivedSecrets   int
	History           History
	// Incidents counts the service's recent incidents (failed
	// deployments) in the history window.
	Incidents int
	// Freezes are the freeze windows of the target environment, or of
	// every environment.
	Freezes []gantry.FreezeWindow
	// PolicyDenials are the reasons a policy did not allow the change.
	PolicyDenials []string
	Now           time.Time
	RunID         gantry.RunID
}

// History is the author's recent record: how many changes they made in
// the history window and how many of them failed.
type History struct {
	Changes, Failed int
}

// minHistory is how many changes an author needs before their failure
// rate says anything.
const minHistory = 3

// Classify scores a change's risk factor by factor and classifies it:
// urgent when it was declared so, normal when its score reaches the
// threshold or a policy did not allow it, standard (pre-approved)
// otherwise. Every factor is listed, with why it scored what it did.
func Classify(cfg *Config, f Facts) gantry.Classification {
	c := f.Change
	if c == nil {
		c = &gantry.Change{}
	}
	factors := []gantry.RiskFactor{
		sizeFactor(cfg, c),
		sensitiveFactor(cfg, c),
		testsFactor(f),
		coverageFactor(f),
		findingsFactor(f),
		historyFactor(cfg, c, f.History),
		incidentsFactor(cfg, f.Incidents),
		timeFactor(cfg, f.Now),
		freezeFactor(f.Freezes, f.Now),
	}
	var score float64
	for i := range factors {
		w := math.Max(0, cfg.Weights[factors[i].Name])
		factors[i].Weight = w
		factors[i].Score = round1(w * factors[i].Score) // Score held the fraction
		score += factors[i].Score
	}
	score = round1(score)
	cl := gantry.Classification{Score: score, Threshold: cfg.Threshold, Factors: factors, RunID: f.RunID, At: f.Now}
	switch {
	case c.Urgent != "":
		cl.Class = gantry.ClassUrgent
		cl.Reasons = []string{"declared urgent: " + c.Urgent}
	case score >= cfg.Threshold || len(f.PolicyDenials) > 0:
		cl.Class = gantry.ClassNormal
		if score >= cfg.Threshold {
			cl.Reasons = append(cl.Reasons, fmt.Sprintf("risk score %.1f is at or over the threshold %s", score, fmtNum(cfg.Threshold)))
		}
		for _, r := range f.PolicyDenials {
			cl.Reasons = append(cl.Reasons, "policy did not allow it: "+r)
		}
	default:
		cl.Class = gantry.ClassStandard
		cl.Reasons = []string{fmt.Sprintf("risk score %.1f is under %s: pre-approved as a standard change", score, fmtNum(cfg.Threshold))}
	}
	return cl
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// factor returns a factor whose Score is still a fraction of its weight.
func factor(name string, fraction float64, format string, args ...any) gantry.RiskFactor {
	return gantry.RiskFactor{Name: name, Score: math.Min(1, math.Max(0, fraction)), Detail: fmt.Sprintf(format, args...)}
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

func sizeFactor(cfg *Config, c *gantry.Change) gantry.RiskFactor {
	lines, files := float64(c.Lines)/float64(max(cfg.SizeLines, 1)), float64(c.Files)/float64(max(cfg.SizeFiles, 1))
	what := fmt.Sprintf("%s in %s", plural(c.Lines, "line"), plural(c.Files, "file"))
	switch {
	case c.Lines >= cfg.SizeLines:
		return factor(FactorSize, 1, "%s: at or over %d lines", what, cfg.SizeLines)
	case c.Files >= cfg.SizeFiles:
		return factor(FactorSize, 1, "%s: at or over %d files", what, cfg.SizeFiles)
	}
	return factor(FactorSize, max(lines, files), "%s: under %d lines and %d files", what, cfg.SizeLines, cfg.SizeFiles)
}

func sensitiveFactor(cfg *Config, c *gantry.Change) gantry.RiskFactor {
	cats := cfg.sensitiveCategories()
	var hit, paths []string
	for _, p := range c.Paths {
		matched := false
		for _, cat := range cats {
			for _, g := range cfg.SensitivePaths[cat] {
				if glob.Match(g, p) {
					matched = true
					if !slices.Contains(hit, cat) {
						hit = append(hit, cat)
					}
					break
				}
			}
		}
		if matched {
			paths = append(paths, p)
		}
	}
	if len(hit) == 0 {
		if len(cats) == 0 {
			return factor(FactorSensitive, 0, "no sensitive paths are configured")
		}
		return factor(FactorSensitive, 0, "touches no sensitive path (%s)", strings.Join(cats, ", "))
	}
	slices.Sort(hit)
	shown := strings.Join(paths[:min(3, len(paths))], ", ")
	if len(paths) > 3 {
		shown += fmt.Sprintf(" and %d more", len(paths)-3)
	}
	return factor(FactorSensitive, 1, "touches %s: %s", strings.Join(hit, ", "), shown)
}

func testsFactor(f Facts) gantry.RiskFactor {
	switch {
	case len(f.TestsFailed) > 0:
		return factor(FactorTests, 1, "tests failed: %s", strings.Join(f.TestsFailed, ", "))
	case !f.TestsRan:
		return factor(FactorTests, 1, "no tests ran")
	}
	return factor(FactorTests, 0, "tests ran and passed")
}

func coverageFactor(f Facts) gantry.RiskFactor {
	switch {
	case f.Coverage == nil && f.BaseCoverage == nil:
		return factor(FactorCoverage, 0, "coverage unknown")
	case f.Coverage == nil:
		return factor(FactorCoverage, 0, "coverage unknown (base %.1f%%)", *f.BaseCoverage)
	case f.BaseCoverage == nil:
		return factor(FactorCoverage, 0, "coverage %.1f%%, base coverage unknown", *f.Coverage)
	case *f.Coverage < *f.BaseCoverage:
		return factor(FactorCoverage, 1, "coverage dropped from %.1f%% to %.1f%%", *f.BaseCoverage, *f.Coverage)
	}
	return factor(FactorCoverage, 0, "coverage %.1f%%, not lower than the base's %.1f%%", *f.Coverage, *f.BaseCoverage)
}

func findingsFactor(f Facts) gantry.RiskFactor {
	if f.NewSevereFindings <= 0 && f.UnwaivedSecrets <= 0 {
		return factor(FactorFindings, 0, "no new high or critical findings and no unwaived secrets")
	}
	var parts []string
	if f.NewSevereFindings > 0 {
		parts = append(parts, plural(f.NewSevereFindings, "new high or critical finding"))
	}
	if f.UnwaivedSecrets > 0 {
		parts = append(parts, plural(f.UnwaivedSecrets, "unwaived secret"))
	}
	return factor(FactorFindings, 1, "%s", strings.Join(parts, " and "))
}

func historyFactor(cfg *Config, c *gantry.Change, h History) gantry.RiskFactor {
	who := c.Author
	if who == "" {
		who = "the author"
	}
	if h.Changes < minHistory {
		return factor(FactorAuthorHistory, 0, "%s by %s in %d days: too few to judge (%d needed)", plural(h.Changes, "recent change"), who, cfg.HistoryDays, minHistory)
	}
	failed := min(max(h.Failed, 0), h.Changes)
	return factor(FactorAuthorHistory, float64(failed)/float64(h.Changes), "%d of %d recent changes by %s failed", failed, h.Changes, who)
}

func incidentsFactor(cfg *Config, n int) gantry.RiskFactor {
	if n <= 0 {
		return factor(FactorIncidents, 0, "no incidents in the last %d days", cfg.HistoryDays)
	}
	return factor(FactorIncidents, float64(n)/3, "%s in the last %d days", plural(n, "incident"), cfg.HistoryDays)
}

func timeFactor(cfg *Config, now time.Time) gantry.RiskFactor {
	loc := cfg.WorkingHours.Location
	if loc == nil {
		loc = time.UTC
	}
	at := now.In(loc).Format("Mon 15:04 MST")
	if cfg.WorkingHours.Contains(now) {
		return factor(FactorTimeOfDay, 0, "inside working hours: %s", at)
	}
	return factor(FactorTimeOfDay, 1, "outside working hours: %s", at)
}

func freezeFactor(windows []gantry.FreezeWindow, now time.Time) gantry.RiskFactor {
	var next *gantry.FreezeWindow
	for i, w := range windows {
		if w.Contains(now) {
			return factor(FactorFreeze, 1, "inside %s until %s", windowName(w), w.End.Format(timeLayout))
		}
		if w.Start.After(now) && (next == nil || w.Start.Before(next.Start)) {
			next = &windows[i]
		}
	}
	if next != nil {
		if next.Reason != "" {
			return factor(FactorFreeze, 0, "not in a freeze window; the next, %s, starts %s", next.Reason, next.Start.Format(timeLayout))
		}
		return factor(FactorFreeze, 0, "not in a freeze window; the next starts %s", next.Start.Format(timeLayout))
	}
	return factor(FactorFreeze, 0, "not in a freeze window")
}

const timeLayout = "2006-01-02 15:04 MST"

func windowName(w gantry.FreezeWindow) string {
	if w.Reason == "" {
		return "a freeze window"
	}
	return "freeze window " + w.Reason
}
