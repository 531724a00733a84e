package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"gantry.dev/gantry"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate is parsed when first used, not when every command starts.
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"day":   day,
		"score": score,
		"short": func(d gantry.Digest) string {
			if h := d.Hex(); h != "" {
				return "sha256:" + h[:12] + "…"
			}
			return string(d)
		},
	}).Parse(htmlSource))
})

// WriteHTML writes r as a self-contained HTML page for people: a
// summary, three charts drawn in inline SVG (the share of standard,
// normal and urgent changes over time, approval latency, gate failures by
// reason), the controls and a table of every change with its evidence
// links. It has no JavaScript and loads nothing, and prints to PDF from a
// browser.
func WriteHTML(w io.Writer, r *Report) error {
	if err := check(r); err != nil {
		return err
	}
	if err := htmlTemplate().Execute(w, newPage(r)); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// page is what the template shows.
type page struct {
	R           *Report
	System      string
	Counts      [3]int // standard, normal, urgent
	Standard    int    // the standard share, in percent
	Assessments []Assessment
	Share       shareChart
	Latency     barChart
	Gates       barChart
}

func newPage(r *Report) *page {
	p := &page{R: r, System: oneLine(r.System), Assessments: Assess(r)}
	if p.System == "" {
		p.System = "Gantry changes"
	}
	for _, c := range r.Changes {
		switch c.Classification.Class {
		case Standard:
			p.Counts[0]++
		case Normal:
			p.Counts[1]++
		case Urgent:
			p.Counts[2]++
		}
	}
	if n := len(r.Changes); n > 0 {
		p.Standard = (100*p.Counts[0] + n/2) / n
	}
	p.Share = newShareChart(r)
	p.Latency = latencyChart(r)
	p.Gates = gateChart(r)
	return p
}

// Chart geometry, in SVG user units.
const (
	chartW   = 640
	chartH   = 240
	plotTop  = 16
	plotBot  = 200 // the x axis
	plotLeft = 40
)

// shareChart is a column per period of time, stacked by class to 100%.
type shareChart struct {
	Unit    string // day, week or month
	Columns []shareColumn
}

type shareColumn struct {
	Label  string
	Total  int
	X, W   float64
	LabelX float64
	Bars   []shareBar
}

type shareBar struct {
	Class   Class
	N       int
	Y, H    float64
	Percent int
}

func newShareChart(r *Report) shareChart {
	from, to := r.From.UTC(), r.To.UTC()
	for _, c := range r.Changes { // a period left open still shows its changes
		if o := c.Opened.UTC(); !o.IsZero() {
			if from.IsZero() || o.Before(from) {
				from = o
			}
			if o.After(to) {
				to = o
			}
		}
	}
	unit, start, next := bucketing(from, to)
	var ch shareChart
	ch.Unit = unit
	type counts struct {
		label string
		n     map[Class]int
	}
	var buckets []counts
	var bounds []time.Time
	for t := start; !t.After(to) && len(buckets) < 60; t = next(t) {
		bounds = append(bounds, t)
		label := t.Format("Jan 2")
		if unit == "month" {
			label = t.Format("Jan 2006")
		}
		buckets = append(buckets, counts{label: label, n: map[Class]int{}})
	}
	for _, c := range r.Changes {
		o := c.Opened.UTC()
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i].After(o) }) - 1
		if i >= 0 {
			buckets[i].n[c.Classification.Class]++
		}
	}
	if len(buckets) == 0 {
		return ch
	}
	slot := float64(chartW-plotLeft-8) / float64(len(buckets))
	for i, b := range buckets {
		col := shareColumn{Label: b.label, X: plotLeft + float64(i)*slot + slot*0.15, W: slot * 0.7}
		col.LabelX = col.X + col.W/2
		for _, cl := range []Class{Standard, Normal, Urgent} {
			col.Total += b.n[cl]
		}
		y := float64(plotTop)
		for _, cl := range []Class{Urgent, Normal, Standard} {
			n := b.n[cl]
			if col.Total == 0 || n == 0 {
				continue
			}
			h := float64(plotBot-plotTop) * float64(n) / float64(col.Total)
			col.Bars = append(col.Bars, shareBar{Class: cl, N: n, Y: y, H: h, Percent: (100*n + col.Total/2) / col.Total})
			y += h
		}
		ch.Columns = append(ch.Columns, col)
	}
	return ch
}

// bucketing chooses columns of a day, a week or a month, so that a
// period has a readable number of them.
func bucketing(from, to time.Time) (unit string, start time.Time, next func(time.Time) time.Time) {
	d := to.Sub(from)
	startDay := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	switch {
	case d <= 21*24*time.Hour:
		return "day", startDay, func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	case d <= 26*7*24*time.Hour:
		monday := startDay.AddDate(0, 0, -((int(startDay.Weekday()) + 6) % 7))
		return "week", monday, func(t time.Time) time.Time { return t.AddDate(0, 0, 7) }
	default:
		return "month", time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC), func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	}
}

// barChart is horizontal bars, one a label.
type barChart struct {
	Bars []bar
	H    int    // the chart's height
	Note string // a summary line under the chart
}

type bar struct {
	Label string
	N     int
	Y, W  float64
	TextX float64
}

const (
	barLeft   = 230 // labels end here
	barHeight = 18
	barGap    = 8
)

func newBarChart(labels []string, counts []int) barChart {
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	var ch barChart
	for i, label := range labels {
		b := bar{Label: label, N: counts[i], Y: float64(plotTop + i*(barHeight+barGap))}
		if most > 0 {
			b.W = float64(chartW-barLeft-50) * float64(counts[i]) / float64(most)
		}
		b.TextX = barLeft + b.W + 6
		ch.Bars = append(ch.Bars, b)
	}
	ch.H = max(80, plotTop+len(labels)*(barHeight+barGap)+8)
	return ch
}

// latencyChart is the time from a change's opening to its first
// approval, as a histogram.
func latencyChart(r *Report) barChart {
	limits := []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour, 72 * time.Hour}
	labels := []string{"under 1 hour", "1 to 4 hours", "4 to 24 hours", "1 to 3 days", "over 3 days"}
	counts := make([]int, len(labels))
	var all []time.Duration
	for _, c := range r.Changes {
		if len(c.Approvals) == 0 || c.Opened.IsZero() {
			continue
		}
		first := c.Approvals[0].At
		for _, a := range c.Approvals[1:] {
			if a.At.Before(first) {
				first = a.At
			}
		}
		d := max(first.Sub(c.Opened), 0)
		all = append(all, d)
		i := sort.Search(len(limits), func(i int) bool { return d < limits[i] })
		counts[i]++
	}
	ch := newBarChart(labels, counts)
	if len(all) == 0 {
		ch.Note = "No approvals in the period."
		return ch
	}
	slices.Sort(all)
	ch.Note = fmt.Sprintf("%d approved changes; median latency %s, slowest %s.", len(all), human(all[len(all)/2]), human(all[len(all)-1]))
	return ch
}

// gateChart counts the reasons of denied gate decisions, the most
// frequent first, at most ten.
func gateChart(r *Report) barChart {
	n := map[string]int{}
	denials := 0
	for _, c := range r.Changes {
		for _, g := range c.Gates {
			if g.Allowed {
				continue
			}
			denials++
			if len(g.Reasons) == 0 {
				n["(no reason given)"]++
			}
			for _, reason := range g.Reasons {
				n[oneLine(reason)]++
			}
		}
	}
	reasons := make([]string, 0, len(n))
	for k := range n {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if n[reasons[i]] != n[reasons[j]] {
			return n[reasons[i]] > n[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	more := 0
	if len(reasons) > 10 {
		more = len(reasons) - 10
		reasons = reasons[:10]
	}
	counts := make([]int, len(reasons))
	labels := make([]string, len(reasons))
	for i, k := range reasons {
		counts[i] = n[k]
		labels[i] = k
		if r := []rune(k); len(r) > 34 {
			labels[i] = string(r[:33]) + "…"
		}
	}
	ch := newBarChart(labels, counts)
	switch {
	case denials == 0:
		ch.Note = "No gate denied a change in the period."
	case more > 0:
		ch.Note = fmt.Sprintf("%s; %d less frequent reasons not shown.", plural(denials, "denial"), more)
	default:
		ch.Note = plural(denials, "denial") + "."
	}
	return ch
}

func human(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	default:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
