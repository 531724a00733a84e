package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry"
)

func TestCronNext(t *testing.T) {
	from := time.Date(2026, 11, 22, 18, 59, 30, 0, time.UTC) // a Sunday
	for _, tc := range []struct{ spec, want string }{
		{"* * * * *", "2026-11-22 19:00"},
		{"0 3 * * *", "2026-11-23 03:00"},
		{"*/15 * * * *", "2026-11-22 19:00"},
		{"5,35 9-17 * * 1-5", "2026-11-23 09:05"},
		{"0 0 1 * *", "2026-12-01 00:00"},
		{"0 12 * * 0", "2026-11-29 12:00"},
		{"0 12 * * 7", "2026-11-29 12:00"},
		{"30 6 15 * 3", "2026-11-25 06:30"}, // day of month or day of week
		{"0 0 29 2 *", "2028-02-29 00:00"},
		{"10/20 * * * *", "2026-11-22 19:10"},
	} {
		sc, err := ParseSchedule("shop=" + tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if got := sc.Next(from).Format("2006-01-02 15:04"); got != tc.want {
			t.Errorf("%q after %s: %s, want %s", tc.spec, from.Format(time.DateTime), got, tc.want)
		}
	}
	never, _ := ParseSchedule("shop=0 0 31 2 *")
	if n := never.Next(from); !n.IsZero() {
		t.Errorf("31 February fires at %s", n)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for in, want := range map[string]string{
		"shop":             "expected PROJECT=CRON",
		"Shop=* * * * *":   "not a project name",
		"shop=* * * *":     "expected 5 fields",
		"shop=60 * * * *":  `minute "60": out of range 0-59`,
		"shop=* 24 * * *":  "hour",
		"shop=* * 0 * *":   "day of month",
		"shop=* * * 13 *":  "month",
		"shop=* * * * 8":   "day of week",
		"shop=*/0 * * * *": "step",
		"shop=5-1 * * * *": "range",
		"shop=x * * * *":   "not a number",
	} {
		_, err := ParseSchedule(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSchedule(%q) = %v, want an error saying %q", in, err, want)
		}
	}
	sc, err := ParseSchedule("shop@release=0 3 * * *")
	if err != nil || sc.Project != "shop" || sc.Branch != "release" {
		t.Errorf("with a branch: %+v, %v", sc, err)
	}
}

// TestScheduleFiresOnceAcrossServers fires the same tick from two servers
// on one store: one run is queued.
func TestScheduleFiresOnceAcrossServers(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	if err := s.store.PutProject(ctx, &gantry.Project{Name: "shop", RepoURL: "/nowhere", DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	other := New(s.srv.opts)
	sc, _ := ParseSchedule("shop=0 3 * * *")
	tick := sc.Next(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	run, err := s.srv.fire(ctx, sc, tick)
	if err != nil || run == nil || run.Trigger.Event != "schedule" || run.Trigger.Branch != "main" {
		t.Fatalf("first server: %+v, %v", run, err)
	}
	if again, err := other.fire(ctx, sc, tick); err != nil || again != nil {
		t.Errorf("second server, same tick: %+v, %v; want nothing", again, err)
	}
	jobs, err := s.store.Jobs(ctx, gantry.JobFilter{Status: gantry.JobQueued})
	if err != nil || len(jobs) != 1 {
		t.Errorf("queued jobs: %d, %v; want 1", len(jobs), err)
	}
}
