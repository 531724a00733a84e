package store

import "gantry.dev/gantry"

// CheckAttestation returns an EInvalid error when a cannot be stored: it
// needs its run, stage, kind, predicate type, at least one subject with a
// well-formed digest, an envelope whose digest is a.Digest, a key hint, a
// ledger index and a creation time.
func CheckAttestation(a *gantry.Attestation) error {
	switch {
	case a == nil:
		return gantry.Errorf(gantry.EInvalid, "no attestation given")
	case a.RunID == "":
		return gantry.Errorf(gantry.EInvalid, "attestation %s has no run id", a.Digest)
	case a.Stage == "":
		return gantry.Errorf(gantry.EInvalid, "attestation %s has no stage", a.Digest)
	case a.Kind == "" || a.PredicateType == "":
		return gantry.Errorf(gantry.EInvalid, "attestation %s has no kind or predicate type", a.Digest)
	case len(a.Subjects) == 0:
		return gantry.Errorf(gantry.EInvalid, "attestation %s has no subject", a.Digest)
	case len(a.Envelope) == 0 || a.KeyHint == "":
		return gantry.Errorf(gantry.EInvalid, "attestation %s has no envelope or key hint", a.Digest)
	case !ValidDigest(a.Digest) || gantry.DigestBytes(a.Envelope) != a.Digest:
		return gantry.Errorf(gantry.EInvalid, "attestation %q: digest is not the envelope's", a.Digest)
	case a.LedgerIndex < 0:
		return gantry.Errorf(gantry.EInvalid, "attestation %s: negative ledger index", a.Digest)
	case a.CreatedAt.IsZero():
		return gantry.Errorf(gantry.EInvalid, "attestation %s has no creation time", a.Digest)
	}
	for _, s := range a.Subjects {
		if s.Name == "" || !ValidDigest(s.Digest) {
			return gantry.Errorf(gantry.EInvalid, "attestation %s: subject %q has no name or a malformed digest %q", a.Digest, s.Name, s.Digest)
		}
	}
	return checkTimes("attestation "+string(a.Digest), a.CreatedAt)
}

// CheckAttestationFilter returns an EInvalid error when f selects nothing
// or holds a malformed digest.
func CheckAttestationFilter(f gantry.AttestationFilter) error {
	switch {
	case f.RunID == "" && f.Subject == "":
		return gantry.Errorf(gantry.EInvalid, "list attestations: give a run or a subject digest")
	case f.Subject != "" && !ValidDigest(f.Subject):
		return gantry.Errorf(gantry.EInvalid, "list attestations: malformed digest %q", f.Subject)
	}
	return nil
}
