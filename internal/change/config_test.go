package change

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

// cmpLoc compares time zones by name, and times as instants in them.
var cmpLoc = cmp.Options{
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location().String() == b.Location().String() }),
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParseConfigExample(t *testing.T) {
	data, err := os.ReadFile("testdata/changes.yml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig("changes.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	ams := mustLoc(t, "Europe/Amsterdam")
	want := DefaultConfig()
	want.Threshold = 50
	want.Weights[FactorSize] = 25
	want.Weights[FactorFreeze] = 60
	want.SizeLines, want.SizeFiles = 500, 25
	want.SensitivePaths["auth"] = []string{"internal/auth/**", "**/*login*"}
	want.SensitivePaths["payments"] = []string{"internal/payments/**"}
	want.SensitivePaths[DeliveryCategory] = append(want.SensitivePaths[DeliveryCategory], ".github/workflows/**")
	want.WorkingHours = WorkingHours{
		Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday},
		From: 9 * time.Hour, To: 17*time.Hour + 30*time.Minute, Location: ams,
	}
	want.HistoryDays = 60
	want.Approvals = ApprovalRules{Required: 2, Role: gantry.RoleApprover, SingleMaintainer: "Only one maintainer until 2027; every self-approval is reviewed in the quarterly audit."}
	want.Environments = []EnvironmentConfig{
		{Environment: gantry.Environment{Name: "acceptance", ApproverRole: gantry.RoleApprover}},
		{
			Environment: gantry.Environment{
				Name:              "production",
				Deployers:         []string{"role:developer", "alice"},
				RequiredApprovals: 2,
				ApproverRole:      gantry.RoleApprover,
				RequiredGates:     []string{"commit", "acceptance"},
				FreezeWindows: []gantry.FreezeWindow{{
					Start:  time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC),
					End:    time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC),
					Reason: "year-end",
				}},
			},
			Weekly: []WeeklyFreeze{{StartDay: time.Friday, Start: 16 * time.Hour, EndDay: time.Monday, End: 8 * time.Hour, Location: ams, Reason: "weekend"}},
		},
	}
	if diff := cmp.Diff(want, got, cmpLoc); diff != "" {
		t.Errorf("ParseConfig (-want +got):\n%s", diff)
	}
}

func TestParseConfigEmpty(t *testing.T) {
	for _, data := range []string{"", "# no rules yet\n", "~\n", "---\n"} {
		got, err := ParseConfig("changes.yml", []byte(data))
		if err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if diff := cmp.Diff(DefaultConfig(), got, cmpLoc); diff != "" {
			t.Errorf("%q (-want +got):\n%s", data, diff)
		}
	}
}

// TestParseConfigDefaults checks that environments without explicit rules
// take the project's approvals, and that the defaults follow approvals.
func TestParseConfigDefaults(t *testing.T) {
	got, err := ParseConfig("changes.yml", []byte("approvals: {required: 2, role: admin}\n"))
	if err != nil {
		t.Fatal(err)
	}
	env, ok := got.Environment(EnvProduction)
	if !ok {
		t.Fatal("no production")
	}
	if env.RequiredApprovals != 2 || env.ApproverRole != gantry.RoleAdmin {
		t.Errorf("production = %+v, want 2 approvals by an admin", env)
	}
	if env, _ := got.Environment(EnvStaging); env.RequiredApprovals != 0 {
		t.Errorf("staging needs %d approvals, want 0", env.RequiredApprovals)
	}
	if _, ok := got.Environment("qa"); ok {
		t.Error("found an environment that is not configured")
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string
	}{
		{"unknown top key", "classifcation: {}\n",
			[]string{`c.yml:1:1: unknown key "classifcation" at the top of the file: did you mean "classification"?`}},
		{"not a mapping", "- a\n",
			[]string{`c.yml:1:1: the file: expected a mapping, got a list`}},
		{"wrong types", "classification:\n  threshold: high\n  history_days: 1.5\n  size: {lines: -1, files: x}\n",
			[]string{
				`c.yml:2:14: classification.threshold: expected a number, got the string "high"`,
				`c.yml:3:17: classification.history_days: expected a whole number, got the number 1.5`,
				`c.yml:4:17: classification.size.lines: expected a whole number from 1 to 1000000, got -1`,
				`c.yml:4:28: classification.size.files: expected a whole number, got the string "x"`,
			}},
		{"weights", "classification:\n  weights: {szie: 1, freeze: -2, luck: 3, tests: .nan}\n",
			[]string{
				`c.yml:2:13: classification.weights: unknown risk factor "szie": did you mean "size"?`,
				`c.yml:2:30: classification.weights.freeze: expected a number from 0 to 1000000000, got -2`,
				`c.yml:2:34: classification.weights: unknown risk factor "luck"; expected size, sensitive_paths, tests, coverage, findings, author_history, incidents, time_of_day or freeze`,
				`c.yml:2:50: classification.weights.tests: expected a number, got the number .nan`,
			}},
		{"globs", "classification:\n  sensitive_paths:\n    auth: [\"a/[b\", \"/etc/**\", \"\"]\n    Bad: x\n",
			[]string{
				`c.yml:3:12: classification.sensitive_paths.auth: glob "a/[b": segment "[b" is malformed (an unclosed [ or a trailing \)`,
				`c.yml:3:20: classification.sensitive_paths.auth: glob "/etc/**": paths are relative to the repository, so it cannot start with /`,
				`c.yml:3:31: classification.sensitive_paths.auth: expected a path glob, got an empty string`,
				`c.yml:4:5: classification.sensitive_paths: category "Bad": expected a name of lowercase letters, digits, _ and -`,
			}},
		{"working hours", "classification:\n  working_hours: {days: [mon, fry], from: \"25:00\", to: \"8\", timezone: Mars/Olympus}\n",
			[]string{
				`c.yml:2:31: classification.working_hours.days[1]: unknown day "fry"; expected mon, tue, wed, thu, fri, sat or sun`,
				`c.yml:2:43: classification.working_hours.from: expected a time of day such as "08:00", got "25:00"`,
				`c.yml:2:56: classification.working_hours.to: expected a time of day such as "08:00", got "8"`,
				`c.yml:2:71: classification.working_hours.timezone: unknown time zone "Mars/Olympus": expected an IANA name such as UTC or Europe/Amsterdam`,
			}},
		{"working hours backwards", "classification:\n  working_hours: {from: \"18:00\", to: \"08:00\"}\n",
			[]string{`c.yml:2:38: classification.working_hours: to (08:00) must be later than from (18:00) on the same day`}},
		{"approvals", "approvals:\n  required: -1\n  role: boss\n  single_maintainer: \"\"\n  reviewers: 2\n",
			[]string{
				`c.yml:2:13: approvals.required: expected a whole number from 0 to 1000000, got -1`,
				`c.yml:3:9: approvals.role: unknown role "boss"; expected viewer, developer, approver or admin`,
				`c.yml:4:22: approvals.single_maintainer: expected the reason for the exception, got an empty string; remove the key for no exception`,
				`c.yml:5:3: unknown key "reviewers" under approvals; expected required, role or single_maintainer`,
			}},
		{"environments", "environments:\n  - name: prod\n  - name: prod\n    deployers: [\"role:god\"]\n  - deployers: [bob]\n  - name: Prod!\n    required_gates: [\"Commit\"]\n",
			[]string{
				`c.yml:3:11: environments[1].name: environment "prod" is already defined at line 2`,
				`c.yml:4:17: environments[1].deployers: unknown role "god" in "role:god"; expected role:viewer, role:developer, role:approver, role:admin`,
				`c.yml:5:5: environments[2]: expected a name`,
				`c.yml:6:11: environments[3].name: expected a name of lowercase letters, digits, _ and - (at most 63), got "Prod!"`,
				`c.yml:7:22: environments[3].required_gates: expected a stage name, got "Commit"`,
			}},
		{"freezes", "environments:\n  - name: production\n    freeze:\n      - {start: 2026-12-20, end: 2026-12-01}\n      - {start: tomorrow, end: 2026-12-01}\n      - {weekly: \"fri 16:00 - fri 16:00\"}\n      - {weekly: \"friday 4pm to monday\"}\n      - {weekly: \"fri 16:00 - mon 08:00\", start: 2026-12-20}\n      - {start: 2026-12-20}\n      - {weekly: \"fri 16:00 - mon 08:00\", timezone: Local}\n      - {}\n",
			[]string{
				`c.yml:4:34: environments[0].freeze[0].end: 2026-12-01T00:00:00Z is not after start 2026-12-20T00:00:00Z`,
				`c.yml:5:17: environments[0].freeze[1].start: expected a time such as 2026-12-20T00:00:00Z or 2026-12-20, got "tomorrow"`,
				`c.yml:6:18: environments[0].freeze[2].weekly: "fri 16:00 - fri 16:00" starts and ends at the same time; a freeze lasts less than a week`,
				`c.yml:7:18: environments[0].freeze[3].weekly: expected "DAY HH:MM - DAY HH:MM" such as "fri 16:00 - mon 08:00", got "friday 4pm to monday"`,
				`c.yml:8:50: environments[0].freeze[4]: a freeze window has either weekly or start and end, not both`,
				`c.yml:9:9: environments[0].freeze[5]: expected both start and end (times such as 2026-12-20T00:00:00Z), or weekly`,
				`c.yml:10:53: environments[0].freeze[6].timezone: expected an IANA time zone such as UTC or Europe/Amsterdam, got "Local"`,
				`c.yml:11:9: environments[0].freeze[7]: expected start and end, or weekly`,
			}},
		{"duplicate key", "approvals:\n  required: 1\n  required: 2\n",
			[]string{`c.yml:3:3: approvals: duplicate key "required": it is already set at line 2`}},
		{"syntax", "approvals:\n  role: approver\n required: 2\n",
			[]string{`c.yml:3: invalid YAML: did not find expected key: check the indentation of this line and the lines above it`}},
		{"two documents", "approvals: {}\n---\napprovals: {}\n",
			[]string{`c.yml:2:1: a second YAML document starts here: a change file holds one document, so remove this ---`}},
		{"control character", "approvals:\n  role: \x01\n",
			[]string{`c.yml:2:9: control character U+0001 is not allowed in YAML: remove it`}},
		{"alias cycle", "a: &a [*a]\n",
			[]string{`c.yml:1:8: alias *a is used inside the value it names, which would make it endless`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig("c.yml", []byte(tc.data))
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			if cfg != nil {
				t.Error("a config and an error")
			}
			if gantry.ErrorKind(err) != gantry.EInvalid {
				t.Errorf("kind %q, want %q", gantry.ErrorKind(err), gantry.EInvalid)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("%T is not an ErrorList", err)
			}
			if diff := cmp.Diff(tc.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigAliases(t *testing.T) {
	data := "x-freeze: &weekend {weekly: \"fri 16:00 - mon 08:00\", reason: weekend}\n" +
		"environments:\n  - name: staging\n    freeze: [*weekend]\n  - name: production\n    freeze: [{<<: *weekend, timezone: Europe/Amsterdam}]\n"
	cfg, err := ParseConfig("c.yml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"UTC", "Europe/Amsterdam"}
	for i, e := range cfg.Environments {
		if len(e.Weekly) != 1 || e.Weekly[0].Location.String() != want[i] || e.Weekly[0].Reason != "weekend" {
			t.Errorf("%s: weekly %+v", e.Name, e.Weekly)
		}
	}
}

func TestParseConfigTooBig(t *testing.T) {
	data := "x-a: &a [" + strings.Repeat("1,", 200) + "1]\nx-b: &b [" + strings.Repeat("*a,", 200) + "*a]\n"
	_, err := ParseConfig("c.yml", []byte(data))
	if err == nil || !strings.Contains(err.Error(), "once its aliases are expanded") {
		t.Errorf("err = %v, want too many values", err)
	}
	_, err = ParseConfig("c.yml", make([]byte, MaxConfigSize+1))
	if err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("err = %v, want too big", err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultConfig(), cfg, cmpLoc); diff != "" {
		t.Errorf("without a file (-want +got):\n%s", diff)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".gantry"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gantry", "changes.yml"), []byte("classification:\n  threshold: 60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err := LoadConfig(dir); err != nil || cfg.Threshold != 60 {
		t.Errorf("LoadConfig = %+v, %v; want threshold 60", cfg, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gantry", "changes.yml"), []byte("classification:\n  threshold: -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(dir)
	if want := ".gantry/changes.yml:2:14: classification.threshold: expected a number from 0 to 1000000000, got -1"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestFreezes(t *testing.T) {
	ams := mustLoc(t, "Europe/Amsterdam")
	cfg, err := ParseConfig("c.yml", []byte(`environments:
  - name: production
    freeze:
      - {start: 2026-12-20T00:00:00Z, end: 2027-01-04T00:00:00Z, reason: year-end}
      - {weekly: "fri 16:00 - mon 08:00", timezone: Europe/Amsterdam, reason: weekend}
  - name: staging
    freeze:
      - {weekly: "sat 00:00 - sat 24:00", reason: saturday}
      - {weekly: "wed 12:00 - wed 11:00", reason: almost-always}
`))
	if err != nil {
		t.Fatal(err)
	}
	yearEnd := gantry.FreezeWindow{Start: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC), Reason: "year-end"}
	weekend := func(y int, m time.Month, fri, mon int) gantry.FreezeWindow {
		return gantry.FreezeWindow{Start: time.Date(y, m, fri, 16, 0, 0, 0, ams), End: time.Date(y, m, mon, 8, 0, 0, 0, ams), Reason: "weekend"}
	}
	for _, tc := range []struct {
		name string
		env  string
		now  time.Time
		want []gantry.FreezeWindow
	}{
		{"midweek: the next weekend", "production", time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC),
			[]gantry.FreezeWindow{weekend(2026, 3, 6, 9), yearEnd}},
		{"saturday: this weekend", "production", time.Date(2026, 3, 7, 2, 10, 0, 0, time.UTC),
			[]gantry.FreezeWindow{weekend(2026, 3, 6, 9), yearEnd}},
		{"friday before the start", "production", time.Date(2026, 3, 6, 14, 59, 0, 0, time.UTC),
			[]gantry.FreezeWindow{weekend(2026, 3, 6, 9), yearEnd}},
		{"monday at the end: the next one", "production", time.Date(2026, 3, 9, 7, 0, 0, 0, time.UTC),
			[]gantry.FreezeWindow{weekend(2026, 3, 13, 16), yearEnd}},
		{"across daylight saving: wall clock kept", "production", time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC),
			[]gantry.FreezeWindow{weekend(2026, 3, 27, 30), yearEnd}},
		{"a whole day, and an almost whole week", "staging", time.Date(2026, 3, 4, 11, 30, 0, 0, time.UTC), // a Wednesday
			[]gantry.FreezeWindow{
				{Start: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 11, 11, 0, 0, 0, time.UTC), Reason: "almost-always"},
				{Start: time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), Reason: "saturday"},
			}},
		{"inside the almost whole week", "staging", time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC),
			[]gantry.FreezeWindow{
				{Start: time.Date(2026, 2, 25, 12, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC), Reason: "almost-always"},
				{Start: time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), Reason: "saturday"},
			}},
		{"unknown environment", "qa", time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cfg.Freezes(tc.env, tc.now)
			if diff := cmp.Diff(tc.want, got, cmpLoc); diff != "" {
				t.Errorf("Freezes (-want +got):\n%s", diff)
			}
		})
	}
	if n := len(cfg.Freezes("", time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC))); n != 4 {
		t.Errorf("all environments: %d windows, want 4", n)
	}
	if d := weekend(2026, 3, 27, 30); d.End.Sub(d.Start) != 63*time.Hour {
		t.Errorf("the weekend of the change to summer time lasts %v, want 63h", d.End.Sub(d.Start))
	}
}

func TestWorkingHours(t *testing.T) {
	wh := DefaultConfig().WorkingHours
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 3, 4, 8, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 3, 4, 17, 59, 59, 0, time.UTC), true},
		{time.Date(2026, 3, 4, 18, 0, 0, 0, time.UTC), false},
		{time.Date(2026, 3, 4, 7, 59, 0, 0, time.UTC), false},
		{time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC), false}, // Saturday
		{time.Date(2026, 3, 4, 9, 30, 0, 0, mustLoc(t, "America/New_York")), true},
	} {
		if got := wh.Contains(tc.at); got != tc.want {
			t.Errorf("Contains(%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
}
