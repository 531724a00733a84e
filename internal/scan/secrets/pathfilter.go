package secrets

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
)

// pathFilter matches a path against many regular expressions (gitleaks'
// global path allowlist) cheaply: one keyword scan of the path finds the
// literals each expression needs, and only the expressions whose literals
// occur are run.
type pathFilter struct {
	res     []*regexp.Regexp
	always  []int // expressions without needed literals
	m       *keywordMatcher
	litExpr [][]int // literal -> expressions needing it
}

func newPathFilter(exprs []string) (*pathFilter, error) {
	f := &pathFilter{}
	var litList []string
	litIndex := map[string]int{}
	for i, e := range exprs {
		re, err := regexp.Compile(e)
		if err != nil {
			return nil, fmt.Errorf("path allowlist %q: %w", e, err)
		}
		f.res = append(f.res, re)
		tree, err := syntax.Parse(e, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("path allowlist %q: %w", e, err)
		}
		ls, ok := necessaryLits(tree)
		if !ok {
			f.always = append(f.always, i)
			continue
		}
		for _, l := range ls {
			j, ok := litIndex[l]
			if !ok {
				j = len(litList)
				litIndex[l] = j
				litList = append(litList, l)
				f.litExpr = append(f.litExpr, nil)
			}
			if !slices.Contains(f.litExpr[j], i) {
				f.litExpr[j] = append(f.litExpr[j], i)
			}
		}
	}
	if len(litList) > 0 {
		var err error
		if f.m, err = newKeywordMatcher(litList); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// match reports whether any expression matches path.
func (f *pathFilter) match(path string) bool {
	if f == nil {
		return false
	}
	for _, i := range f.always {
		if f.res[i].MatchString(path) {
			return true
		}
	}
	if f.m == nil {
		return false
	}
	var tried [4]uint64 // expressions already run, for up to 256 of them
	found := false
	f.m.scan([]byte(path), func(lit, _ int) {
		if found {
			return
		}
		for _, i := range f.litExpr[lit] {
			if i < 256 {
				if tried[i/64]&(1<<(i%64)) != 0 {
					continue
				}
				tried[i/64] |= 1 << (i % 64)
			}
			if f.res[i].MatchString(path) {
				found = true
				return
			}
		}
	})
	return found
}
