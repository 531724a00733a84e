package gantry.lib.coverage_test

import data.gantry.lib.coverage

test_same_or_higher if {
	count(coverage.deny) == 0 with input as {"coverage": {"percent": 81.5, "base": 81.5}}
	count(coverage.deny) == 0 with input as {"coverage": {"percent": 90, "base": 81.5}}
}

test_lower if {
	coverage.deny == {"coverage fell from 81.5% on the base branch to 80%"} with input as {"coverage": {"percent": 80, "base": 81.5}}
}

test_unknown if {
	coverage.deny == {"coverage of this run is unknown (input.coverage.percent)"} with input as {}
}

test_base_unknown_warns if {
	count(coverage.deny) == 0 with input as {"coverage": {"percent": 80}}
	coverage.warn == {"coverage of the base branch is unknown (input.coverage.base): nothing to compare with yet"} with input as {"coverage": {"percent": 80}}
}
