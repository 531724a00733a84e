# Package gantry.lib.tests denies unless the run has test evidence and
# every test step succeeded. A test step is one whose attestation is a
# test result (kind "test-result"): a step with kind: test, or with a test
# report.
package gantry.lib.tests

steps contains s if {
	some s in input.run.steps
	s.kind == "test-result"
}

deny contains "no test step ran: the gate needs test evidence" if count(steps) == 0

deny contains sprintf("tests did not pass: step %s is %s", [s.name, s.status]) if {
	some s in steps
	s.status != "succeeded"
}
