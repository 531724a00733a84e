package gantry.lib.freeze_test

import data.gantry.lib.freeze

env := {"name": "production", "freeze_windows": [
	{"start": "2026-12-20T00:00:00Z", "end": "2027-01-04T00:00:00Z", "reason": "holidays"},
	{"start": "2026-11-27T00:00:00Z", "end": "2026-11-28T00:00:00Z"},
]}

test_inside if {
	freeze.deny == {"environment production is frozen from 2026-12-20T00:00:00Z to 2027-01-04T00:00:00Z: holidays"} with input as {"now": "2026-12-24T10:00:00Z", "environment": env}
	freeze.deny == {"environment production is frozen from 2026-11-27T00:00:00Z to 2026-11-28T00:00:00Z: no reason given"} with input as {"now": "2026-11-27T00:00:00Z", "environment": env}
}

test_outside if {
	count(freeze.deny) == 0 with input as {"now": "2026-11-22T10:00:00Z", "environment": env}
	count(freeze.deny) == 0 with input as {"now": "2027-01-04T00:00:00Z", "environment": env}
}

test_no_environment if {
	count(freeze.deny) == 0 with input as {"now": "2026-12-24T10:00:00Z"}
}

test_unknown_time if {
	freeze.deny == {"the time of the decision is unknown (input.now)"} with input as {"environment": env}
}
