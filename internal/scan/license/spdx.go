package license

import "strings"

// spdxIDs are the SPDX licence IDs Gantry knows to be on the SPDX licence
// list: the ones the detector names and other common ones. It is not the
// whole list; an ID missing from it is still a valid licence, only written
// by name rather than ID where an SPDX ID is required (the SBOM).
var spdxIDs = func() map[string]string {
	ids := []string{
		"0BSD", "AFL-3.0", "Apache-1.1", "Apache-2.0", "Artistic-2.0", "BlueOak-1.0.0",
		"BSD-1-Clause", "BSD-2-Clause", "BSD-3-Clause", "BSD-4-Clause", "BSL-1.0",
		"CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "CDDL-1.0", "CDDL-1.1",
		"EPL-1.0", "EPL-2.0", "EUPL-1.2", "ISC", "MIT", "MIT-0", "MPL-1.1", "MPL-2.0",
		"MS-PL", "OFL-1.1", "PostgreSQL", "PSF-2.0", "Python-2.0", "Ruby", "Unicode-3.0",
		"Unicode-DFS-2016", "Unlicense", "UPL-1.0", "W3C", "WTFPL", "X11", "Zlib", "ZPL-2.1",
	}
	for _, gnu := range []string{"AGPL-3.0", "GPL-2.0", "GPL-3.0", "LGPL-2.0", "LGPL-2.1", "LGPL-3.0"} {
		ids = append(ids, gnu, gnu+"-only", gnu+"-or-later")
	}
	m := make(map[string]string, len(ids))
	for _, id := range ids {
		m[strings.ToLower(id)] = id
	}
	return m
}()

// SPDXID returns the SPDX licence ID id names, in its canonical case, and
// whether Gantry knows it to be one.
func SPDXID(id string) (string, bool) {
	c, ok := spdxIDs[strings.ToLower(strings.TrimSpace(id))]
	return c, ok
}

// IsExpression reports whether s is a compound SPDX expression (it has an
// AND, OR or WITH operator, or parentheses) rather than a single licence.
func IsExpression(s string) bool {
	if strings.ContainsAny(s, "()") {
		return true
	}
	for _, f := range strings.Fields(s) {
		switch strings.ToUpper(f) {
		case "AND", "OR", "WITH":
			return true
		}
	}
	return false
}
