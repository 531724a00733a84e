package gantry.lib.findings_test

import data.gantry.lib.findings

finding(over) := object.union(
	{
		"tool": "sast", "rule_id": "G101", "severity": "high", "message": "SQL built from input",
		"location": {"path": "db.go", "line": 12}, "fingerprint": "f1", "new": true, "waived": false,
	},
	over,
)

test_new_high_denies if {
	findings.deny == {"new high finding G101 from sast at db.go:12: SQL built from input"} with input as {"findings": [finding({})]}
}

test_new_critical_without_line_denies if {
	findings.deny == {"new critical finding G101 from sast at db.go: SQL built from input"} with input as {"findings": [object.union(object.remove(finding({"severity": "critical"}), ["location"]), {"location": {"path": "db.go"}})]}
}

test_waived_old_or_low_pass if {
	count(findings.deny) == 0 with input as {"findings": [
		finding({"waived": true}),
		finding({"new": false}),
		finding({"severity": "medium"}),
	]}
}

test_missing_waived_is_not_waived if {
	count(findings.deny) == 1 with input as {"findings": [object.remove(finding({}), ["waived"])]}
}

test_no_findings if {
	count(findings.deny) == 0 with input as {"findings": []}
}
