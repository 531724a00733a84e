package change

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// tuesday is inside the default working hours.
var tuesday = time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)

func pct(f float64) *float64 { return &f }

// quiet are the factors of a small, tested change on a Tuesday morning:
// 10 lines in 1 file, which is all that scores.
func quiet() []gantry.RiskFactor {
	return []gantry.RiskFactor{
		{Name: "size", Weight: 20, Score: 1, Detail: "10 lines in 1 file: under 400 lines and 20 files"},
		{Name: "sensitive_paths", Weight: 40, Detail: "touches no sensitive path (auth, delivery, infrastructure, migrations)"},
		{Name: "tests", Weight: 40, Detail: "tests ran and passed"},
		{Name: "coverage", Weight: 15, Detail: "coverage 80.0%, not lower than the base's 80.0%"},
		{Name: "findings", Weight: 40, Detail: "no new high or critical findings and no unwaived secrets"},
		{Name: "author_history", Weight: 15, Detail: "0 recent changes by alice@example.com in 30 days: too few to judge (3 needed)"},
		{Name: "incidents", Weight: 15, Detail: "no incidents in the last 30 days"},
		{Name: "time_of_day", Weight: 10, Detail: "inside working hours: Tue 10:00 UTC"},
		{Name: "freeze", Weight: 50, Detail: "not in a freeze window"},
	}
}

// with returns quiet's factors with some replaced by name.
func with(fs ...gantry.RiskFactor) []gantry.RiskFactor {
	out := quiet()
	for _, f := range fs {
		for i := range out {
			if out[i].Name == f.Name {
				out[i] = f
			}
		}
	}
	return out
}

func TestClassify(t *testing.T) {
	yearEnd := gantry.FreezeWindow{Start: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC), Reason: "year-end"}
	standard := func(score string) []string {
		return []string{"risk score " + score + " is under 40: pre-approved as a standard change"}
	}
	for _, tc := range []struct {
		name    string
		facts   func(f *Facts)
		class   gantry.ChangeClass
		score   float64
		factors []gantry.RiskFactor
		reasons []string
	}{
		{
			name:    "small tested change",
			facts:   func(f *Facts) {},
			class:   gantry.ClassStandard,
			score:   1,
			factors: quiet(),
			reasons: standard("1.0"),
		},
		{
			name:  "at the size in lines",
			facts: func(f *Facts) { f.Change.Lines, f.Change.Files = 412, 7 },
			class: gantry.ClassStandard, score: 20,
			factors: with(gantry.RiskFactor{Name: "size", Weight: 20, Score: 20, Detail: "412 lines in 7 files: at or over 400 lines"}),
			reasons: standard("20.0"),
		},
		{
			name:  "at the size in files",
			facts: func(f *Facts) { f.Change.Lines, f.Change.Files = 30, 25 },
			class: gantry.ClassStandard, score: 20,
			factors: with(gantry.RiskFactor{Name: "size", Weight: 20, Score: 20, Detail: "30 lines in 25 files: at or over 20 files"}),
			reasons: standard("20.0"),
		},
		{
			name:  "half the size",
			facts: func(f *Facts) { f.Change.Lines, f.Change.Files = 200, 4 },
			class: gantry.ClassStandard, score: 10,
			factors: with(gantry.RiskFactor{Name: "size", Weight: 20, Score: 10, Detail: "200 lines in 4 files: under 400 lines and 20 files"}),
			reasons: standard("10.0"),
		},
		{
			name: "sensitive paths",
			facts: func(f *Facts) {
				f.Change.Paths = []string{"README.md", "internal/auth/login.go", "db/migrations/001.sql", "deploy/prod.yaml", ".gantry.yml", "internal/auth/token.go"}
				f.Change.Files = 6
			},
			class: gantry.ClassNormal, score: 46,
			factors: with(
				gantry.RiskFactor{Name: "size", Weight: 20, Score: 6, Detail: "10 lines in 6 files: under 400 lines and 20 files"},
				gantry.RiskFactor{Name: "sensitive_paths", Weight: 40, Score: 40, Detail: "touches auth, delivery, infrastructure, migrations: internal/auth/login.go, db/migrations/001.sql, deploy/prod.yaml and 2 more"},
			),
			reasons: []string{"risk score 46.0 is at or over the threshold 40"},
		},
		{
			name:  "failing tests",
			facts: func(f *Facts) { f.TestsFailed = []string{"unit", "integration"} },
			class: gantry.ClassNormal, score: 41,
			factors: with(gantry.RiskFactor{Name: "tests", Weight: 40, Score: 40, Detail: "tests failed: unit, integration"}),
			reasons: []string{"risk score 41.0 is at or over the threshold 40"},
		},
		{
			name:  "no tests",
			facts: func(f *Facts) { f.TestsRan = false },
			class: gantry.ClassNormal, score: 41,
			factors: with(gantry.RiskFactor{Name: "tests", Weight: 40, Score: 40, Detail: "no tests ran"}),
			reasons: []string{"risk score 41.0 is at or over the threshold 40"},
		},
		{
			name:  "coverage dropped",
			facts: func(f *Facts) { f.Coverage = pct(78.04) },
			class: gantry.ClassStandard, score: 16,
			factors: with(gantry.RiskFactor{Name: "coverage", Weight: 15, Score: 15, Detail: "coverage dropped from 80.0% to 78.0%"}),
			reasons: standard("16.0"),
		},
		{
			name:  "coverage unknown",
			facts: func(f *Facts) { f.Coverage, f.BaseCoverage = nil, nil },
			class: gantry.ClassStandard, score: 1,
			factors: with(gantry.RiskFactor{Name: "coverage", Weight: 15, Detail: "coverage unknown"}),
			reasons: standard("1.0"),
		},
		{
			name:  "base coverage unknown",
			facts: func(f *Facts) { f.BaseCoverage = nil },
			class: gantry.ClassStandard, score: 1,
			factors: with(gantry.RiskFactor{Name: "coverage", Weight: 15, Detail: "coverage 80.0%, base coverage unknown"}),
			reasons: standard("1.0"),
		},
		{
			name:  "findings and a secret",
			facts: func(f *Facts) { f.NewSevereFindings, f.UnwaivedSecrets = 2, 1 },
			class: gantry.ClassNormal, score: 41,
			factors: with(gantry.RiskFactor{Name: "findings", Weight: 40, Score: 40, Detail: "2 new high or critical findings and 1 unwaived secret"}),
			reasons: []string{"risk score 41.0 is at or over the threshold 40"},
		},
		{
			name:  "author history",
			facts: func(f *Facts) { f.History = History{Changes: 5, Failed: 2} },
			class: gantry.ClassStandard, score: 7,
			factors: with(gantry.RiskFactor{Name: "author_history", Weight: 15, Score: 6, Detail: "2 of 5 recent changes by alice@example.com failed"}),
			reasons: standard("7.0"),
		},
		{
			name:  "too little author history",
			facts: func(f *Facts) { f.History = History{Changes: 2, Failed: 2} },
			class: gantry.ClassStandard, score: 1,
			factors: with(gantry.RiskFactor{Name: "author_history", Weight: 15, Detail: "2 recent changes by alice@example.com in 30 days: too few to judge (3 needed)"}),
			reasons: standard("1.0"),
		},
		{
			name:  "incidents",
			facts: func(f *Facts) { f.Incidents = 1 },
			class: gantry.ClassStandard, score: 6,
			factors: with(gantry.RiskFactor{Name: "incidents", Weight: 15, Score: 5, Detail: "1 incident in the last 30 days"}),
			reasons: standard("6.0"),
		},
		{
			name:  "many incidents",
			facts: func(f *Facts) { f.Incidents = 7 },
			class: gantry.ClassStandard, score: 16,
			factors: with(gantry.RiskFactor{Name: "incidents", Weight: 15, Score: 15, Detail: "7 incidents in the last 30 days"}),
			reasons: standard("16.0"),
		},
		{
			name:  "at night on a Saturday",
			facts: func(f *Facts) { f.Now = time.Date(2026, 3, 7, 2, 10, 0, 0, time.UTC) },
			class: gantry.ClassStandard, score: 11,
			factors: with(gantry.RiskFactor{Name: "time_of_day", Weight: 10, Score: 10, Detail: "outside working hours: Sat 02:10 UTC"}),
			reasons: standard("11.0"),
		},
		{
			name: "inside a freeze",
			facts: func(f *Facts) {
				f.Now = time.Date(2026, 12, 22, 10, 0, 0, 0, time.UTC)
				f.Freezes = []gantry.FreezeWindow{yearEnd}
			},
			class: gantry.ClassNormal, score: 51,
			factors: with(
				gantry.RiskFactor{Name: "time_of_day", Weight: 10, Detail: "inside working hours: Tue 10:00 UTC"},
				gantry.RiskFactor{Name: "freeze", Weight: 50, Score: 50, Detail: "inside freeze window year-end until 2027-01-04 00:00 UTC"},
			),
			reasons: []string{"risk score 51.0 is at or over the threshold 40"},
		},
		{
			name:  "before a freeze",
			facts: func(f *Facts) { f.Freezes = []gantry.FreezeWindow{yearEnd} },
			class: gantry.ClassStandard, score: 1,
			factors: with(gantry.RiskFactor{Name: "freeze", Weight: 50, Detail: "not in a freeze window; the next, year-end, starts 2026-12-20 00:00 UTC"}),
			reasons: standard("1.0"),
		},
		{
			name:  "declared urgent",
			facts: func(f *Facts) { f.Change.Urgent = "payments are down"; f.TestsRan = false },
			class: gantry.ClassUrgent, score: 41,
			factors: with(gantry.RiskFactor{Name: "tests", Weight: 40, Score: 40, Detail: "no tests ran"}),
			reasons: []string{"declared urgent: payments are down"},
		},
		{
			name:  "denied by policy",
			facts: func(f *Facts) { f.PolicyDenials = []string{"built from an unprotected branch"} },
			class: gantry.ClassNormal, score: 1,
			factors: quiet(),
			reasons: []string{"policy did not allow it: built from an unprotected branch"},
		},
		{
			name: "over the threshold and denied",
			facts: func(f *Facts) {
				f.TestsFailed = []string{"unit"}
				f.PolicyDenials = []string{"tests did not pass"}
			},
			class: gantry.ClassNormal, score: 41,
			factors: with(gantry.RiskFactor{Name: "tests", Weight: 40, Score: 40, Detail: "tests failed: unit"}),
			reasons: []string{"risk score 41.0 is at or over the threshold 40", "policy did not allow it: tests did not pass"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Facts{
				Change:       &gantry.Change{ID: "abc", Author: "alice@example.com", Lines: 10, Files: 1, Paths: []string{"README.md"}},
				TestsRan:     true,
				Coverage:     pct(80),
				BaseCoverage: pct(80),
				Now:          tuesday,
				RunID:        "run-1",
			}
			tc.facts(&f)
			got := Classify(DefaultConfig(), f)
			want := gantry.Classification{
				Class:     tc.class,
				Score:     tc.score,
				Threshold: 40,
				Factors:   tc.factors,
				Reasons:   tc.reasons,
				RunID:     "run-1",
				At:        f.Now,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Classify (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClassifyWeights checks that configured weights are used and that
// the score is rounded to one decimal.
func TestClassifyWeights(t *testing.T) {
	cfg, err := ParseConfig("c.yml", []byte("classification:\n  threshold: 5.5\n  weights: {size: 7, incidents: 10, time_of_day: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := Classify(cfg, Facts{
		Change:   &gantry.Change{Lines: 1, Files: 1},
		TestsRan: true,
		// 1/20 of 7 is 0.35, and 1/3 of 10 is 3.33.
		Incidents: 1,
		Now:       time.Date(2026, 3, 7, 2, 10, 0, 0, time.UTC),
	})
	if got.Score != 3.7 || got.Class != gantry.ClassStandard {
		t.Errorf("score %v, class %s; want 3.7, standard", got.Score, got.Class)
	}
	for _, f := range got.Factors {
		if f.Name == FactorTimeOfDay && (f.Weight != 0 || f.Score != 0) {
			t.Errorf("time_of_day = %+v, want a weight of 0", f)
		}
	}
	if len(got.Factors) != len(Factors) {
		t.Errorf("%d factors, want %d", len(got.Factors), len(Factors))
	}
	if got := Classify(cfg, Facts{}); got.Class != gantry.ClassNormal || len(got.Factors) != len(Factors) {
		t.Errorf("no facts at all: %+v, want a normal change with every factor", got)
	}
}
