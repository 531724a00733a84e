package license

import (
	"slices"
	"strings"
	"unicode"
)

// NoAssertion is the SPDX value for a licence that is not known.
const NoAssertion = "NOASSERTION"

// signature recognises one licence: every phrase in all must occur in the
// normalised text, and none in none.
type signature struct {
	id     string
	family string // at most one licence of a family is reported: the first
	all    []string
	any    []string // when set, one of these must occur too
	none   []string
}

// signatures are tried in order. The GNU licences are known by their
// titles with their dates, since other licences name them in passing (MPL-2.0
// lists them as secondary licences); the short notices that point at them
// are gplNotices. The more specific come first (the
// Lesser and Affero GPLs before the GPL, whose texts mention them).
// Phrases are in normalised form: lower case, words separated by single
// spaces, punctuation dropped.
var signatures = []signature{
	{id: "AGPL-3.0", family: "gnu", all: []string{"gnu affero general public license version 3 19 november 2007"}},
	{id: "LGPL-3.0", family: "gnu", all: []string{"gnu lesser general public license version 3 29 june 2007"}},
	{id: "LGPL-2.1", family: "gnu", all: []string{"gnu lesser general public license version 2 1 february 1999"}},
	{id: "LGPL-2.0", family: "gnu", all: []string{"gnu library general public license version 2 june 1991"}},
	{id: "GPL-3.0", family: "gnu", all: []string{"gnu general public license version 3 29 june 2007"}},
	{id: "GPL-2.0", family: "gnu", all: []string{"gnu general public license version 2 june 1991"}},
	{id: "MPL-2.0", all: []string{"mozilla public license"}, any: []string{"mozilla public license version 2 0", "mozilla public license v 2 0"}},
	{id: "Apache-2.0", all: []string{"apache license", "version 2 0"}},
	{id: "Unlicense", all: []string{"this is free and unencumbered software released into the public domain"}},
	{id: "CC0-1.0", all: []string{"cc0 1 0"}},
	{id: "ISC", any: []string{
		"permission to use copy modify and or distribute this software for any purpose with or without fee is hereby granted",
		"permission to use copy modify and distribute this software for any purpose with or without fee is hereby granted",
	}},
	{id: "MIT", all: []string{
		"permission is hereby granted free of charge to any person obtaining a copy",
		"the above copyright notice and this permission notice shall be included",
	}},
	{id: "BSD-4-Clause", family: "bsd", all: []string{
		"redistribution and use in source and binary forms with or without modification are permitted",
		"all advertising materials mentioning features or use of this software",
	}},
	{id: "BSD-3-Clause", family: "bsd", all: []string{
		"redistribution and use in source and binary forms with or without modification are permitted",
		"may be used to endorse or promote products derived from this software",
	}},
	{id: "BSD-2-Clause", family: "bsd", all: []string{
		"redistribution and use in source and binary forms with or without modification are permitted",
		"redistributions in binary form must reproduce the above copyright notice",
	}},
}

// gplNotices recognise the short notices that point at a GPL rather than
// reproduce it ("… either version 3 of the License, or (at your option)
// any later version").
var gplNotices = []signature{
	{id: "AGPL-3.0", family: "gnu", all: []string{"gnu affero general public license", "version 3 of the license"}},
	{id: "LGPL-3.0", family: "gnu", all: []string{"gnu lesser general public license", "version 3 of the license"}},
	{id: "LGPL-2.1", family: "gnu", all: []string{"gnu lesser general public license", "version 2 1 of the license"}},
	{id: "GPL-3.0", family: "gnu", all: []string{"gnu general public license", "version 3 of the license"}},
	{id: "GPL-2.0", family: "gnu", all: []string{"gnu general public license", "version 2 of the license"}},
}

// Detect names the licences of a licence file's text with SPDX
// identifiers, in the order of the signatures, or returns nil when it
// recognises none. A file that reproduces two licences (MIT and then
// Apache-2.0) yields both.
func Detect(text string) []string {
	norm := normalize(text)
	var ids []string
	seen := map[string]bool{}
	for _, s := range signatures {
		if s.family != "" && seen[s.family] {
			continue
		}
		if s.matches(norm) {
			ids = append(ids, s.id)
			if s.family != "" {
				seen[s.family] = true
			}
		}
	}
	if len(ids) > 0 {
		return ids
	}
	for _, s := range gplNotices {
		if s.matches(norm) {
			if strings.Contains(norm, "or at your option any later version") {
				return []string{s.id + "-or-later"}
			}
			return []string{s.id + "-only"}
		}
	}
	return nil
}

func (s signature) matches(norm string) bool {
	for _, p := range s.all {
		if !strings.Contains(norm, p) {
			return false
		}
	}
	if len(s.any) > 0 && !slices.ContainsFunc(s.any, func(p string) bool { return strings.Contains(norm, p) }) {
		return false
	}
	for _, p := range s.none {
		if strings.Contains(norm, p) {
			return false
		}
	}
	return true
}

// normalize lowers text, drops punctuation and comment markers, and folds
// runs of spaces into one, so that line wrapping, Markdown and comment
// prefixes do not matter. A "." between digits becomes a space ("2.0" →
// "2 0"), as every other punctuation mark does.
func normalize(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	space := true
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		case r == '\'' || r == '’':
			// "licensor's" stays one word
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	return strings.TrimSpace(b.String())
}
