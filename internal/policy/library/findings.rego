# Package gantry.lib.findings denies on new high or critical findings that
# no active waiver accepts.
package gantry.lib.findings

severities := {"high", "critical"}

blocking contains f if {
	some f in input.findings
	object.get(f, "new", false) == true
	lower(f.severity) in severities
	object.get(f, "waived", false) != true
}

deny contains sprintf("new %s finding %s from %s at %s: %s", [f.severity, f.rule_id, f.tool, where(f), object.get(f, "message", "")]) if {
	some f in blocking
}

where(f) := sprintf("%s:%d", [f.location.path, f.location.line]) if {
	f.location.line > 0
} else := object.get(f, ["location", "path"], "an unknown place")
