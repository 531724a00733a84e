package cli

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/evidence"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/store/sqlite"
)

// passphraseVar names the variable that holds the passphrase of encrypted
// private keys.
const passphraseVar = "GANTRY_KEY_PASSPHRASE"

// keysDir is where the local signing and ledger keys live: beside the
// state, out of version control.
func keysDir(stateDir string) string { return filepath.Join(stateDir, "keys") }

// passphrase returns the keys' passphrase from the environment, or nil.
func passphrase(e *env) []byte {
	if v, ok := lookupEnv(e.environ, passphraseVar); ok && v != "" {
		return []byte(v)
	}
	return nil
}

func lookupEnv(environ []string, name string) (string, bool) {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// trustDir is where verifiers remember the checkpoints they trusted:
// GANTRY_TRUST_DIR, else gantry/trusted in the user's configuration
// directory. It is the user's, not the repository's, so that deleting or
// replacing a repository's state cannot make a verifier forget.
func trustDir(e *env) (string, error) {
	if d, ok := lookupEnv(e.environ, "GANTRY_TRUST_DIR"); ok && d != "" {
		return d, nil
	}
	if d, ok := lookupEnv(e.environ, "XDG_CONFIG_HOME"); ok && filepath.IsAbs(d) {
		return filepath.Join(d, "gantry", "trusted"), nil
	}
	if h, ok := lookupEnv(e.environ, "HOME"); ok && filepath.IsAbs(h) {
		return filepath.Join(h, ".config", "gantry", "trusted"), nil
	}
	return "", gantry.Errorf(gantry.EUnavailable, "no directory to remember trusted checkpoints in: set GANTRY_TRUST_DIR or HOME")
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ledgerName names a new local ledger: the repository and a random part,
// so that two repositories (or a repository's state made again) never
// share an origin that a verifier remembers.
func ledgerName(repo string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := nameUnsafe.ReplaceAllString(filepath.Base(repo), "-")
	return "gantry-local/" + strings.Trim(base, "-") + "-" + hex.EncodeToString(b[:])
}

// localKeys are the keys of local mode, loaded for signing.
type localKeys struct {
	signer gantry.Signer
	ledger note.Signer
	public *evidence.PublicKeys
}

// loadKeys loads the local keys, making them first when there are none
// and create is set (the first gantry run).
func loadKeys(e *env, repo, stateDir string, create bool) (*localKeys, error) {
	dir := keysDir(stateDir)
	pass := passphrase(e)
	if _, err := os.Stat(filepath.Join(dir, evidence.SigningKeyFile)); errors.Is(err, fs.ErrNotExist) && create {
		_, err := evidence.GenerateKeys(dir, evidence.GenerateOptions{LedgerName: ledgerName(repo), Passphrase: pass})
		if err != nil && !errors.Is(err, fs.ErrExist) { // another run made them first
			return nil, fmt.Errorf("make signing keys: %w", err)
		}
		if err == nil {
			fmt.Fprintf(e.stderr, "gantry: made signing keys in %s (public key: gantry keys public)\n", displayPath(dir))
		}
	}
	s, err := evidence.LoadSigner(dir, pass)
	if err != nil {
		return nil, keyError(err)
	}
	ls, err := evidence.LoadLedgerSigner(dir, pass)
	if err != nil {
		return nil, keyError(err)
	}
	pub, err := evidence.LoadPublicKeys(dir)
	if err != nil {
		return nil, err
	}
	return &localKeys{signer: s, ledger: ls, public: pub}, nil
}

func keyError(err error) error {
	if errors.Is(err, evidence.ErrPassphraseRequired) {
		return fmt.Errorf("%w: set %s", err, passphraseVar)
	}
	return err
}

func newKeysCmd(e *env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the keys that sign evidence and the ledger's checkpoints",
		Long: `Gantry signs every step's attestation with a signing key (ECDSA P-256 by
default, or Ed25519) and the ledger's checkpoints with an Ed25519 note key.
Both live in the state directory (.gantry/state/keys), private keys with mode
0600; gantry run makes them the first time. With ` + passphraseVar + ` set,
private keys are encrypted with it (argon2id and AES-256-GCM).`,
	}
	var alg string
	var force bool
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Make a new signing key and ledger key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stateDir, err := g.state(e)
			if err != nil {
				return err
			}
			repo, err := g.repo(e)
			if err != nil {
				return err
			}
			pub, err := evidence.GenerateKeys(keysDir(stateDir), evidence.GenerateOptions{
				Algorithm: evidence.Algorithm(alg), LedgerName: ledgerName(repo), Passphrase: passphrase(e), Overwrite: force,
			})
			if errors.Is(err, fs.ErrExist) {
				return gantry.Errorf(gantry.EConflict, "keys exist already in %s: use --force to replace them (evidence signed with the old keys then verifies only with the old public key)", displayPath(keysDir(stateDir)))
			}
			if err != nil {
				return err
			}
			hint, _ := evidence.KeyHint(pub.Signing)
			enc := "not encrypted (set " + passphraseVar + " to encrypt)"
			if passphrase(e) != nil {
				enc = "encrypted with " + passphraseVar
			}
			fmt.Fprintf(e.stdout, "made keys in %s, %s\n  signing key %s %s\n  ledger key  %s\n",
				displayPath(keysDir(stateDir)), enc, cmp.Or(alg, string(evidence.ECDSAP256)), hint[:16], pub.Ledger.Name())
			return nil
		},
	}
	gen.Flags().StringVar(&alg, "algorithm", string(evidence.ECDSAP256), "the signing key's algorithm: ecdsa-p256 or ed25519")
	gen.Flags().BoolVar(&force, "force", false, "replace existing keys")

	var ledgerKey bool
	pubCmd := &cobra.Command{
		Use:   "public",
		Short: "Print the public signing key (PEM): what a verifier trusts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stateDir, err := g.state(e)
			if err != nil {
				return err
			}
			pub, err := evidence.LoadPublicKeys(keysDir(stateDir))
			if err != nil {
				return err
			}
			if ledgerKey {
				fmt.Fprintln(e.stdout, pub.LedgerKey)
				return nil
			}
			b, err := evidence.MarshalPublicKey(pub.Signing)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		},
	}
	pubCmd.Flags().BoolVar(&ledgerKey, "ledger", false, "print the ledger's checkpoint key (a note verifier key) instead")
	cmd.AddCommand(gen, pubCmd)
	return cmd
}

// openLedgerState opens the store and the ledger's public key for the
// ledger commands.
func openLedgerState(ctx context.Context, e *env, g *globals) (*sqlite.Store, *evidence.PublicKeys, string, error) {
	stateDir, err := g.state(e)
	if err != nil {
		return nil, nil, "", err
	}
	st, err := openState(ctx, e, g)
	if err != nil {
		return nil, nil, "", err
	}
	pub, err := evidence.LoadPublicKeys(keysDir(stateDir))
	if err != nil {
		st.Close()
		return nil, nil, "", err
	}
	return st, pub, stateDir, nil
}

func newLedgerCmd(e *env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Inspect and check the transparency log of all evidence",
		Long: `The ledger is an append-only Merkle tree (RFC 6962) of the digest of every
attestation, with signed checkpoints (C2SP tlog-checkpoint) and each entry's
inclusion proof. Verifiers remember the last checkpoint they trusted and
refuse a log that is not consistent with it.`,
	}
	checkpoint := &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign a checkpoint of the ledger's current size and print it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, _, stateDir, err := openLedgerState(ctx, e, g)
			if err != nil {
				return err
			}
			defer st.Close()
			repo, err := g.repo(e)
			if err != nil {
				return err
			}
			keys, err := loadKeys(e, repo, stateDir, false)
			if err != nil {
				return err
			}
			log, err := ledger.Open(ctx, st, keys.ledger, nil)
			if err != nil {
				return err
			}
			c, err := log.Checkpoint(ctx)
			if err != nil {
				return err
			}
			if c == nil {
				return gantry.Errorf(gantry.ENotFound, "the ledger is empty: nothing to checkpoint")
			}
			_, err = e.stdout.Write(c.Note)
			return err
		},
	}
	var asJSON bool
	prove := &cobra.Command{
		Use:   "prove ENTRY",
		Short: "Print an entry's inclusion proof in the latest checkpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			index, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || index < 0 {
				return gantry.Errorf(gantry.EInvalid, "entry %q: expected an entry index, such as 0 or 41", args[0])
			}
			st, pub, _, err := openLedgerState(ctx, e, g)
			if err != nil {
				return err
			}
			defer st.Close()
			in, err := ledger.ProveInclusion(ctx, st, index, 0)
			if err != nil {
				return err
			}
			c, err := in.Check(pub.Ledger)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, in)
			}
			leaf, _ := ledger.ParseLeaf(in.Entry)
			fmt.Fprintf(e.stdout, "entry %d: %s\ncheckpoint %s (verified)\nproof: %d hashes\n", in.Index, leaf, c, len(in.Proof))
			for _, h := range in.Proof {
				fmt.Fprintf(e.stdout, "  %s\n", h)
			}
			return nil
		},
	}
	prove.Flags().BoolVar(&asJSON, "json", false, "print the proof as JSON: entry, signed checkpoint and hashes")
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the whole ledger and check every checkpoint and proof",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, pub, _, err := openLedgerState(ctx, e, g)
			if err != nil {
				return err
			}
			defer st.Close()
			td, err := trustDir(e)
			if err != nil {
				return err
			}
			progress := func(done, total int64) {}
			if e.isTerminal(e.stderr) {
				progress = func(done, total int64) { fmt.Fprintf(e.stderr, "\rverified %d of %d entries", done, total) }
			}
			res, err := ledger.Verify(ctx, st, pub.Ledger, &ledger.VerifyOptions{Trust: ledger.NewTrust(td), Progress: progress})
			if e.isTerminal(e.stderr) {
				fmt.Fprint(e.stderr, "\r\033[K")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "ledger %s verified: %d entries, %d checkpoints, %d inclusion proofs\n",
				pub.Ledger.Name(), res.Entries, res.Checkpoints, res.Proofs)
			if res.Latest != nil {
				fmt.Fprintf(e.stdout, "latest checkpoint: size %d, root %s (remembered in %s)\n", res.Latest.Size, res.Latest.Hash, displayPath(td))
			}
			return nil
		},
	}
	var out string
	tiles := &cobra.Command{
		Use:   "tiles --out DIR",
		Short: "Write the ledger in the C2SP tlog-tiles layout, for static serving",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if out == "" {
				return gantry.Errorf(gantry.EInvalid, "tiles: give the output directory with --out DIR")
			}
			st, _, _, err := openLedgerState(ctx, e, g)
			if err != nil {
				return err
			}
			defer st.Close()
			c, err := ledger.WriteTiles(ctx, st, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote tiles of %d entries to %s\n", c.Size, out)
			return nil
		},
	}
	tiles.Flags().StringVar(&out, "out", "", "the `DIR` to write the tiles to")
	cmd.AddCommand(checkpoint, prove, verify, tiles)
	return cmd
}

func newEvidenceCmd(e *env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Export a run's evidence for offline verification",
	}
	var runRef, out string
	export := &cobra.Command{
		Use:   "export --run RUN|latest -o FILE.tar",
		Short: "Write a run's attestations, bundles, ledger proofs and public keys to a tar file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if out == "" {
				return gantry.Errorf(gantry.EInvalid, "export: give the output file with -o FILE.tar")
			}
			st, pub, stateDir, err := openLedgerState(ctx, e, g)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := findRun(ctx, st, runRef)
			if err != nil {
				return err
			}
			signing, err := os.ReadFile(filepath.Join(keysDir(stateDir), evidence.SigningPubFile))
			if err != nil {
				return err
			}
			return writeFileAtomic(out, func(w io.Writer) error {
				return evidence.Export(ctx, st, r.ID, w, evidence.ExportOptions{SigningKey: signing, LedgerKey: []byte(pub.LedgerKey)})
			}, func() {
				fmt.Fprintf(e.stdout, "wrote the evidence of run %s to %s\n", r.ID, out)
			})
		},
	}
	export.Flags().StringVar(&runRef, "run", "latest", "the run: its ID, a unique prefix of it, or latest")
	export.Flags().StringVarP(&out, "output", "o", "", "the tar `FILE` to write")
	cmd.AddCommand(export)
	return cmd
}

// writeFileAtomic writes a file through a temporary one renamed over it,
// so that a failed export leaves nothing half-written.
func writeFileAtomic(path string, write func(io.Writer) error, done func()) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	done()
	return nil
}

type verifyFlags struct {
	keys      []string
	bundle    string
	ledgerKey string
	report    string
	json      bool
}

func newVerifyCmd(e *env, g *globals) *cobra.Command {
	f := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify PATH | --report FILE",
		Short: "Verify a file's evidence: signatures, ledger inclusion, and the chain from source to it",
		Long: `Verify that Gantry built the file at PATH, and how: it finds the attestations
whose subject is the file's digest, checks their signatures against trusted
keys and their ledger entries against a signed checkpoint consistent with the
last one this machine trusted, and prints the chain from the source commit
through the steps to the file, with every gate decision of the run.

In a repository with Gantry's state, the local evidence and keys are used.
Elsewhere, give the evidence bundle (gantry evidence export) and the public
key you trust:

    gantry verify --bundle evidence.tar --key signing.pub bin/app

With --report, it checks every evidence link of a compliance report (gantry
report --format oscal) offline instead: each link's inclusion proof, the
signed checkpoint it rests on, and that the ledger entry records the linked
attestation. Give the ledger key you trust with --ledger-key FILE (gantry
keys public --ledger prints it), or run it where the local state is.

The exit code is 0 only when everything verifies.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.report != "" {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.report != "" {
				return verifyReport(cmd.Context(), e, g, f)
			}
			return verifyArtifact(cmd.Context(), e, g, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.keys, "key", nil, "trust the signing public key in `FILE` (PEM); may be repeated")
	fl.StringVar(&f.bundle, "bundle", "", "verify with the evidence bundle `FILE.tar` instead of the local state")
	fl.StringVar(&f.ledgerKey, "ledger-key", "", "trust the ledger checkpoint key in `FILE` (default: the local one, or the bundle's)")
	fl.StringVar(&f.report, "report", "", "verify every evidence link of the OSCAL report `FILE` instead of a file's chain")
	fl.BoolVar(&f.json, "json", false, "print the verified chain as JSON")
	return cmd
}

func verifyArtifact(ctx context.Context, e *env, g *globals, f *verifyFlags, target string) error {
	p := target
	if !filepath.IsAbs(p) && g.dir != "" {
		p = filepath.Join(g.dir, p)
	}
	data, err := os.Open(p)
	if err != nil {
		return gantry.Errorf(gantry.ENotFound, "verify: %v", err)
	}
	d, _, err := digestReader(data)
	data.Close()
	if err != nil {
		return fmt.Errorf("verify: read %s: %w", target, err)
	}
	var keys []crypto.PublicKey
	for _, k := range f.keys {
		b, err := os.ReadFile(k)
		if err != nil {
			return gantry.Errorf(gantry.ENotFound, "verify: key: %v", err)
		}
		pub, err := evidence.ParsePublicKey(b)
		if err != nil {
			return fmt.Errorf("verify: key %s: %w", k, err)
		}
		keys = append(keys, pub)
	}
	var ledgerKey note.Verifier
	if f.ledgerKey != "" {
		if ledgerKey, err = readLedgerKey(f.ledgerKey); err != nil {
			return err
		}
	}
	var src evidence.Source
	ledgerFrom := "--ledger-key"
	if f.bundle != "" {
		if len(keys) == 0 {
			return gantry.Errorf(gantry.EInvalid, "verify: with --bundle, give the signing key you trust with --key FILE: the keys inside a bundle prove nothing")
		}
		bf, err := os.Open(f.bundle)
		if err != nil {
			return gantry.Errorf(gantry.ENotFound, "verify: %v", err)
		}
		b, err := evidence.ReadBundle(bf)
		bf.Close()
		if err != nil {
			return err
		}
		if ledgerKey == nil {
			lk, err := b.LedgerKey()
			if err != nil {
				return err
			}
			if ledgerKey, err = note.NewVerifier(strings.TrimSpace(string(lk))); err != nil {
				return gantry.Errorf(gantry.EInvalid, "verify: the bundle's ledger key: %v", err)
			}
			ledgerFrom = "the bundle; trusted on first use, then remembered"
		}
		src = b
	} else {
		st, pub, _, err := openLedgerState(ctx, e, g)
		if err != nil {
			return err
		}
		defer st.Close()
		keys = append(keys, pub.Signing)
		if ledgerKey == nil {
			ledgerKey, ledgerFrom = pub.Ledger, "the local state"
		}
		src = evidence.StoreSource{Store: st}
	}
	td, err := trustDir(e)
	if err != nil {
		return err
	}
	ch, err := evidence.VerifyArtifact(ctx, src, target, d, evidence.VerifyOptions{
		Keys: keys, Ledger: ledgerKey, Trust: ledger.NewTrust(td),
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "gantry: verify %s: FAILED\n", target)
		return err
	}
	if f.json {
		return writeJSON(e.stdout, ch)
	}
	printChain(e.stdout, ch, ledgerFrom)
	return nil
}

// digestReader returns the sha256 digest of what r holds.
func digestReader(r io.Reader) (gantry.Digest, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", n, err
	}
	return gantry.NewDigest(h.Sum(nil)), n, nil
}

// printChain shows a verified chain, from the source to the artifact.
func printChain(w io.Writer, ch *evidence.Chain, ledgerFrom string) {
	build := ch.Steps[0]
	fmt.Fprintf(w, "%s  %s: verified\n", ch.Artifact.Name, ch.Artifact.Digest)
	if build.Source != "" || build.Commit != "" {
		fmt.Fprintf(w, "  source      %s", cmp.Or(build.Source, "(unknown repository)"))
		if build.Commit != "" {
			fmt.Fprintf(w, " at commit %s", build.Commit)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  run         %s\n", build.Run)
	for i := len(ch.Steps) - 1; i >= 0; i-- {
		l := ch.Steps[i]
		fmt.Fprintf(w, "  step        %-14s stage %-10s %-11s %-9s signed by %s  ledger #%d\n",
			l.Step, l.Stage, l.Kind, l.Status, short(l.KeyHint), l.LedgerIndex)
	}
	fmt.Fprintf(w, "  artifact    %s\n", ch.Artifact.Name)
	for _, gt := range ch.Gates {
		decision := "allowed"
		if !gt.Allowed {
			decision = "denied: " + strings.Join(gt.Reasons, "; ")
		}
		fmt.Fprintf(w, "  gate        %-14s %s (by %s)  ledger #%d\n", gt.Stage, decision, cmp.Or(gt.Decider, "?"), gt.LedgerIndex)
	}
	fmt.Fprintf(w, "  ledger      %s, checkpoint of %d entries signed", ch.Checkpoint.Origin, ch.Checkpoint.Size)
	if ch.Trusted != nil {
		fmt.Fprintf(w, ", consistent with the checkpoint of %d trusted before", ch.Trusted.Size)
	} else {
		fmt.Fprint(w, ", trusted from now on")
	}
	fmt.Fprintf(w, " (ledger key from %s)\n", ledgerFrom)
}

func short(hint string) string {
	if len(hint) > 16 {
		return hint[:16]
	}
	return hint
}

// readLedgerKey reads the ledger checkpoint key a verifier trusts: a note
// verifier key, as gantry keys public --ledger prints it.
func readLedgerKey(path string) (note.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, gantry.Errorf(gantry.ENotFound, "verify: ledger key: %v", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "verify: ledger key %s: %v", path, err)
	}
	return v, nil
}
