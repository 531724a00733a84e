# Package gantry.lib.coverage denies when the run's test coverage is lower
# than the base branch's, or unknown: no coverage is not full coverage.
# When the base branch has none yet (its first runs, before any measured
# it), there is nothing to fall below: it warns, so that a project can
# adopt the rule on its base branch.
package gantry.lib.coverage

# A missing value is null here, so that "not is_number" sees it: a
# function of an undefined value is undefined, and its negation would
# not hold.
percent := object.get(input, ["coverage", "percent"], null)

base := object.get(input, ["coverage", "base"], null)

deny contains "coverage of this run is unknown (input.coverage.percent)" if not is_number(percent)

warn contains "coverage of the base branch is unknown (input.coverage.base): nothing to compare with yet" if not is_number(base)

deny contains sprintf("coverage fell from %v%% on the base branch to %v%%", [base, percent]) if {
	input.coverage.percent < input.coverage.base
}
