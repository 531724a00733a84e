# Gantry's own commit gate: every test passed (from the test report), no new
# high or critical finding and no secret is left unwaived, and the build's
# provenance is signed by a key this installation trusts.
package gantry.gates.commit

import data.gantry.lib

deny contains msg if some msg in lib.tests.deny

deny contains msg if some msg in lib.findings.deny

deny contains msg if some msg in lib.secrets.deny

deny contains msg if some msg in lib.provenance.deny

# The binary the build step made is what the later steps scanned.
deny contains "the build made no bin/gantry" if {
	not built
}

built if {
	some s in input.run.steps
	s.name == "build"
	some o in s.outputs
	o.path == "bin/gantry"
}

warn contains sprintf("%d findings are waived (.gantry/waivers.yml)", [count(waived)]) if count(waived) > 0

waived := [f | some f in input.findings; f.waived]
