package secrets

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tricky holds texts where matches sit at the edges of what the engine's
// shortcuts assume: multi-line assignments, keywords inside words, matches
// at the start and end of the text, several on a line.
var tricky = []string{
	"password =\n  \"" + "Zq8vLm3Nw0Rt5Yx2Kp7Hs" + "\"\n",
	"api_key:\n\n\t'" + "A1b2C3d4E5f6G7h8I9j0" + "'\n",
	fakeAWS,
	"x" + fakeAWS + "x " + fakeAWS + ";" + fakeAWS,
	"token=" + "abc123DEF456ghi789" + " secret=" + "ZYX987wvu654TSR321" + "\n",
	"ey" + "JhbGciOiJIUzI1NiJ9" + ".ey" + "JzdWIiOiIxMjM0NTY3ODkwIn0" + ".c2lnbmF0dXJlMTIzNDU2",
	"-----BEGIN RSA PRIVATE" + " KEY-----\n" + strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n", 4) + "-----END RSA PRIVATE KEY-----",
	"key = " + strings.Repeat("a", 40) + "\nmonkey_key=" + "Q2w3E4r5T6y7U8i9O0p1" + "\n",
	"sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + " rk_test_" + "abcdefghij0123456789",
	"DATABASE_URL=postgres://u:" + fakeDBPass + "@h/db postgres://u:" + fakeDBPass + "@h2/db",
	"xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx",
	"s.ABCDEFGHIJKLMNOPQRSTUVWX s.abcdefghijklmnopqrstuvwx os.Exit(1)",
}

// TestEngineMatchesFullSearch checks the engine's shortcuts against
// running each rule's expression over the whole text, on the corpus, on
// part of Go's own source, and on tricky texts.
func TestEngineMatchesFullSearch(t *testing.T) {
	s := newScanner(t, Options{})
	texts := map[string][]byte{}
	for i, x := range tricky {
		texts[fmt.Sprintf("tricky%d.env", i)] = []byte(x)
	}
	add := func(root string, limit int) {
		n := 0
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || n >= limit {
				return nil
			}
			data, err := os.ReadFile(p)
			if err == nil && !isBinary(data) {
				texts[p] = data
				n += len(data)
			}
			return nil
		})
	}
	add(corpus, 1<<20)
	limit := 512 << 10
	if testing.Short() {
		limit = 128 << 10
	}
	src := filepath.Join(goroot(t), "src")
	add(filepath.Join(src, "crypto", "tls"), limit)
	add(filepath.Join(src, "net", "http"), limit)
	if extra := os.Getenv("GANTRY_SECRETS_EQUIV_DIR"); extra != "" {
		add(extra, 1<<40) // a one-off, wider check
	}

	d := newDetector(s.rules, s.allow, false)
	checked := 0
	for name, data := range texts {
		// Which rules have keyword hits, as detect finds them.
		d.detect(&text{path: name, data: data})
		for _, ri := range d.active {
			r := s.rules.rules[ri]
			if r.mode != modeAnchored && r.mode != modeWindow {
				continue
			}
			d.spans = d.spans[:0]
			if r.mode == modeAnchored {
				d.findAnchored(r, data, d.kwHits[ri])
			} else {
				d.findWindowed(r, data, d.kwHits[ri])
			}
			var got, want [][2]int
			got = append(got, d.spans...)
			for _, m := range r.re.FindAllIndex(data, -1) {
				want = append(want, [2]int{m[0], m[1]})
			}
			slices.SortFunc(got, func(a, b [2]int) int { return a[0] - b[0] })
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s, rule %s (%s): spans (-full search +engine):\n%s", name, r.id, r.mode, diff)
			}
			checked++
		}
	}
	t.Logf("%d texts, %d rule runs compared", len(texts), checked)
}

func TestKeywordMatcher(t *testing.T) {
	kws := []string{"key", "ey", "s.", "-----begin", "akia", "api", "xoxb-", "secret_key", "k"}
	m, err := newKeywordMatcher(kws)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "KkEeYySs.-aAiIpPxXoObB_ \n\x80"
	for range 200 {
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		type hit struct{ kw, start int }
		var got, want []hit
		m.scan(b, func(kw, start int) { got = append(got, hit{kw, start}) })
		lower := lowerASCII(string(b))
		for i := range lower {
			for k, kw := range kws {
				if strings.HasPrefix(lower[i:], kw) {
					want = append(want, hit{k, i})
				}
			}
		}
		cmpHits := func(a, b hit) int {
			if a.start != b.start {
				return a.start - b.start
			}
			return a.kw - b.kw
		}
		slices.SortFunc(got, cmpHits)
		slices.SortFunc(want, cmpHits)
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(hit{})); diff != "" {
			t.Fatalf("hits in %q (-want +got):\n%s", b, diff)
		}
	}
	for _, bad := range [][]string{{""}, {"Key"}} {
		if _, err := newKeywordMatcher(bad); err == nil {
			t.Errorf("newKeywordMatcher(%q) succeeded", bad)
		}
	}
}

func TestEntropy(t *testing.T) {
	for _, c := range []struct {
		s    string
		want float64
	}{
		{"", 0},
		{"aaaa", 0},
		{"abab", 1},
		{"abcd", 2},
		{"0123456789abcdef", 4},
	} {
		if got := entropy([]byte(c.s)); got != c.want {
			t.Errorf("entropy(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}
