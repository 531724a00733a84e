// Package license is the licence scanner: it finds the licence of every
// package the dependency inventory lists (package deps) and checks it
// against the step's allow and deny lists.
//
// A package's licence comes from its lock file when the lock file records
// one (npm's package-lock.json), else, for Go modules, from the LICENSE,
// LICENCE or COPYING files of the module in the local module cache, whose
// text a small detector maps to an SPDX identifier by distinctive phrases
// (MIT, Apache-2.0, BSD-2-Clause, BSD-3-Clause, BSD-4-Clause, ISC,
// MPL-2.0, GPL-2.0, GPL-3.0, LGPL-2.0, LGPL-2.1, LGPL-3.0, AGPL-3.0,
// Unlicense, CC0-1.0). A full GPL text gives the bare ID (GPL-3.0); a
// short GPL notice gives -only or -or-later as it says. The module's own
// files (LICENSE*, LICENCE*, COPYING*, UNLICENSE*) are read first;
// suffixed ones (LICENSE-MIT, LICENSE-3RD-PARTY.md) only when those name
// no licence. Several licences found are joined with AND, the reading
// that assumes least: a file offering a choice ("Apache-2.0 or
// GPL-2.0-or-later") is reported as both. An LGPL shipped with the GPL it
// amends (COPYING.LESSER beside COPYING) is the LGPL. A licence that
// cannot be found or recognised is NOASSERTION; other ecosystems' packages
// have only what their lock files record.
//
// Step inputs (`with:`):
//
//	allow:   "MIT, Apache-2.0, BSD-3-Clause"  SPDX IDs; when set, any other licence is a finding
//	deny:    "GPL-3.0, AGPL-3.0"              SPDX IDs that are never accepted
//	unknown: medium                           severity for NOASSERTION (info…critical, or "off")
//
// IDs are compared without their -only, -or-later and + suffixes, so
// "GPL-3.0" in a list covers GPL-3.0-only, GPL-3.0-or-later and GPL-3.0+.
// SPDX expressions are honoured: "MIT OR GPL-3.0" is denied only when both
// sides are, allowed when either is; "MIT AND GPL-3.0" is denied when
// either side is, allowed only when both are.
//
// Rules:
//
//	| Rule     | Severity          | When                                                   |
//	|----------|-------------------|--------------------------------------------------------|
//	| GLIC-001 | high              | the licence is on the deny list                        |
//	| GLIC-002 | medium            | an allow list is set and the licence is not on it      |
//	| GLIC-003 | `unknown` (medium)| the licence is unknown (NOASSERTION)                   |
//
// A package raises at most one finding, the first rule that applies in
// the order above. Findings are located at the manifest line that pins the
// package and fingerprinted by tool, rule, manifest path and
// name@version, so they survive line moves. Licence findings carry no CWE.
package license
