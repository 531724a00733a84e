// Package change is Gantry's change management: it reads a project's
// change rules, classifies a change as standard, normal or urgent from its
// evidence with a risk score that explains itself, checks approvals and
// decides whether a change may enter an environment. In local mode it
// reads the change from git.
//
// The package decides from facts it is given; it runs no policy itself,
// so that the server can use it without the policy engine.
package change

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	// A change file names IANA time zones; a server in a minimal image
	// has no zoneinfo, and the same file must not mean something else
	// there.
	_ "time/tzdata"

	"gantry.dev/gantry"
)

// ConfigPath is where a repository keeps its change rules in local mode,
// relative to its root.
const ConfigPath = ".gantry/changes.yml"

// The names of the risk factors, in the order a classification lists them.
const (
	FactorSize          = "size"
	FactorSensitive     = "sensitive_paths"
	FactorTests         = "tests"
	FactorCoverage      = "coverage"
	FactorFindings      = "findings"
	FactorAuthorHistory = "author_history"
	FactorIncidents     = "incidents"
	FactorTimeOfDay     = "time_of_day"
	FactorFreeze        = "freeze"
)

// Factors are the names of the risk factors, in the order a
// classification lists them.
var Factors = []string{
	FactorSize, FactorSensitive, FactorTests, FactorCoverage, FactorFindings,
	FactorAuthorHistory, FactorIncidents, FactorTimeOfDay, FactorFreeze,
}

// DeliveryCategory is the sensitive-path category of a project's own
// delivery rules. A change to them is always sensitive: a configuration
// can add paths to it but not remove the default ones.
const DeliveryCategory = "delivery"

// Config is a project's change management: .gantry/changes.yml in local
// mode, Project.Changes on a server. ParseConfig documents its YAML.
type Config struct {
	// Threshold is the risk score from which a change is normal.
	Threshold float64
	// Weights are the most each factor adds to the score, by factor name.
	Weights map[string]float64
	// SizeLines and SizeFiles are how big a change must be to score the
	// whole size weight.
	SizeLines, SizeFiles int
	// SensitivePaths are path globs (internal/glob) by category.
	SensitivePaths map[string][]string
	WorkingHours   WorkingHours
	// HistoryDays is how far back an author's changes and a service's
	// incidents count.
	HistoryDays  int
	Approvals    ApprovalRules
	Environments []EnvironmentConfig
}

// WorkingHours are when changes are expected: a change classified outside
// them scores the time_of_day weight.
type WorkingHours struct {
	Days []time.Weekday
	// From and To are times of day, as offsets from midnight: [From, To).
	From, To time.Duration
	Location *time.Location
}

// Contains reports whether t falls inside the working hours.
func (w WorkingHours) Contains(t time.Time) bool {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	if !slices.Contains(w.Days, t.Weekday()) {
		return false
	}
	d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
	return d >= w.From && d < w.To
}

// ApprovalRules say who approves normal changes.
type ApprovalRules struct {
	// Required is how many approvals an environment needs unless it says
	// otherwise.
	Required int
	// Role is the least role an approver needs unless an environment says
	// otherwise.
	Role gantry.Role
	// SingleMaintainer, when set, is the documented reason why authors
	// may approve their own changes. Every such approval records it.
	SingleMaintainer string
}

// EnvironmentConfig is an environment with its protection rules, including
// the weekly freezes that gantry.Environment cannot hold.
type EnvironmentConfig struct {
	gantry.Environment
	Weekly []WeeklyFreeze
}

// WeeklyFreeze is a freeze that comes back every week, such as
// "fri 16:00 - mon 08:00" in a time zone.
type WeeklyFreeze struct {
	StartDay, EndDay time.Weekday
	// Start and End are times of day, as offsets from midnight.
	Start, End time.Duration
	Location   *time.Location
	Reason     string
}

// span is how long one occurrence lasts, from its start day and time to
// its end day and time, counted in days and a time of day so that it
// keeps to the wall clock across daylight saving changes.
func (w WeeklyFreeze) span() (days int, end time.Duration) {
	days = (int(w.EndDay) - int(w.StartDay) + 7) % 7
	if days == 0 && w.End <= w.Start {
		days = 7
	}
	return days, w.End
}

// occurrence returns the occurrence that contains now, or the next one.
func (w WeeklyFreeze) occurrence(now time.Time) gantry.FreezeWindow {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	back := (int(local.Weekday()) - int(w.StartDay) + 7) % 7
	at := func(y int, m time.Month, d int, off time.Duration) time.Time {
		return time.Date(y, m, d, int(off/time.Hour), int(off%time.Hour/time.Minute), 0, 0, loc)
	}
	days, end := w.span()
	y, m, d := local.Date()
	// The latest start on or before now's date, then the one before it
	// when that start is still ahead of now on the same day.
	for _, offset := range []int{-back - 7, -back, -back + 7} {
		s := at(y, m, d+offset, w.Start)
		e := at(y, m, d+offset+days, end)
		if now.Before(e) {
			return gantry.FreezeWindow{Start: s, End: e, Reason: w.Reason}
		}
	}
	s := at(y, m, d-back+14, w.Start) // not reached: the third start is after now
	return gantry.FreezeWindow{Start: s, End: at(y, m, d-back+14+days, end), Reason: w.Reason}
}

// String writes the rule as a weekly: value is written.
func (w WeeklyFreeze) String() string {
	return fmt.Sprintf("%s %s - %s %s", dayNames[w.StartDay], clock(w.Start), dayNames[w.EndDay], clock(w.End))
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// Default values of a Config.
var defaultWeights = map[string]float64{
	FactorSize: 20, FactorSensitive: 40, FactorTests: 40, FactorCoverage: 15,
	FactorFindings: 40, FactorAuthorHistory: 15, FactorIncidents: 15,
	FactorTimeOfDay: 10, FactorFreeze: 50,
}

var defaultSensitive = map[string][]string{
	"auth":           {"**/auth/**", "**/*login*", "**/*password*"},
	"migrations":     {"**/migrations/**", "**/*.sql"},
	"infrastructure": {"**/*.tf", "**/Dockerfile", "k8s/**", "deploy/**"},
	DeliveryCategory: {".gantry.yml", ".gantry/**", "**/.gantry.yml", ".ci/**"},
}

// The names of the default environments.
const (
	EnvAcceptance = "acceptance"
	EnvStaging    = "staging"
	EnvProduction = "production"
)

// DefaultConfig returns the rules of a project that has none: threshold
// 40, the default weights and sensitive paths, working hours Monday to
// Friday 08:00–18:00 UTC, 30 days of history, one approval by an approver,
// and acceptance, staging and production of which production needs the
// approval.
func DefaultConfig() *Config {
	c := &Config{
		Threshold:      40,
		Weights:        map[string]float64{},
		SizeLines:      400,
		SizeFiles:      20,
		SensitivePaths: map[string][]string{},
		WorkingHours: WorkingHours{
			Days:     []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
			From:     8 * time.Hour,
			To:       18 * time.Hour,
			Location: time.UTC,
		},
		HistoryDays: 30,
		Approvals:   ApprovalRules{Required: 1, Role: gantry.RoleApprover},
	}
	for k, v := range defaultWeights {
		c.Weights[k] = v
	}
	for k, v := range defaultSensitive {
		c.SensitivePaths[k] = slices.Clone(v)
	}
	c.Environments = defaultEnvironments(c.Approvals)
	return c
}

func defaultEnvironments(a ApprovalRules) []EnvironmentConfig {
	return []EnvironmentConfig{
		{Environment: gantry.Environment{Name: EnvAcceptance, ApproverRole: a.Role}},
		{Environment: gantry.Environment{Name: EnvStaging, ApproverRole: a.Role}},
		{Environment: gantry.Environment{Name: EnvProduction, RequiredApprovals: a.Required, ApproverRole: a.Role}},
	}
}

// LoadConfig reads dir/.gantry/changes.yml, or returns the defaults when
// the file does not exist.
func LoadConfig(dir string) (*Config, error) {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ConfigPath)))
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultConfig(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("load change rules: %w", err)
	}
	return ParseConfig(ConfigPath, data)
}

// EnvironmentNames lists the configured environments, in order.
func (c *Config) EnvironmentNames() []string {
	names := make([]string, len(c.Environments))
	for i, e := range c.Environments {
		names[i] = e.Name
	}
	return names
}

func (c *Config) environment(name string) *EnvironmentConfig {
	for i := range c.Environments {
		if c.Environments[i].Name == name {
			return &c.Environments[i]
		}
	}
	return nil
}

// Environment returns a copy of the environment called name with its
// absolute freeze windows; Freezes also expands its weekly ones.
func (c *Config) Environment(name string) (*gantry.Environment, bool) {
	e := c.environment(name)
	if e == nil {
		return nil, false
	}
	env := e.Environment
	env.Deployers = slices.Clone(env.Deployers)
	env.RequiredGates = slices.Clone(env.RequiredGates)
	env.FreezeWindows = slices.Clone(env.FreezeWindows)
	if env.ApproverRole == "" {
		env.ApproverRole = c.approverRole()
	}
	return &env, true
}

func (c *Config) approverRole() gantry.Role {
	if c.Approvals.Role == "" {
		return gantry.RoleApprover
	}
	return c.Approvals.Role
}

// Freezes returns the freeze windows of the environment env, or of every
// environment when env is "": its absolute windows, and each weekly rule's
// occurrence that contains now or else the next one, sorted by start.
func (c *Config) Freezes(env string, now time.Time) []gantry.FreezeWindow {
	var out []gantry.FreezeWindow
	for _, e := range c.Environments {
		if env != "" && e.Name != env {
			continue
		}
		out = append(out, e.FreezeWindows...)
		for _, w := range e.Weekly {
			out = append(out, w.occurrence(now))
		}
	}
	slices.SortStableFunc(out, func(a, b gantry.FreezeWindow) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return a.End.Compare(b.End)
	})
	return out
}

// sensitiveCategories lists the categories, sorted.
func (c *Config) sensitiveCategories() []string {
	cats := make([]string, 0, len(c.SensitivePaths))
	for k, globs := range c.SensitivePaths {
		if len(globs) > 0 {
			cats = append(cats, k)
		}
	}
	slices.Sort(cats)
	return cats
}

// roleRank orders the roles; an unknown role ranks below all.
func roleRank(r gantry.Role) int {
	switch r {
	case gantry.RoleViewer:
		return 0
	case gantry.RoleDeveloper:
		return 1
	case gantry.RoleApprover:
		return 2
	case gantry.RoleAdmin:
		return 3
	}
	return -1
}

var roles = []string{string(gantry.RoleViewer), string(gantry.RoleDeveloper), string(gantry.RoleApprover), string(gantry.RoleAdmin)}

// atLeast reports whether r includes the rights of need.
func atLeast(r, need gantry.Role) bool {
	return roleRank(r) >= 0 && roleRank(r) >= roleRank(need)
}

func sameName(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
