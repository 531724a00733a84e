// Package coverage reads the total test coverage out of the reports test
// tools write: a Go cover profile (go test -coverprofile), LCOV
// (lcov.info: JavaScript, Python's coverage lcov, Rust, C) and Cobertura
// XML (coverage.py, JaCoCo through its converter, many CI tools).
package coverage

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gantry.dev/gantry"
)

// MaxReport bounds the size of a report Parse reads.
const MaxReport = 64 << 20

// The formats Parse knows.
const (
	FormatGo        = "go"
	FormatLCOV      = "lcov"
	FormatCobertura = "cobertura"
)

// Total is a report's total coverage.
type Total struct {
	Format  string
	Covered int64 // statements (Go) or lines covered
	Total   int64 // statements (Go) or lines that could be
}

// Percent is the coverage in percent, 0 to 100; 0 when nothing could be
// covered.
func (t Total) Percent() float64 {
	if t.Total == 0 {
		return 0
	}
	return math.Round(float64(t.Covered)/float64(t.Total)*1000) / 10
}

// Parse reads a coverage report in any of the formats, told apart by
// their first bytes, and returns its total. A report it cannot read, or
// that covers nothing at all, is an EInvalid error: no coverage is not
// full coverage.
func Parse(data []byte) (Total, error) {
	if len(data) > MaxReport {
		return Total{}, gantry.Errorf(gantry.EInvalid, "coverage report of %d bytes: more than %d", len(data), MaxReport)
	}
	trimmed := bytes.TrimSpace(data)
	var t Total
	var err error
	switch {
	case bytes.HasPrefix(trimmed, []byte("mode:")):
		t, err = parseGo(trimmed)
	case bytes.HasPrefix(trimmed, []byte("<")):
		t, err = parseCobertura(trimmed)
	case bytes.HasPrefix(trimmed, []byte("TN:")) || bytes.HasPrefix(trimmed, []byte("SF:")):
		t, err = parseLCOV(trimmed)
	default:
		return Total{}, gantry.Errorf(gantry.EInvalid, "coverage report: not a Go cover profile (mode: …), LCOV (SF: …) or Cobertura XML")
	}
	if err != nil {
		return Total{}, gantry.Errorf(gantry.EInvalid, "coverage report (%s): %v", t.Format, err)
	}
	if t.Total == 0 {
		return Total{}, gantry.Errorf(gantry.EInvalid, "coverage report (%s): it covers nothing at all", t.Format)
	}
	return t, nil
}

// parseGo reads a Go cover profile: "file:l.c,l.c statements count" lines.
// A block listed twice (several packages' profiles merged) counts once,
// covered if any of its lines says so.
func parseGo(data []byte) (Total, error) {
	t := Total{Format: FormatGo}
	type block struct{ stmts, count int64 }
	blocks := map[string]block{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 || text == "" || strings.HasPrefix(text, "mode:") {
			continue
		}
		i := strings.LastIndexByte(text, ' ')
		j := strings.LastIndexByte(text[:max(i, 0)], ' ')
		if i < 0 || j < 0 {
			return t, fmt.Errorf("line %d: expected FILE:RANGE STATEMENTS COUNT", line)
		}
		stmts, err1 := strconv.ParseInt(text[j+1:i], 10, 64)
		count, err2 := strconv.ParseInt(text[i+1:], 10, 64)
		if err1 != nil || err2 != nil || stmts < 0 || count < 0 {
			return t, fmt.Errorf("line %d: expected FILE:RANGE STATEMENTS COUNT", line)
		}
		key := text[:j]
		b, seen := blocks[key]
		if !seen {
			order = append(order, key)
		}
		blocks[key] = block{stmts: stmts, count: max(b.count, count)}
	}
	if err := sc.Err(); err != nil {
		return t, err
	}
	for _, k := range order {
		b := blocks[k]
		t.Total += b.stmts
		if b.count > 0 {
			t.Covered += b.stmts
		}
	}
	return t, nil
}

// parseLCOV sums the LF (lines found) and LH (lines hit) records of every
// source file.
func parseLCOV(data []byte) (Total, error) {
	t := Total{Format: FormatLCOV}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		key, v, ok := strings.Cut(text, ":")
		if !ok || (key != "LF" && key != "LH") {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return t, fmt.Errorf("line %d: %s: expected a count, got %q", line, key, v)
		}
		if key == "LF" {
			t.Total += n
		} else {
			t.Covered += n
		}
	}
	if err := sc.Err(); err != nil {
		return t, err
	}
	if t.Covered > t.Total {
		return t, fmt.Errorf("%d lines hit of %d found", t.Covered, t.Total)
	}
	return t, nil
}

// parseCobertura reads the lines-covered and lines-valid attributes of
// the root coverage element.
func parseCobertura(data []byte) (Total, error) {
	t := Total{Format: FormatCobertura}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return t, fmt.Errorf("no <coverage> element: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "coverage" {
			return t, fmt.Errorf("the root element is <%s>, not <coverage>", se.Name.Local)
		}
		var covered, valid string
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "lines-covered":
				covered = a.Value
			case "lines-valid":
				valid = a.Value
			}
		}
		c, err1 := strconv.ParseInt(covered, 10, 64)
		v, err2 := strconv.ParseInt(valid, 10, 64)
		if err1 != nil || err2 != nil || c < 0 || v < 0 || c > v {
			return t, fmt.Errorf("<coverage> needs lines-covered and lines-valid counts, got %q and %q", covered, valid)
		}
		t.Covered, t.Total = c, v
		return t, nil
	}
}
