package gantry.gates.commit_test

import data.gantry.gates.commit

built := {"name": "build", "stage": "commit", "passed": true, "status": "succeeded", "outputs": [{"path": "bin/gantry"}]}

test_no_binary_denies if {
	"the build made no bin/gantry" in commit.deny with input as {"run": {"steps": []}, "findings": [], "attestations": []}
}

test_binary_is_enough_for_that_rule if {
	not "the build made no bin/gantry" in commit.deny with input as {"run": {"steps": [built]}, "findings": [], "attestations": []}
}

test_waived_findings_warn if {
	"1 findings are waived (.gantry/waivers.yml)" in commit.warn with input as {"run": {"steps": [built]}, "findings": [{"waived": true}], "attestations": []}
}
