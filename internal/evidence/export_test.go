package evidence

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry"
)

// exportWorld exports the evidence of one run of app.
func exportWorld(t *testing.T) (*world, gantry.Digest, []byte) {
	t.Helper()
	w := newWorld(t)
	_, tarball := w.build(w.signer, "v1")
	runs, err := w.store.Runs(context.Background(), gantry.RunFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(w.dir, "keys", SigningPubFile))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Export(context.Background(), w.store, runs[0].ID, &buf, ExportOptions{SigningKey: pub, LedgerKey: []byte(w.keys.LedgerKey)}); err != nil {
		t.Fatal(err)
	}
	return w, tarball, buf.Bytes()
}

func TestBundleVerifies(t *testing.T) {
	w, tarball, data := exportWorld(t)
	b, err := ReadBundle(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := VerifyArtifact(context.Background(), b, "app.tar", tarball, w.opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Steps) != 2 || len(ch.Gates) != 1 {
		t.Errorf("chain: %d steps, %d gates; want 2 and 1", len(ch.Steps), len(ch.Gates))
	}
}

// rewriteTar returns the tar data with file name's content changed by f.
func rewriteTar(t *testing.T, data []byte, name string, f func([]byte) []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	found := false
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(tr); err != nil {
			t.Fatal(err)
		}
		content := b.Bytes()
		if h.Name == name {
			content, found = f(content), true
		}
		h.Size = int64(len(content))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(content)
	}
	tw.Close()
	if !found {
		t.Fatalf("no %s in the bundle", name)
	}
	return out.Bytes()
}

func TestBundleTampering(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		change     func([]byte) []byte
		want       string
	}{
		{"envelope", "attestations/steps/package.dsse.json", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"payloadType"`), []byte(` "payloadType"`), 1)
		}, "its envelope was altered"},
		{"sigstore bundle", "bundles/steps/package.sigstore.json", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"payload":"`), []byte(`"payload":"eyAg`), 1)
		}, "its Sigstore bundle holds another envelope"},
		{"checkpoint", "checkpoint", func(b []byte) []byte {
			return bytes.Replace(b, []byte("\n3\n"), []byte("\n4\n"), 1)
		}, "signature"},
		{"proof", "proofs/1.json", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"index": 1`), []byte(`"index": 0`), 1)
		}, "ledger entry 1"},
		{"manifest subject", "manifest.json", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"ledger_index": 1`), []byte(`"ledger_index": 0`), 1)
		}, "ledger entry 0 records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, tarball, data := exportWorld(t)
			b, err := ReadBundle(bytes.NewReader(rewriteTar(t, data, tc.file, tc.change)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = VerifyArtifact(context.Background(), b, "app.tar", tarball, w.opts())
			if err == nil || !strings.Contains(gantry.ErrorMessageOrText(err), tc.want) {
				t.Errorf("verify: %v\nwant it to say %q", err, tc.want)
			}
		})
	}
}

func TestReadBundleRefusesMalformed(t *testing.T) {
	_, _, data := exportWorld(t)
	for name, in := range map[string][]byte{
		"not tar":      []byte("PEM or something"),
		"no manifest":  {},
		"bad manifest": rewriteTar(t, data, "manifest.json", func([]byte) []byte { return []byte("{") }),
		"version":      rewriteTar(t, data, "manifest.json", func(b []byte) []byte { return bytes.Replace(b, []byte(`"version": 1`), []byte(`"version": 9`), 1) }),
	} {
		if _, err := ReadBundle(bytes.NewReader(in)); gantry.ErrorKind(err) != gantry.EInvalid {
			t.Errorf("%s: ReadBundle = %v, want EInvalid", name, err)
		}
	}
}

func FuzzReadBundle(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("manifest.json"))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	m := []byte(`{"version":1,"attestations":[{"digest":"sha256:00","envelope":"a","bundle":"b"}],"proofs":{"0":"p"}}`)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Size: int64(len(m)), Mode: 0o644})
	tw.Write(m)
	tw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ReadBundle(bytes.NewReader(data))
		if err != nil {
			if gantry.ErrorKind(err) != gantry.EInvalid {
				t.Fatalf("error of kind %v: %v", gantry.ErrorKind(err), err)
			}
			return
		}
		ctx := context.Background()
		b.Checkpoint(ctx)
		b.Inclusion(ctx, 0)
		b.Consistency(ctx, 0)
		b.Attestations(ctx, gantry.AttestationFilter{RunID: "x"})
	})
}
