# Package gantry.lib.provenance denies unless the run has provenance and
# every provenance attestation is signed by a trusted key
# (input.config.trusted_keys holds their key hints).
package gantry.lib.provenance

trusted := {k | some k in input.config.trusted_keys}

attestations contains a if {
	some a in input.attestations
	a.kind == "provenance"
}

deny contains "no trusted keys are configured (input.config.trusted_keys)" if count(trusted) == 0

deny contains "no provenance attestation: nothing built has signed provenance" if count(attestations) == 0

deny contains sprintf("provenance %s of step %s is signed by untrusted key %q", [a.digest, object.get(a, "step", ""), object.get(a, "key_hint", "")]) if {
	some a in attestations
	not object.get(a, "key_hint", "") in trusted
}
