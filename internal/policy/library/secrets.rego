# Package gantry.lib.secrets denies on any secret found, new or not, of any
# severity, that no active waiver accepts.
package gantry.lib.secrets

deny contains sprintf("secret %s at %s (fingerprint %s) is not waived", [f.rule_id, where(f), f.fingerprint]) if {
	some f in input.findings
	f.tool == "secrets"
	object.get(f, "waived", false) != true
}

where(f) := sprintf("%s:%d", [f.location.path, f.location.line]) if {
	f.location.line > 0
} else := object.get(f, ["location", "path"], "an unknown place")
