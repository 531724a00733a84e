# Package gantry.lib.review denies unless someone other than the change's
# authors approved it: an approving review on the forge (or, for a change
# that is not a pull request, a Reviewed-by trailer) or a gantry approval
# that is not a single-maintainer exception.
# Names compare case-insensitively. The authors are the change's author and
# every commit's author.
package gantry.lib.review

authors contains lower(a) if {
	a := input.change.author
	a != ""
}

authors contains lower(c.author) if {
	some c in input.change.commits
	c.author != ""
}

approvers contains lower(r.reviewer) if {
	some r in input.change.reviews
	r.state == "approved"
	counts(r)
}

# A trailer is written by whoever made the commit: where the change is a
# pull request, only the forge's reviews count.
counts(r) if not input.change.pull_request

counts(r) if object.get(r, "source", "") != "trailer"

approvers contains lower(a.approver) if {
	some a in input.approvals
	object.get(a, "exception", false) != true
}

independent := approvers - authors

deny contains "the change's author is unknown (input.change.author)" if count(authors) == 0

deny contains "the change was not reviewed by anyone other than its authors" if count(independent) == 0
