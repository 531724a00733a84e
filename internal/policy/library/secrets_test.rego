package gantry.lib.secrets_test

import data.gantry.lib.secrets

test_unwaived_secret_denies if {
	secrets.deny == {"secret aws-access-key at config.env:3 (fingerprint abc) is not waived"} with input as {"findings": [{
		"tool": "secrets", "rule_id": "aws-access-key", "severity": "low", "new": false, "waived": false,
		"fingerprint": "abc", "location": {"path": "config.env", "line": 3},
	}]}
}

test_waived_secret_passes if {
	count(secrets.deny) == 0 with input as {"findings": [{
		"tool": "secrets", "rule_id": "aws-access-key", "severity": "high", "new": true, "waived": true,
		"fingerprint": "abc", "location": {"path": "config.env", "line": 3},
	}]}
}

test_other_tools_pass if {
	count(secrets.deny) == 0 with input as {"findings": [{
		"tool": "sast", "rule_id": "G101", "severity": "critical", "new": true, "waived": false,
		"fingerprint": "abc", "location": {"path": "a.go"},
	}]}
}
