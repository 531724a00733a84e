package gantry.lib.tests_test

import data.gantry.lib.tests

test_passed if {
	count(tests.deny) == 0 with input as {"run": {"steps": [
		{"name": "build", "kind": "provenance", "status": "succeeded"},
		{"name": "unit", "kind": "test-result", "status": "succeeded"},
	]}}
}

test_failed if {
	tests.deny == {"tests did not pass: step unit is failed"} with input as {"run": {"steps": [
		{"name": "unit", "kind": "test-result", "status": "failed"},
		{"name": "e2e", "kind": "test-result", "status": "succeeded"},
	]}}
}

test_skipped_is_not_passed if {
	tests.deny == {"tests did not pass: step unit is skipped"} with input as {"run": {"steps": [{"name": "unit", "kind": "test-result", "status": "skipped"}]}}
}

test_no_tests if {
	tests.deny == {"no test step ran: the gate needs test evidence"} with input as {"run": {"steps": [{"name": "build", "kind": "provenance", "status": "succeeded"}]}}
}

test_no_input if {
	tests.deny == {"no test step ran: the gate needs test evidence"} with input as {}
}
