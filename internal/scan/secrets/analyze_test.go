package secrets

import (
	"regexp/syntax"
	"testing"
)

func parse(t *testing.T, expr string) *syntax.Regexp {
	t.Helper()
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	return re
}

func TestAnalysis(t *testing.T) {
	for _, c := range []struct {
		expr     string
		kws      []string
		starts   bool // every match starts with a keyword
		contains bool // every match contains a keyword
	}{
		{`\b((?:A3T[A-Z0-9]|AKIA|ASIA)[A-Z2-7]{16})\b`, []string{"a3t", "akia", "asia"}, true, true},
		{`ghp_[0-9a-zA-Z]{36}`, []string{"ghp_"}, true, true},
		{`(?i)\b(ey[a-z0-9]{17,}\.ey[a-z0-9]{17,})`, []string{"ey"}, true, true},
		{`xox[pe](?:-[0-9]{10,13}){3}`, []string{"xoxp-", "xoxe-"}, true, true},
		{`(?i)[\w.-]{0,50}?(?:key|token)[ \t]*=[ \t]*([a-z0-9]{16})`, []string{"key", "token"}, false, true},
		{`\b(pat[[:alnum:]]{14}\.[a-f0-9]{64})\b`, []string{"airtable"}, false, false},
		{`hooks.slack.com/[A-Za-z0-9]{40}`, []string{"hooks.slack.com"}, false, false},
		{`(?:sk|rk)_(?:test|live)_[a-z0-9]{10,99}`, []string{"sk_test", "sk_live", "rk_test", "rk_live"}, true, true},
		{`(?:sk|rk)_(?:test|live)_[a-z0-9]{10,99}`, []string{"sk_test"}, false, false},
		{`a?key`, []string{"key"}, false, true},
		{`key|lock`, []string{"key"}, false, false},
	} {
		re := parse(t, c.expr)
		if got := startsWithKeyword(re, c.kws); got != c.starts {
			t.Errorf("startsWithKeyword(%s, %q) = %v", c.expr, c.kws, got)
		}
		if got := impliesKeyword(re, c.kws); got != c.contains {
			t.Errorf("impliesKeyword(%s, %q) = %v", c.expr, c.kws, got)
		}
	}
}

func TestReach(t *testing.T) {
	for _, c := range []struct {
		expr          string
		before, after extent
	}{
		// Nothing before the keyword crosses a line; [\s]{0,3} after it can.
		{`[\w.-]{0,50}?(?:key)[\s'"]{0,3}=([a-z0-9]{8,})`, extent{53, 0}, extent{unbounded, 3}},
		{`key[ \t]*=[ \t]*[a-z]{4}`, extent{3, 0}, extent{unbounded, 0}},
		// A character may take four bytes.
		{`(?s)a.{0,10}key`, extent{1 + 10*4 + 3, 10}, extent{3, 0}},
	} {
		b, a := reach(parse(t, c.expr), []string{"key"})
		if b != c.before || a != c.after {
			t.Errorf("reach(%s) = %+v, %+v, want %+v, %+v", c.expr, b, a, c.before, c.after)
		}
	}
}

func TestPrefixAndFollow(t *testing.T) {
	sets, complete := prefixSets(parse(t, `\bghp_[0-9a-z]{2}`))
	if len(sets) != 6 || !complete {
		t.Fatalf("prefixSets: %d sets, complete %v", len(sets), complete)
	}
	if !prefixOK(sets, []byte("ghp_a1")) || prefixOK(sets, []byte("ghp_A1")) || prefixOK(sets, []byte("ghp_")) {
		t.Error("prefixOK disagrees with the expression")
	}
	f, ok := followOf(parse(t, `[\w]{0,5}?(?:key)[ \t]{0,9}(?:=|:)([a-z]+)`), []string{"key"})
	if !ok {
		t.Fatal("no follow check")
	}
	for text, want := range map[string]bool{
		"key = abc": true, "key    :x": true, "key         =x": true, "key          =x": false,
		"keyboard": false, "key": false,
	} {
		if got := f.ok([]byte(text), 0); got != want {
			t.Errorf("follow check on %q = %v", text, got)
		}
	}
}

func TestTail(t *testing.T) {
	tl, ok := tailOf(parse(t, `(?i)\b([a-z_]*(?:passw(?:or)?d|secret)[a-z_]*)[ \t]*=[ \t]*([a-z0-9]{8,})`), []string{"passw", "secret"})
	if !ok {
		t.Fatal("no tail")
	}
	if len(tl.offsets) != 1 || tl.offsets[0] != 0 {
		t.Errorf("offsets %v, want [0]", tl.offsets)
	}
	if _, ok := tailOf(parse(t, `a|key`), []string{"key"}); ok {
		t.Error("a tail for an alternation at the top")
	}
}
