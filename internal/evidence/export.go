package evidence

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/ledger"
)

// An evidence bundle is a tar file with everything needed to verify a
// run's evidence offline:
//
//	manifest.json                  what is in it (bundleManifest)
//	checkpoint                     the ledger's latest signed checkpoint
//	attestations/steps/STEP.dsse.json  each step's DSSE envelope, as signed
//	attestations/gates/STAGE.dsse.json each gate decision's
//	bundles/steps/STEP.sigstore.json   the same as Sigstore bundles v0.3
//	bundles/gates/STAGE.sigstore.json
//	proofs/INDEX.json              each envelope's ledger entry and its
//	                               inclusion proof in the checkpoint
//	consistency/SIZE.json          proofs that the checkpoint extends
//	                               each earlier one
//	keys/signing.pub, keys/ledger.pub  the public keys
//	README.txt                     how to verify it
//
// Nothing in it is trusted by itself: a verifier checks signatures
// against keys it was given, and the checkpoint against the one it
// trusted before.

// bundleVersion is the manifest's format version.
const bundleVersion = 1

// Limits on what a bundle may hold, so that a crafted one cannot exhaust
// memory.
const (
	maxBundleFile  = 64 << 20
	maxBundleTotal = 512 << 20
	maxBundleFiles = 100000
)

type bundleManifest struct {
	Version      int                 `json:"version"`
	Run          *gantry.Run         `json:"run"`
	Exported     time.Time           `json:"exported"`
	Checkpoint   string              `json:"checkpoint"`
	SigningKey   string              `json:"signing_key"`
	LedgerKey    string              `json:"ledger_key"`
	Attestations []bundleAttestation `json:"attestations"`
	Consistency  map[string]string   `json:"consistency,omitempty"` // older size → file
	Proofs       map[string]string   `json:"proofs"`                // ledger index → file
}

type bundleAttestation struct {
	gantry.Attestation
	EnvelopeFile string `json:"envelope"`
	BundleFile   string `json:"bundle"`
}

// ExportSource is what Export reads: the store and ledger of the run.
type ExportSource interface {
	gantry.RunStore
	gantry.AttestationStore
	gantry.LedgerStore
}

// ExportOptions say what goes into an evidence bundle besides the run's
// evidence.
type ExportOptions struct {
	SigningKey []byte // PEM
	LedgerKey  []byte // note verifier key
	Now        func() time.Time
}

// Export writes the evidence of run as an evidence bundle to w.
func Export(ctx context.Context, st ExportSource, run gantry.RunID, w io.Writer, opts ExportOptions) error {
	r, err := st.Run(ctx, run)
	if err != nil {
		return err
	}
	atts, err := st.Attestations(ctx, gantry.AttestationFilter{RunID: run})
	if err != nil {
		return err
	}
	if len(atts) == 0 {
		return gantry.Errorf(gantry.ENotFound, "run %s has no attestations to export", run)
	}
	latest, err := st.LatestCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("read the ledger's checkpoint: %w", err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	m := bundleManifest{
		Version: bundleVersion, Run: r, Exported: now().UTC(), Checkpoint: "checkpoint",
		SigningKey: "keys/signing.pub", LedgerKey: "keys/ledger.pub",
		Proofs: map[string]string{}, Consistency: map[string]string{},
	}
	files := map[string][]byte{
		"checkpoint":       latest.Note,
		"keys/signing.pub": opts.SigningKey,
		"keys/ledger.pub":  append(bytes.TrimSpace(opts.LedgerKey), '\n'),
		"README.txt":       []byte(bundleReadme),
	}
	used := map[string]bool{}
	for _, a := range atts {
		if a.LedgerIndex >= latest.Size {
			return gantry.Errorf(gantry.EConflict, "attestation %s is not in the latest checkpoint yet: run gantry ledger checkpoint", a.Digest.Short())
		}
		base := fileName(a)
		for i := 2; used[base]; i++ {
			base = fmt.Sprintf("%s-%d", fileName(a), i)
		}
		used[base] = true
		ba := bundleAttestation{Attestation: *a,
			EnvelopeFile: "attestations/" + base + ".dsse.json", BundleFile: "bundles/" + base + ".sigstore.json"}
		bundle, err := BundleOf(a)
		if err != nil {
			return err
		}
		files[ba.EnvelopeFile], files[ba.BundleFile] = a.Envelope, bundle
		m.Attestations = append(m.Attestations, ba)
		in, err := ledger.ProveInclusion(ctx, st, a.LedgerIndex, latest.Size)
		if err != nil {
			return err
		}
		b, err := json.MarshalIndent(in, "", "  ")
		if err != nil {
			return err
		}
		name := fmt.Sprintf("proofs/%d.json", a.LedgerIndex)
		files[name] = b
		m.Proofs[strconv.FormatInt(a.LedgerIndex, 10)] = name
	}
	cps, err := st.Checkpoints(ctx)
	if err != nil {
		return err
	}
	for _, c := range cps {
		if c.Size >= latest.Size {
			continue
		}
		cs, err := ledger.ProveConsistency(ctx, st, c.Size, latest.Size)
		if err != nil {
			return err
		}
		b, err := json.MarshalIndent(cs, "", "  ")
		if err != nil {
			return err
		}
		name := fmt.Sprintf("consistency/%d.json", c.Size)
		files[name] = b
		m.Consistency[strconv.FormatInt(c.Size, 10)] = name
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	files["manifest.json"] = append(mb, '\n')

	tw := tar.NewWriter(w)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	// The manifest first, so that a reader knows what to expect.
	slices.SortFunc(names, func(a, b string) int {
		if (a == "manifest.json") != (b == "manifest.json") {
			if a == "manifest.json" {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, n := range names {
		b := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), ModTime: m.Exported, Format: tar.FormatPAX}); err != nil {
			return fmt.Errorf("write %s: %w", n, err)
		}
		if _, err := tw.Write(b); err != nil {
			return fmt.Errorf("write %s: %w", n, err)
		}
	}
	return tw.Close()
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName names an attestation's files: steps/NAME or gates/STAGE.
func fileName(a *gantry.Attestation) string {
	dir, n := "steps/", a.Step
	if a.Kind == gantry.KindGate {
		dir, n = "gates/", a.Stage
	}
	return dir + cmp.Or(strings.Trim(unsafeName.ReplaceAllString(n, "-"), "-"), "unnamed")
}

const bundleReadme = `Gantry evidence bundle

Everything needed to verify a run's evidence offline. Verify a file the run
built with the public key you trust (not necessarily the one in keys/):

    gantry verify --bundle THIS.tar --key signing.pub FILE

or one attestation with cosign:

    cosign verify-blob-attestation --key signing.pub --insecure-ignore-tlog \
        --bundle bundles/steps/STEP.sigstore.json --type slsaprovenance1 FILE

manifest.json lists the attestations; proofs/ holds each one's ledger entry
and inclusion proof in the signed checkpoint; consistency/ proves that the
checkpoint extends every earlier one.
`

// Bundle is an evidence bundle read into memory: a Source.
type Bundle struct {
	manifest bundleManifest
	files    map[string][]byte
	atts     []*gantry.Attestation
	bundles  map[gantry.Digest][]byte // Sigstore bundles by attestation
}

// SigstoreBundle returns the Sigstore bundle the evidence bundle holds of
// attestation d, or nil.
func (b *Bundle) SigstoreBundle(d gantry.Digest) []byte { return b.bundles[d] }

var _ Source = (*Bundle)(nil)

// ReadBundle reads an evidence bundle. A malformed one is refused with
// what is wrong with it.
func ReadBundle(r io.Reader) (*Bundle, error) {
	b := &Bundle{files: map[string][]byte{}, bundles: map[gantry.Digest][]byte{}}
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: not a tar file: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(h.Name)
		switch {
		case h.Size > maxBundleFile:
			return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: %s is %d bytes, more than %d", name, h.Size, maxBundleFile)
		case total+h.Size > maxBundleTotal:
			return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: more than %d bytes", maxBundleTotal)
		case len(b.files) >= maxBundleFiles:
			return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: more than %d files", maxBundleFiles)
		case b.files[name] != nil:
			return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: %s appears twice", name)
		}
		data, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: read %s: %v", name, err)
		}
		total += int64(len(data))
		b.files[name] = data
	}
	mb := b.files["manifest.json"]
	if mb == nil {
		return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: no manifest.json: this is not a Gantry evidence bundle")
	}
	if err := json.Unmarshal(mb, &b.manifest); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: manifest.json: %v", err)
	}
	if b.manifest.Version != bundleVersion {
		return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: manifest version %d; this Gantry reads version %d", b.manifest.Version, bundleVersion)
	}
	for _, ba := range b.manifest.Attestations {
		a := ba.Attestation
		env, ok := b.files[path.Clean(ba.EnvelopeFile)]
		if !ok {
			return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: %s is listed but missing", ba.EnvelopeFile)
		}
		a.Envelope = env
		b.atts = append(b.atts, &a)
		b.bundles[a.Digest] = b.files[path.Clean(ba.BundleFile)]
	}
	return b, nil
}

// file returns a file the manifest names.
func (b *Bundle) file(name string) ([]byte, error) {
	data, ok := b.files[path.Clean(name)]
	if !ok || name == "" {
		return nil, gantry.Errorf(gantry.ENotFound, "evidence bundle has no %s", cmp.Or(name, "such file"))
	}
	return data, nil
}

// Run returns the run the bundle holds the evidence of, as recorded.
func (b *Bundle) Run() *gantry.Run { return b.manifest.Run }

// SigningKey and LedgerKey return the public keys the bundle carries,
// which a verifier may choose to trust.
func (b *Bundle) SigningKey() ([]byte, error) { return b.file(b.manifest.SigningKey) }

// LedgerKey returns the ledger's public key the bundle carries.
func (b *Bundle) LedgerKey() ([]byte, error) { return b.file(b.manifest.LedgerKey) }

// Checkpoint returns the bundle's signed checkpoint.
func (b *Bundle) Checkpoint(context.Context) ([]byte, error) { return b.file(b.manifest.Checkpoint) }

// Consistency returns the bundle's proof that its checkpoint extends the
// one of size older.
func (b *Bundle) Consistency(_ context.Context, older int64) (*ledger.Consistency, error) {
	name, ok := b.manifest.Consistency[strconv.FormatInt(older, 10)]
	if !ok {
		return nil, gantry.Errorf(gantry.ENotFound, "the evidence bundle has no proof from checkpoint %d", older)
	}
	data, err := b.file(name)
	if err != nil {
		return nil, err
	}
	var cs ledger.Consistency
	if err := json.Unmarshal(data, &cs); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: %s: %v", name, err)
	}
	return &cs, nil
}

// Inclusion returns the bundle's inclusion proof of ledger entry index.
func (b *Bundle) Inclusion(_ context.Context, index int64) (*ledger.Inclusion, error) {
	name, ok := b.manifest.Proofs[strconv.FormatInt(index, 10)]
	if !ok {
		return nil, gantry.Errorf(gantry.ENotFound, "the evidence bundle has no inclusion proof of ledger entry %d", index)
	}
	data, err := b.file(name)
	if err != nil {
		return nil, err
	}
	var in ledger.Inclusion
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "evidence bundle: %s: %v", name, err)
	}
	return &in, nil
}

// Attestations lists the bundle's attestations of a subject or of a run.
func (b *Bundle) Attestations(_ context.Context, f gantry.AttestationFilter) ([]*gantry.Attestation, error) {
	var out []*gantry.Attestation
	for _, a := range b.atts {
		if f.RunID != "" && a.RunID != f.RunID {
			continue
		}
		if f.Subject != "" && !slices.ContainsFunc(a.Subjects, func(s gantry.Subject) bool { return s.Digest == f.Subject }) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// StoreSource reads evidence from a store and its ledger: what gantry
// verify uses where the evidence was made.
type StoreSource struct {
	Store interface {
		gantry.AttestationStore
		gantry.LedgerStore
	}
}

var _ Source = StoreSource{}

// Checkpoint returns the latest stored checkpoint.
func (s StoreSource) Checkpoint(ctx context.Context) ([]byte, error) {
	c, err := s.Store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	return c.Note, nil
}

// Consistency proves the latest checkpoint extends the one of size older.
func (s StoreSource) Consistency(ctx context.Context, older int64) (*ledger.Consistency, error) {
	c, err := s.Store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	return ledger.ProveConsistency(ctx, s.Store, older, c.Size)
}

// Inclusion proves entry index is in the latest checkpoint.
func (s StoreSource) Inclusion(ctx context.Context, index int64) (*ledger.Inclusion, error) {
	return ledger.ProveInclusion(ctx, s.Store, index, 0)
}

// Attestations lists stored attestations.
func (s StoreSource) Attestations(ctx context.Context, f gantry.AttestationFilter) ([]*gantry.Attestation, error) {
	return s.Store.Attestations(ctx, f)
}
