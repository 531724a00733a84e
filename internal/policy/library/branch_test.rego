package gantry.lib.branch_test

import data.gantry.lib.branch

config := {"protected_branches": ["main", "release/*"]}

test_protected if {
	count(branch.deny) == 0 with input as {"config": config, "change": {"branch": "main"}}
	count(branch.deny) == 0 with input as {"config": config, "change": {"branch": "release/1.2"}}
}

test_not_protected if {
	branch.deny == {"branch \"feature/x\" is not protected"} with input as {"config": config, "change": {"branch": "feature/x"}}
	branch.deny == {"branch \"release/1/hotfix\" is not protected"} with input as {"config": config, "change": {"branch": "release/1/hotfix"}}
}

test_unknown if {
	branch.deny == {"the change's branch is unknown (input.change.branch)"} with input as {"config": config}
}

test_nothing_protected if {
	branch.deny == {"branch \"main\" is not protected"} with input as {"change": {"branch": "main"}}
}

test_super_wildcard if {
	count(branch.deny) == 0 with input as {"config": {"protected_branches": ["release/**"]}, "change": {"branch": "release/1/hotfix"}}
}
