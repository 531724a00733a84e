package gantry.lib.provenance_test

import data.gantry.lib.provenance

att(step, key) := {"digest": concat("", ["sha256:", step]), "step": step, "kind": "provenance", "key_hint": key}

test_trusted if {
	count(provenance.deny) == 0 with input as {
		"config": {"trusted_keys": ["ci-2026"]},
		"attestations": [att("build", "ci-2026"), {"kind": "test-result", "step": "unit", "key_hint": "laptop"}],
	}
}

test_untrusted if {
	provenance.deny == {"provenance sha256:image of step image is signed by untrusted key \"laptop\""} with input as {
		"config": {"trusted_keys": ["ci-2026"]},
		"attestations": [att("build", "ci-2026"), att("image", "laptop")],
	}
}

test_missing_key_hint if {
	provenance.deny == {"provenance sha256:build of step build is signed by untrusted key \"\""} with input as {
		"config": {"trusted_keys": ["ci-2026"]},
		"attestations": [object.remove(att("build", ""), ["key_hint"])],
	}
}

test_no_provenance_no_keys if {
	provenance.deny == {
		"no trusted keys are configured (input.config.trusted_keys)",
		"no provenance attestation: nothing built has signed provenance",
	} with input as {}
}
