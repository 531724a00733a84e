package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// Schedule runs a project's pipeline on a cron schedule.
type Schedule struct {
	Project string
	Branch  string // "" for the project's default branch
	Spec    string // five fields: minute hour day-of-month month day-of-week
	cron    *cron
}

// ParseSchedule reads "PROJECT=SPEC" or "PROJECT@BRANCH=SPEC", such as
// "shop=0 3 * * 1-5" (03:00 on weekdays, UTC).
func ParseSchedule(s string) (*Schedule, error) {
	target, spec, ok := strings.Cut(s, "=")
	if !ok {
		return nil, gantry.Errorf(gantry.EInvalid, "schedule %q: expected PROJECT=CRON, such as shop=0 3 * * *", s)
	}
	project, branch, _ := strings.Cut(strings.TrimSpace(target), "@")
	if !validName(project) {
		return nil, gantry.Errorf(gantry.EInvalid, "schedule %q: %q is not a project name", s, project)
	}
	c, err := parseCron(spec)
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "schedule %q: %v", s, err)
	}
	return &Schedule{Project: project, Branch: branch, Spec: strings.Join(strings.Fields(spec), " "), cron: c}, nil
}

// Next returns the first minute after t that the schedule fires at, in
// UTC.
func (sc *Schedule) Next(t time.Time) time.Time { return sc.cron.next(t) }

// cron is a parsed five-field cron expression: the allowed values of each
// field as bit sets.
type cron struct {
	minute, hour, dom, month, dow uint64
	domStar, dowStar              bool
}

var cronFields = []struct {
	name     string
	min, max int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}

func parseCron(spec string) (*cron, error) {
	f := strings.Fields(spec)
	if len(f) != 5 {
		return nil, fmt.Errorf("expected 5 fields (minute hour day-of-month month day-of-week), got %d", len(f))
	}
	var sets [5]uint64
	for i, field := range f {
		set, err := parseCronField(field, cronFields[i].min, cronFields[i].max)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %v", cronFields[i].name, field, err)
		}
		sets[i] = set
	}
	if sets[4]&(1<<7) != 0 { // 7 is Sunday too
		sets[4] |= 1
	}
	return &cron{minute: sets[0], hour: sets[1], dom: sets[2], month: sets[3], dow: sets[4],
		domStar: f[2] == "*", dowStar: f[4] == "*"}, nil
}

func parseCronField(field string, lo, hi int) (uint64, error) {
	var set uint64
	for _, part := range strings.Split(field, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, errors.New("the step after / must be a positive number")
			}
			step = n
		}
		from, to := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err1, err2 error
			from, err1 = strconv.Atoi(a)
			to, err2 = strconv.Atoi(b)
			if err1 != nil || err2 != nil || from > to {
				return 0, errors.New("a range is two numbers, the first not larger: 1-5")
			}
		default:
			n, err := strconv.Atoi(rng)
			if err != nil {
				return 0, fmt.Errorf("%q is not a number, a range or *", rng)
			}
			from, to = n, n
			if hasStep {
				to = hi
			}
		}
		if from < lo || to > hi {
			return 0, fmt.Errorf("out of range %d-%d", lo, hi)
		}
		for v := from; v <= to; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

func (c *cron) matches(t time.Time) bool {
	if c.minute&(1<<uint(t.Minute())) == 0 || c.hour&(1<<uint(t.Hour())) == 0 || c.month&(1<<uint(t.Month())) == 0 {
		return false
	}
	dom, dow := c.dom&(1<<uint(t.Day())) != 0, c.dow&(1<<uint(t.Weekday())) != 0
	// As cron does: with both day fields restricted, either may match.
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	}
	return dom || dow
}

// next returns the first whole minute after t that matches, looking up to
// five years ahead (a spec such as "0 0 31 2 *" never matches).
func (c *cron) next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	for end := t.AddDate(5, 0, 0); t.Before(end); t = t.Add(time.Minute) {
		if c.month&(1<<uint(t.Month())) == 0 {
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0).Add(-time.Minute)
			continue
		}
		if c.matches(t) {
			return t
		}
	}
	return time.Time{}
}

// fire starts the run of a schedule's tick. Its ID is made from the tick
// and the schedule, so that servers sharing a database start it once: the
// others find it recorded (EConflict) and do nothing.
func (s *Server) fire(ctx context.Context, sc *Schedule, tick time.Time) (*gantry.Run, error) {
	pr, err := s.opts.Store.Project(ctx, sc.Project)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(sc.Project + "@" + sc.Branch + "=" + sc.Spec))
	id := gantry.RunID(tick.UTC().Format("20060102-150405.000") + "-" + hex.EncodeToString(sum[:4]))
	run, err := s.trigger(ctx, id, pr, gantry.Trigger{Event: "schedule", Branch: sc.Branch, Actor: scheduleActor}, nil, nil)
	if gantry.ErrorKind(err) == gantry.EConflict {
		return nil, nil
	}
	return run, err
}

// RunSchedules fires the schedules until ctx is done.
func (s *Server) RunSchedules(ctx context.Context, schedules []*Schedule) {
	if len(schedules) == 0 {
		return
	}
	for {
		now := s.opts.Now()
		next := time.Time{}
		for _, sc := range schedules {
			if n := sc.Next(now); !n.IsZero() && (next.IsZero() || n.Before(next)) {
				next = n
			}
		}
		if next.IsZero() {
			return
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		for _, sc := range schedules {
			if sc.cron.matches(next) {
				run, err := s.fire(ctx, sc, next)
				switch {
				case err != nil:
					s.opts.Logger.Error("schedule", "project", sc.Project, "spec", sc.Spec, "err", err)
				case run != nil:
					s.opts.Logger.Info("scheduled run", "project", sc.Project, "run", run.ID)
				}
			}
		}
	}
}
