package forge

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"gantry.dev/gantry"
)

// The fuzz targets sign what they are given, so that the parsers behind
// the signature check are reached; their seeds are the testdata payloads
// (f.Add) and the corpus under testdata/fuzz.

// addPayloads seeds a fuzz target with every payload of a forge.
func addPayloads(f *testing.F, dir string, add func(event string, body []byte)) {
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no payloads in testdata/%s: %v", dir, err)
	}
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(eventOfFile(dir, filepath.Base(p)), body)
	}
}

// eventOfFile names the event header a payload file is delivered with.
func eventOfFile(dir, name string) string {
	switch {
	case dir == "gitlab" && strings.HasPrefix(name, "merge_request"):
		return "Merge Request Hook"
	case dir == "gitlab" && strings.HasPrefix(name, "tag_push"):
		return "Tag Push Hook"
	case dir == "gitlab":
		return "Push Hook"
	case strings.HasPrefix(name, "pull_request"):
		return "pull_request"
	case strings.HasPrefix(name, "ping"):
		return "ping"
	}
	return "push"
}

// checkParsed asserts what every parser promises, whatever its input: a
// verified delivery is either refused as invalid, or gives an event that
// is whole.
func checkParsed(t *testing.T, ft Type, e *Event, err error) {
	t.Helper()
	if err != nil {
		var ge *gantry.Error
		if !errors.As(err, &ge) {
			t.Fatalf("error %v (%T) is not a *gantry.Error", err, err)
		}
		if ge.Kind != gantry.EInvalid {
			t.Fatalf("a signed delivery refused as %s: %v", ge.Kind, err)
		}
		if !strings.HasPrefix(err.Error(), string(ft)+" ") {
			t.Fatalf("error %q does not name the forge", err)
		}
		return
	}
	if e == nil {
		t.Fatal("nil event and nil error")
	}
	if e.Forge != ft {
		t.Fatalf("forge %q, want %q", e.Forge, ft)
	}
	switch e.Kind {
	case EventPush:
		if e.Deleted == (e.Commit != "") {
			t.Fatalf("push: deleted %v with commit %q", e.Deleted, e.Commit)
		}
		if (e.Branch == "") == (e.Tag == "") {
			t.Fatalf("push: branch %q, tag %q: want exactly one", e.Branch, e.Tag)
		}
		if e.Deleted && e.Changed != nil {
			t.Fatalf("push deleting its ref lists changes %v", e.Changed)
		}
	case EventPullRequest:
		if e.PRNumber <= 0 || e.Branch == "" || e.BaseBranch == "" || e.PRAction == "" {
			t.Fatalf("pull request not whole: %+v", e)
		}
	case EventPing:
		if ft != TypeGitHub {
			t.Fatalf("a ping from %s", ft)
		}
	default:
		t.Fatalf("kind %q", e.Kind)
	}
	if e.Kind != EventPing {
		if e.Repo.FullName == "" || e.Repo.CloneURL == "" {
			t.Fatalf("repository not whole: %+v", e.Repo)
		}
		if e.Commit != "" && !isSHA(e.Commit) {
			t.Fatalf("commit %q is not a commit ID", e.Commit)
		}
		if e.Before != "" && !isSHA(e.Before) {
			t.Fatalf("before %q is not a commit ID", e.Before)
		}
		for _, name := range []string{e.Branch, e.BaseBranch, e.Tag} {
			if strings.HasPrefix(name, "-") || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("name %q would reach git unsafely", name)
			}
		}
	}
	_ = e.String()
	_ = e.ShouldRun()
}

func FuzzParseGitHub(f *testing.F) {
	addPayloads(f, "github", func(event string, body []byte) { f.Add(event, "application/json", body) })
	f.Add("push", "application/x-www-form-urlencoded", []byte("payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D"))
	f.Fuzz(func(t *testing.T, event, contentType string, body []byte) {
		h := deliveryHeaders(TypeGitHub, event, body, testSecret)
		h.Set("Content-Type", contentType)
		e, err := ParseGitHub(h, body, []byte(testSecret))
		if event == "" && err == nil {
			t.Fatal("no event header accepted")
		}
		checkParsed(t, TypeGitHub, e, err)
	})
}

func FuzzParseGitLab(f *testing.F) {
	addPayloads(f, "gitlab", func(event string, body []byte) { f.Add(event, body) })
	f.Add("System Hook", []byte(`{"object_kind":"merge_request","object_attributes":{"iid":1}}`))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		h := deliveryHeaders(TypeGitLab, event, body, testSecret)
		e, err := ParseGitLab(h, body, []byte(testSecret))
		checkParsed(t, TypeGitLab, e, err)
	})
}

func FuzzParseGitea(f *testing.F) {
	addPayloads(f, "gitea", func(event string, body []byte) { f.Add(event, "application/json", body) })
	f.Fuzz(func(t *testing.T, event, contentType string, body []byte) {
		h := deliveryHeaders(TypeGitea, event, body, testSecret)
		h.Set("Content-Type", contentType)
		e, err := ParseGitea(h, body, []byte(testSecret))
		checkParsed(t, TypeGitea, e, err)
	})
}

// FuzzVerify checks that no signature or token but the right one passes.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	f.Add("sha256="+Sign([]byte(testSecret), body), body)
	f.Add(Sign([]byte(testSecret), body), body)
	f.Add(testSecret, body)
	f.Add("sha256=", []byte{})
	f.Add("sha256="+strings.ToUpper(Sign([]byte(testSecret), body)), body)
	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		right := Sign([]byte(testSecret), body)
		check := func(name string, err error, ok bool) {
			if ok && err != nil {
				t.Fatalf("%s: the right proof %q refused: %v", name, sig, err)
			}
			if !ok && gantry.ErrorKind(err) != gantry.EUnauthorized {
				t.Fatalf("%s: proof %q passed or was refused as %v", name, sig, err)
			}
		}
		hexMatches := func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), right) }

		h := http.Header{}
		h.Set("X-Hub-Signature-256", sig)
		hubSig, isHub := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
		check("github", VerifyGitHub(h, body, []byte(testSecret)), isHub && hexMatches(hubSig))

		h = http.Header{}
		h.Set("X-Gitea-Signature", sig)
		check("gitea", VerifyGitea(h, body, []byte(testSecret)), h.Get("X-Gitea-Signature") != "" && hexMatches(h.Get("X-Gitea-Signature")))

		h = http.Header{}
		h.Set("X-Gitlab-Token", sig)
		check("gitlab", VerifyGitLab(h, []byte(testSecret)), h.Get("X-Gitlab-Token") == testSecret)
	})
}

// FuzzParseWebhook drives the single entry point with headers of any
// forge, signed or not.
func FuzzParseWebhook(f *testing.F) {
	for _, dir := range []string{"github", "gitlab", "gitea"} {
		addPayloads(f, dir, func(event string, body []byte) { f.Add(dir, event, true, body) })
	}
	f.Add("github", "push", false, []byte(`{}`))
	f.Fuzz(func(t *testing.T, forge, event string, signed bool, body []byte) {
		ft := Type(forge)
		secret := testSecret
		if !signed {
			secret = "not the secret"
		}
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		r.Header = deliveryHeaders(ft, event, body, secret)
		e, err := ParseWebhook(r, []byte(testSecret))
		if err == nil && (!signed || e == nil) {
			t.Fatalf("an unsigned delivery passed: %+v", e)
		}
		if err != nil {
			k := gantry.ErrorKind(err)
			if k != gantry.EInvalid && k != gantry.EUnauthorized {
				t.Fatalf("refused as %s: %v", k, err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error %q holds the secret", err)
			}
		}
	})
}

// FuzzForgeMessage checks that whatever a forge answers becomes one
// short, printable line.
func FuzzForgeMessage(f *testing.F) {
	f.Add([]byte(`{"message":"Validation Failed","errors":[{"message":"bad state"}]}`))
	f.Add([]byte(`{"message":{"name":["is too long"]}}`))
	f.Add([]byte(`{"error":"invalid_token"}`))
	f.Add([]byte("<html>\n<h1>502</h1>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m := forgeMessage(body)
		if utf8.RuneCountInString(m) > 300 {
			t.Fatalf("message of %d characters", utf8.RuneCountInString(m))
		}
		if strings.ContainsFunc(m, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("message %q has control characters", m)
		}
	})
}

func FuzzParseRepoURL(f *testing.F) {
	for _, s := range []string{"https://github.com/acme/orders.git", "git@github.com:acme/orders.git",
		"ssh://git@host:22/a/b/c.git", "https://u:p@host/a/b", "orders", "::", "https://host/a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRepoURL(s)
		if err != nil {
			if gantry.ErrorKind(err) != gantry.EInvalid {
				t.Fatalf("refused as %s: %v", gantry.ErrorKind(err), err)
			}
			return
		}
		parts := strings.Split(r.FullName, "/")
		if len(parts) < 2 {
			t.Fatalf("full name %q", r.FullName)
		}
		for _, p := range parts {
			if p == "" || p == "." || p == ".." {
				t.Fatalf("full name %q has an empty or dot segment", r.FullName)
			}
		}
	})
}

// FuzzCloneURL checks that a token never shows in the printed form of
// any clone URL it is put into.
func FuzzCloneURL(f *testing.F) {
	f.Add("https://github.com/acme/orders.git", "ghs_abc123")
	f.Add("http://127.0.0.1:3000/a/b.git", "x")
	f.Fuzz(func(t *testing.T, repoURL, token string) {
		c, err := NewCloneURL(TypeGitHub, repoURL, token)
		if err != nil {
			if gantry.ErrorKind(err) != gantry.EInvalid {
				t.Fatalf("refused as %s: %v", gantry.ErrorKind(err), err)
			}
			return
		}
		// A token that is also a piece of the URL itself cannot be told
		// apart from it; only check tokens the URL does not contain.
		if len(token) < 4 || strings.Contains(c.Plain(), token) || strings.Contains("x-access-token:xxxxx", token) {
			return
		}
		if strings.Contains(c.Redacted(), token) {
			t.Fatalf("Redacted() %q shows the token %q", c.Redacted(), token)
		}
		if !strings.Contains(c.Reveal(), "@") {
			t.Fatalf("Reveal() %q has no credentials", c.Reveal())
		}
	})
}
