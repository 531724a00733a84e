package gantry.lib.review_test

import data.gantry.lib.review

change := {"author": "Alice", "commits": [{"sha": "1", "author": "alice"}, {"sha": "2", "author": "carol"}]}

test_reviewed_by_other if {
	count(review.deny) == 0 with input as {"change": object.union(change, {"reviews": [{"reviewer": "bob", "state": "approved"}]})}
}

test_approval_by_other if {
	count(review.deny) == 0 with input as {"change": change, "approvals": [{"approver": "bob", "environment": "production"}]}
}

test_self_review_does_not_count if {
	review.deny == {"the change was not reviewed by anyone other than its authors"} with input as {"change": object.union(change, {"reviews": [
		{"reviewer": "alice", "state": "approved"},
		{"reviewer": "carol", "state": "approved"},
		{"reviewer": "bob", "state": "commented"},
	]})}
}

test_exception_does_not_count if {
	review.deny == {"the change was not reviewed by anyone other than its authors"} with input as {
		"change": change,
		"approvals": [{"approver": "bob", "exception": true, "reason": "single maintainer"}],
	}
}

test_unknown_author if {
	review.deny == {"the change's author is unknown (input.change.author)"} with input as {"change": {"reviews": [{"reviewer": "bob", "state": "approved"}]}}
}

test_trailer_does_not_count_on_a_pull_request if {
	review.deny == {"the change was not reviewed by anyone other than its authors"} with input as {"change": object.union(change, {
		"pull_request": {"number": 7, "base": "main", "head": "feature"},
		"reviews": [{"reviewer": "bob", "state": "approved", "source": "trailer"}],
	})}
}

test_trailer_counts_without_a_pull_request if {
	count(review.deny) == 0 with input as {"change": object.union(change, {"reviews": [{"reviewer": "bob", "state": "approved", "source": "trailer"}]})}
}

test_forge_review_counts_on_a_pull_request if {
	count(review.deny) == 0 with input as {"change": object.union(change, {
		"pull_request": {"number": 7, "base": "main", "head": "feature"},
		"reviews": [{"reviewer": "bob", "state": "approved", "source": "forge"}],
	})}
}
