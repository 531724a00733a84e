# Package gantry.lib.branch denies unless the change is built from a
# protected branch: one matching a glob of input.config.protected_branches,
# where "*" does not cross "/".
package gantry.lib.branch

branch := object.get(input, ["change", "branch"], "")

protected if {
	some g in input.config.protected_branches
	glob.match(g, ["/"], branch)
}

deny contains "the change's branch is unknown (input.change.branch)" if branch == ""

deny contains sprintf("branch %q is not protected", [branch]) if {
	branch != ""
	not protected
}
