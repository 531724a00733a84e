package change

import (
	"bytes"
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/yamlfile"
)

// Limits on a change file, which may come from an API call.
const (
	MaxConfigSize = 256 << 10 // bytes
	maxNodes      = 20000     // YAML values once aliases are expanded
)

var (
	categoryRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	envNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	stageRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// The keys of each mapping.
var (
	topKeys            = []string{"classification", "approvals", "environments"}
	classificationKeys = []string{"threshold", "weights", "size", "sensitive_paths", "working_hours", "history_days"}
	sizeKeys           = []string{"lines", "files"}
	hoursKeys          = []string{"days", "from", "to", "timezone"}
	approvalsKeys      = []string{"required", "role", "single_maintainer"}
	environmentKeys    = []string{"name", "deployers", "required_approvals", "approver_role", "required_gates", "freeze"}
	freezeKeys         = []string{"start", "end", "weekly", "timezone", "reason"}
)

// ParseConfig reads a change file. Empty data, or a file of comments
// only, gives the defaults. Every key is optional:
//
//	classification:
//	  threshold: 40            # the score from which a change is normal
//	  weights: {size: 20, sensitive_paths: 40, tests: 40, coverage: 15, findings: 40,
//	            author_history: 15, incidents: 15, time_of_day: 10, freeze: 50}
//	  size: {lines: 400, files: 20}       # as big as this scores the full size weight
//	  sensitive_paths:                    # category: [globs]; replaces the default
//	    auth: ["**/auth/**"]              #   category it names ([] removes it);
//	    migrations: ["db/**/*.sql"]       #   delivery only adds to its defaults
//	  working_hours: {days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00", timezone: UTC}
//	  history_days: 30
//	approvals:
//	  required: 1              # approvals a normal change needs, by default
//	  role: approver           # the least role of an approver, by default
//	  single_maintainer: "why authors may approve their own changes"
//	environments:              # replaces acceptance, staging and production
//	  - name: production
//	    deployers: ["role:developer", "alice"]
//	    required_approvals: 1  # default approvals.required
//	    approver_role: approver  # default approvals.role
//	    required_gates: [commit]
//	    freeze:
//	      - {start: 2026-12-20T00:00:00Z, end: 2027-01-04T00:00:00Z, reason: year-end}
//	      - {weekly: "fri 16:00 - mon 08:00", timezone: Europe/Amsterdam, reason: weekend}
//
// A file with mistakes returns an ErrorList (gantry.EInvalid) with every
// mistake found, each as "name:line:col: what was expected".
func ParseConfig(name string, data []byte) (*Config, error) {
	d := &decoder{Reporter: yamlfile.Reporter{File: name}, data: data}
	cfg := d.parse(data)
	if err := d.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Error is one problem in a change file, at the position where it was
// found: "file:line:col: msg". It is gantry.EInvalid.
type Error = yamlfile.Error

// ErrorList is every problem found in a change file, sorted by position.
// It is gantry.EInvalid.
type ErrorList = yamlfile.ErrorList

// decoder turns the YAML node tree into a Config, collecting every error
// on the way instead of stopping at the first.
type decoder struct {
	yamlfile.Reporter
	data []byte
}

func (d *decoder) parse(data []byte) *Config {
	if len(data) > MaxConfigSize {
		d.ErrorAt(1, 1, "the file is %d bytes, more than the %d a change file may have", len(data), MaxConfigSize)
		return nil
	}
	if !d.CheckText(data, "a change file") {
		return nil
	}
	root, ok := d.document(data)
	if !ok {
		return nil
	}
	cfg := DefaultConfig()
	if root == nil {
		return cfg
	}
	if !d.CheckSize(root, maxNodes) {
		return nil
	}
	var envs *yaml.Node
	for _, e := range d.fields(root, "the file", "at the top of the file", topKeys) {
		switch e.key.Value {
		case "classification":
			d.classification(e.val, cfg)
		case "approvals":
			d.approvals(e.val, cfg)
		case "environments":
			envs = e.val
		}
	}
	if envs != nil {
		cfg.Environments = d.environments(envs, cfg.Approvals)
	} else {
		cfg.Environments = defaultEnvironments(cfg.Approvals)
	}
	return cfg
}

// document parses the only YAML document of data and returns its root, or
// nil when the file holds nothing.
func (d *decoder) document(data []byte) (*yaml.Node, bool) {
	root, second, err := yamlfile.Document(data)
	switch {
	case err != nil:
		d.syntaxError(err)
		return nil, false
	case second != nil:
		d.Errorf(second, "a second YAML document starts here: a change file holds one document, so remove this ---")
		return nil, false
	}
	return root, true
}

func (d *decoder) syntaxError(err error) {
	line, msg := yamlfile.SplitError(err)
	line = d.problemLine(msg, max(line, 1))
	switch {
	case strings.Contains(msg, "mapping values are not allowed"):
		msg += `: a value that contains ": " must be quoted`
	case strings.Contains(msg, "did not find expected key"), strings.Contains(msg, "expected '-' indicator"):
		msg += ": check the indentation of this line and the lines above it"
	case strings.Contains(msg, "tab character") || strings.Contains(msg, "cannot start any token"):
		msg += ": YAML is indented with spaces, not tabs, and a value starting with @ or ` must be quoted"
	}
	d.ErrorAt(line, 0, "invalid YAML: %s", msg)
}

// problemLine returns the first line, from line on, such that the file
// cut after it fails with the same message. The parser names the line of
// the construct it was reading, which is often before the mistake. A
// budget of bytes to parse bounds the cost on a large hostile file.
func (d *decoder) problemLine(msg string, line int) int {
	budget := 4 * MaxConfigSize
	end := 0 // the offset after line k
	for k := 1; end < len(d.data); k++ {
		i := bytes.IndexByte(d.data[end:], '\n')
		if i < 0 {
			end = len(d.data)
		} else {
			end += i + 1
		}
		if k < line {
			continue
		}
		if budget -= end; budget < 0 {
			break
		}
		if err := yamlfile.ParseAll(d.data[:end]); err != nil {
			if _, m := yamlfile.SplitError(err); m == msg {
				return k
			}
		}
	}
	return line
}

// orList writes "a, b or c".
func orList(items []string) string { return yamlfile.OrList(items) }

type entry struct {
	key, val *yaml.Node
	merged   bool // it came in through a << merge key
}

// mapping checks that n is a mapping and returns its entries, with merge
// keys (<<) expanded and duplicate keys reported.
func (d *decoder) mapping(n *yaml.Node, key string) []entry {
	m := yamlfile.Resolve(n)
	if m.Kind != yaml.MappingNode {
		d.Errorf(n, "%s: expected a mapping, got %s", key, yamlfile.DescribeUntagged(n))
		return nil
	}
	seen := map[string]*yaml.Node{}
	var out []entry
	for _, e := range d.entries(m, false, 0) {
		if prev, dup := seen[e.key.Value]; dup {
			if !e.merged {
				d.Errorf(e.key, "%s: duplicate key %q: it is already set at line %d", key, e.key.Value, prev.Line)
			}
			continue
		}
		seen[e.key.Value] = e.key
		out = append(out, e)
	}
	return out
}

// entries lists a mapping's own keys, then those merged in by <<, so that
// own keys win.
func (d *decoder) entries(m *yaml.Node, merged bool, depth int) []entry {
	var own, more []entry
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := yamlfile.Resolve(m.Content[i]), m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			if depth > 10 {
				d.Errorf(k, "<<: merges nested more than 10 deep")
				continue
			}
			for _, src := range mergeSources(v) {
				if src.Kind != yaml.MappingNode {
					d.Errorf(v, "<<: expected a mapping or a list of mappings to merge, got %s", yamlfile.DescribeUntagged(src))
					continue
				}
				more = append(more, d.entries(src, true, depth+1)...)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.Errorf(k, "expected a key name, got %s", yamlfile.DescribeUntagged(k))
			continue
		}
		own = append(own, entry{key: k, val: v, merged: merged})
	}
	return append(own, more...)
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	r := yamlfile.Resolve(v)
	if r.Kind != yaml.SequenceNode {
		return []*yaml.Node{r}
	}
	out := make([]*yaml.Node, len(r.Content))
	for i, c := range r.Content {
		out[i] = yamlfile.Resolve(c)
	}
	return out
}

// fields is mapping for a fixed set of keys: it reports the others, with
// the key the user probably meant.
func (d *decoder) fields(n *yaml.Node, key, where string, known []string) []entry {
	var out []entry
	for _, e := range d.mapping(n, key) {
		k := e.key.Value
		switch {
		case slices.Contains(known, k):
			out = append(out, e)
		case where == "at the top of the file" && strings.HasPrefix(k, "x-"):
			// Ignored: a place for anchors, as in pipeline files.
		default:
			if s := yamlfile.Suggest(k, known); s != "" {
				d.Errorf(e.key, "unknown key %q %s: did you mean %q?", k, where, s)
			} else {
				d.Errorf(e.key, "unknown key %q %s; expected %s", k, where, orList(known))
			}
		}
	}
	return out
}

// list checks that n is a list and returns its items.
func (d *decoder) list(n *yaml.Node, key string) []*yaml.Node {
	r := yamlfile.Resolve(n)
	if r.Kind != yaml.SequenceNode {
		d.Errorf(n, "%s: expected a list, got %s", key, yamlfile.DescribeUntagged(n))
		return nil
	}
	return r.Content
}

// str reads a string. Numbers, booleans and dates are taken as written.
func (d *decoder) str(n *yaml.Node, key string) (string, bool) {
	r := yamlfile.Resolve(n)
	if r.Kind == yaml.ScalarNode {
		switch r.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
			return r.Value, true
		}
	}
	d.Errorf(n, "%s: expected a string, got %s", key, yamlfile.DescribeUntagged(n))
	return "", false
}

// strs reads a string or a list of strings, with the node of each.
func (d *decoder) strs(n *yaml.Node, key string) ([]string, []*yaml.Node) {
	r := yamlfile.Resolve(n)
	if r.Kind == yaml.ScalarNode && r.ShortTag() != "!!null" {
		if s, ok := d.str(n, key); ok {
			return []string{s}, []*yaml.Node{n}
		}
		return nil, nil
	}
	if r.Kind != yaml.SequenceNode {
		d.Errorf(n, "%s: expected a list of strings, got %s", key, yamlfile.DescribeUntagged(n))
		return nil, nil
	}
	out, nodes := []string{}, []*yaml.Node{}
	for i, item := range r.Content {
		if s, ok := d.str(item, fmt.Sprintf("%s[%d]", key, i)); ok {
			out = append(out, s)
			nodes = append(nodes, item)
		}
	}
	return out, nodes
}

// number reads a number of at least lowest.
func (d *decoder) number(n *yaml.Node, key string, lowest float64) (float64, bool) {
	r := yamlfile.Resolve(n)
	var f float64
	if r.Kind != yaml.ScalarNode || (r.ShortTag() != "!!int" && r.ShortTag() != "!!float") || r.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.Errorf(n, "%s: expected a number, got %s", key, yamlfile.DescribeUntagged(n))
		return 0, false
	}
	if f < lowest || f > 1e9 {
		d.Errorf(n, "%s: expected a number from %s to 1000000000, got %s", key, fmtNum(lowest), r.Value)
		return 0, false
	}
	return f, true
}

// integer reads a whole number from lowest to 1000000.
func (d *decoder) integer(n *yaml.Node, key string, lowest int) (int, bool) {
	r := yamlfile.Resolve(n)
	var i int64
	if r.Kind != yaml.ScalarNode || r.ShortTag() != "!!int" || r.Decode(&i) != nil {
		d.Errorf(n, "%s: expected a whole number, got %s", key, yamlfile.DescribeUntagged(n))
		return 0, false
	}
	if i < int64(lowest) || i > 1e6 {
		d.Errorf(n, "%s: expected a whole number from %d to 1000000, got %s", key, lowest, r.Value)
		return 0, false
	}
	return int(i), true
}

func (d *decoder) role(n *yaml.Node, key string) (gantry.Role, bool) {
	s, ok := d.str(n, key)
	if !ok {
		return "", false
	}
	if roleRank(gantry.Role(s)) < 0 {
		d.Errorf(n, "%s: unknown role %q; expected %s", key, s, orList(roles))
		return "", false
	}
	return gantry.Role(s), true
}

func (d *decoder) location(n *yaml.Node, key string) (*time.Location, bool) {
	s, ok := d.str(n, key)
	if !ok {
		return nil, false
	}
	// Local would be the zone of whichever machine reads the file.
	if s == "" || s == "Local" {
		d.Errorf(n, "%s: expected an IANA time zone such as UTC or Europe/Amsterdam, got %q", key, s)
		return nil, false
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		d.Errorf(n, "%s: unknown time zone %q: expected an IANA name such as UTC or Europe/Amsterdam", key, s)
		return nil, false
	}
	return loc, true
}

func (d *decoder) classification(n *yaml.Node, cfg *Config) {
	for _, e := range d.fields(n, "classification", "under classification", classificationKeys) {
		key := "classification." + e.key.Value
		switch e.key.Value {
		case "threshold":
			if f, ok := d.number(e.val, key, 0); ok {
				cfg.Threshold = f
			}
		case "weights":
			for _, w := range d.mapping(e.val, key) {
				name := w.key.Value
				if !slices.Contains(Factors, name) {
					if s := yamlfile.Suggest(name, Factors); s != "" {
						d.Errorf(w.key, "%s: unknown risk factor %q: did you mean %q?", key, name, s)
					} else {
						d.Errorf(w.key, "%s: unknown risk factor %q; expected %s", key, name, orList(Factors))
					}
					continue
				}
				if f, ok := d.number(w.val, key+"."+name, 0); ok {
					cfg.Weights[name] = f
				}
			}
		case "size":
			for _, s := range d.fields(e.val, key, "under classification.size", sizeKeys) {
				v, ok := d.integer(s.val, key+"."+s.key.Value, 1)
				switch {
				case !ok:
				case s.key.Value == "lines":
					cfg.SizeLines = v
				default:
					cfg.SizeFiles = v
				}
			}
		case "sensitive_paths":
			d.sensitive(e.val, key, cfg)
		case "working_hours":
			d.workingHours(e.val, key, cfg)
		case "history_days":
			if v, ok := d.integer(e.val, key, 1); ok {
				cfg.HistoryDays = v
			}
		}
	}
}

func (d *decoder) sensitive(n *yaml.Node, key string, cfg *Config) {
	for _, e := range d.mapping(n, key) {
		cat := e.key.Value
		if !categoryRE.MatchString(cat) || len(cat) > 63 {
			d.Errorf(e.key, "%s: category %q: expected a name of lowercase letters, digits, _ and -", key, cat)
			continue
		}
		globs, nodes := d.strs(e.val, key+"."+cat)
		valid := true
		for i, g := range globs {
			if msg := checkGlob(g); msg != "" {
				d.Errorf(nodes[i], "%s.%s: %s", key, cat, msg)
				valid = false
			}
		}
		if !valid {
			continue
		}
		if cat == DeliveryCategory {
			// A change may not make changes to its own rules look safe.
			for _, g := range globs {
				if !slices.Contains(cfg.SensitivePaths[cat], g) {
					cfg.SensitivePaths[cat] = append(cfg.SensitivePaths[cat], g)
				}
			}
			continue
		}
		cfg.SensitivePaths[cat] = globs
	}
}

// checkGlob says what is wrong with a path glob, or "".
func checkGlob(g string) string {
	switch {
	case g == "":
		return "expected a path glob, got an empty string"
	case strings.HasPrefix(g, "/"):
		return fmt.Sprintf("glob %q: paths are relative to the repository, so it cannot start with /", g)
	}
	for _, seg := range strings.Split(g, "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Sprintf("glob %q: segment %q is malformed (an unclosed [ or a trailing \\)", g, seg)
		}
	}
	return ""
}

func (d *decoder) workingHours(n *yaml.Node, key string, cfg *Config) {
	wh := &cfg.WorkingHours
	var from, to *yaml.Node
	for _, e := range d.fields(n, key, "under classification.working_hours", hoursKeys) {
		k := key + "." + e.key.Value
		switch e.key.Value {
		case "days":
			items := d.list(e.val, k)
			days := []time.Weekday{}
			for i, item := range items {
				s, ok := d.str(item, fmt.Sprintf("%s[%d]", k, i))
				if !ok {
					continue
				}
				day, ok := parseDay(s)
				if !ok {
					d.Errorf(item, "%s[%d]: unknown day %q; expected mon, tue, wed, thu, fri, sat or sun", k, i, s)
					continue
				}
				if !slices.Contains(days, day) {
					days = append(days, day)
				}
			}
			if items != nil {
				wh.Days = days
			}
		case "from", "to":
			s, ok := d.str(e.val, k)
			if !ok {
				continue
			}
			t, ok := parseClock(s, e.key.Value == "to")
			if !ok {
				d.Errorf(e.val, `%s: expected a time of day such as "08:00", got %q`, k, s)
				continue
			}
			if e.key.Value == "from" {
				wh.From, from = t, e.val
			} else {
				wh.To, to = t, e.val
			}
		case "timezone":
			if loc, ok := d.location(e.val, k); ok {
				wh.Location = loc
			}
		}
	}
	if wh.To <= wh.From {
		at := n
		if to != nil {
			at = to
		} else if from != nil {
			at = from
		}
		d.Errorf(at, "%s: to (%s) must be later than from (%s) on the same day", key, clock(wh.To), clock(wh.From))
	}
}

func parseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, name := range dayNames {
		full := strings.ToLower(time.Weekday(i).String())
		if s == name || s == full {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// parseClock reads "HH:MM"; "24:00" only as an end.
func parseClock(s string, end bool) (time.Duration, bool) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && (mm != 0 || !end)) {
		return 0, false
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
}

func (d *decoder) approvals(n *yaml.Node, cfg *Config) {
	for _, e := range d.fields(n, "approvals", "under approvals", approvalsKeys) {
		key := "approvals." + e.key.Value
		switch e.key.Value {
		case "required":
			if v, ok := d.integer(e.val, key, 0); ok {
				cfg.Approvals.Required = v
			}
		case "role":
			if r, ok := d.role(e.val, key); ok {
				cfg.Approvals.Role = r
			}
		case "single_maintainer":
			if s, ok := d.str(e.val, key); ok {
				s = strings.TrimSpace(s)
				if s == "" {
					d.Errorf(e.val, "%s: expected the reason for the exception, got an empty string; remove the key for no exception", key)
					continue
				}
				cfg.Approvals.SingleMaintainer = s
			}
		}
	}
}

func (d *decoder) environments(n *yaml.Node, a ApprovalRules) []EnvironmentConfig {
	out := []EnvironmentConfig{}
	seen := map[string]int{}
	for i, item := range d.list(n, "environments") {
		key := fmt.Sprintf("environments[%d]", i)
		env := EnvironmentConfig{Environment: gantry.Environment{RequiredApprovals: a.Required, ApproverRole: a.Role}}
		var named bool
		for _, e := range d.fields(item, key, "in an environment", environmentKeys) {
			k := key + "." + e.key.Value
			switch e.key.Value {
			case "name":
				named = true
				s, ok := d.str(e.val, k)
				if !ok {
					continue
				}
				if !envNameRE.MatchString(s) || len(s) > 63 {
					d.Errorf(e.val, "%s: expected a name of lowercase letters, digits, _ and - (at most 63), got %q", k, s)
					continue
				}
				if line, dup := seen[s]; dup {
					d.Errorf(e.val, "%s: environment %q is already defined at line %d", k, s, line)
					continue
				}
				seen[s] = e.val.Line
				env.Name = s
			case "deployers":
				list, nodes := d.strs(e.val, k)
				for j, s := range list {
					if r, ok := strings.CutPrefix(s, "role:"); ok && roleRank(gantry.Role(r)) < 0 {
						d.Errorf(nodes[j], "%s: unknown role %q in %q; expected role:%s", k, r, s, strings.Join(roles, ", role:"))
					} else if strings.TrimSpace(s) == "" {
						d.Errorf(nodes[j], "%s: expected a user name or role:NAME, got an empty string", k)
					}
				}
				env.Deployers = list
			case "required_approvals":
				if v, ok := d.integer(e.val, k, 0); ok {
					env.RequiredApprovals = v
				}
			case "approver_role":
				if r, ok := d.role(e.val, k); ok {
					env.ApproverRole = r
				}
			case "required_gates":
				list, nodes := d.strs(e.val, k)
				for j, s := range list {
					if !stageRE.MatchString(s) {
						d.Errorf(nodes[j], "%s: expected a stage name, got %q", k, s)
					}
				}
				env.RequiredGates = list
			case "freeze":
				for j, f := range d.list(e.val, k) {
					d.freeze(f, fmt.Sprintf("%s[%d]", k, j), &env)
				}
			}
		}
		if !named && yamlfile.Resolve(item).Kind == yaml.MappingNode {
			d.Errorf(item, "%s: expected a name", key)
		}
		out = append(out, env)
	}
	return out
}

func (d *decoder) freeze(n *yaml.Node, key string, env *EnvironmentConfig) {
	entries := d.fields(n, key, "in a freeze window", freezeKeys)
	if entries == nil {
		if yamlfile.Resolve(n).Kind == yaml.MappingNode {
			d.Errorf(n, "%s: expected start and end, or weekly", key)
		}
		return
	}
	byKey := map[string]*yaml.Node{}
	for _, e := range entries {
		byKey[e.key.Value] = e.val
	}
	loc := time.UTC
	if v := byKey["timezone"]; v != nil {
		l, ok := d.location(v, key+".timezone")
		if !ok {
			return
		}
		loc = l
	}
	reason := ""
	if v := byKey["reason"]; v != nil {
		reason, _ = d.str(v, key+".reason")
	}
	start, end, weekly := byKey["start"], byKey["end"], byKey["weekly"]
	switch {
	case weekly != nil && (start != nil || end != nil):
		at := start
		if at == nil {
			at = end
		}
		d.Errorf(at, "%s: a freeze window has either weekly or start and end, not both", key)
	case weekly != nil:
		s, ok := d.str(weekly, key+".weekly")
		if !ok {
			return
		}
		w, msg := parseWeekly(s)
		if msg != "" {
			d.Errorf(weekly, "%s.weekly: %s", key, msg)
			return
		}
		w.Location, w.Reason = loc, reason
		env.Weekly = append(env.Weekly, w)
	case start == nil || end == nil:
		d.Errorf(n, "%s: expected both start and end (times such as 2026-12-20T00:00:00Z), or weekly", key)
	default:
		s, ok1 := d.instant(start, key+".start", loc)
		e, ok2 := d.instant(end, key+".end", loc)
		if !ok1 || !ok2 {
			return
		}
		if !e.After(s) {
			d.Errorf(end, "%s.end: %s is not after start %s", key, e.Format(time.RFC3339), s.Format(time.RFC3339))
			return
		}
		env.FreezeWindows = append(env.FreezeWindows, gantry.FreezeWindow{Start: s, End: e, Reason: reason})
	}
}

// instant reads an RFC 3339 time, or a date or "date hh:mm" in loc.
func (d *decoder) instant(n *yaml.Node, key string, loc *time.Location) (time.Time, bool) {
	s, ok := d.str(n, key)
	if !ok {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	d.Errorf(n, "%s: expected a time such as 2026-12-20T00:00:00Z or 2026-12-20, got %q", key, s)
	return time.Time{}, false
}

// parseWeekly reads "fri 16:00 - mon 08:00", or says what is wrong.
func parseWeekly(s string) (WeeklyFreeze, string) {
	const want = `expected "DAY HH:MM - DAY HH:MM" such as "fri 16:00 - mon 08:00", got `
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return WeeklyFreeze{}, want + strconv.Quote(s)
	}
	var w WeeklyFreeze
	for i, part := range []string{a, b} {
		f := strings.Fields(part)
		if len(f) != 2 {
			return WeeklyFreeze{}, want + strconv.Quote(s)
		}
		day, ok := parseDay(f[0])
		if !ok {
			return WeeklyFreeze{}, fmt.Sprintf("unknown day %q; expected mon, tue, wed, thu, fri, sat or sun", f[0])
		}
		t, ok := parseClock(f[1], i == 1)
		if !ok {
			return WeeklyFreeze{}, fmt.Sprintf(`expected a time of day such as "16:00", got %q`, f[1])
		}
		if i == 0 {
			w.StartDay, w.Start = day, t
		} else {
			w.EndDay, w.End = day, t
		}
	}
	if w.End == 24*time.Hour {
		w.EndDay, w.End = (w.EndDay+1)%7, 0
	}
	if w.StartDay == w.EndDay && w.Start == w.End {
		return WeeklyFreeze{}, fmt.Sprintf("%q starts and ends at the same time; a freeze lasts less than a week", s)
	}
	return w, ""
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
