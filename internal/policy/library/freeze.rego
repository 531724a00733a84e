# Package gantry.lib.freeze denies a deployment while the target
# environment is inside one of its freeze windows, [start, end). A stage
# without an environment is not a deployment and passes.
package gantry.lib.freeze

deny contains "the time of the decision is unknown (input.now)" if {
	input.environment
	not input.now
}

deny contains sprintf("environment %s is frozen from %s to %s: %s", [env.name, w.start, w.end, object.get(w, "reason", "no reason given")]) if {
	env := input.environment
	now := time.parse_rfc3339_ns(input.now)
	some w in env.freeze_windows
	time.parse_rfc3339_ns(w.start) <= now
	now < time.parse_rfc3339_ns(w.end)
}
