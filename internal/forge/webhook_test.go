package forge

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gantry.dev/gantry"
)

const (
	testSecret = "It's a Secret to Everybody"
	shaA       = "9f2c4e1a7b3d5f60182736455463728190abcdef"
	shaB       = "1a2b3c4d5e6f708192a3b4c5d6e7f80918a7b6c5"
	shaC       = "c0ffee00d15ea5e5badc0de5f00dfacade123456"
)

func readPayload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deliveryHeaders are the headers each forge sends with a delivery of
// event, signed (or tokened) with secret.
func deliveryHeaders(ft Type, event string, body []byte, secret string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	switch ft {
	case TypeGitHub:
		h.Set("User-Agent", "GitHub-Hookshot/1a2b3c4")
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		h.Set("X-GitHub-Hook-ID", "123456789")
		h.Set("X-Hub-Signature-256", "sha256="+Sign([]byte(secret), body))
	case TypeGitLab:
		h.Set("User-Agent", "GitLab/18.2.0")
		h.Set("X-Gitlab-Event", event)
		h.Set("X-Gitlab-Token", secret)
		h.Set("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e")
		h.Set("X-Gitlab-Instance", "https://gitlab.acme.example")
	case TypeGitea:
		// Gitea sends its own headers and GitHub's and Gogs' for
		// compatibility.
		h.Set("X-Gitea-Event", event)
		h.Set("X-Gitea-Event-Type", event)
		h.Set("X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473")
		h.Set("X-Gitea-Signature", Sign([]byte(secret), body))
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473")
		h.Set("X-Gogs-Event", event)
		h.Set("X-Hub-Signature-256", "sha256="+Sign([]byte(secret), body))
	}
	return h
}

func newDelivery(ft Type, event string, body []byte, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/orders", bytes.NewReader(body))
	r.Header = deliveryHeaders(ft, event, body, secret)
	return r
}

var (
	githubRepoOrders = Repo{FullName: "acme/orders", ID: "481516", CloneURL: "https://github.com/acme/orders.git",
		WebURL: "https://github.com/acme/orders", DefaultBranch: "main"}
	gitlabRepoOrders = Repo{FullName: "shop/backend/orders", ID: "15", CloneURL: "https://gitlab.acme.example/shop/backend/orders.git",
		WebURL: "https://gitlab.acme.example/shop/backend/orders", DefaultBranch: "main", Private: true}
	giteaRepoOrders = Repo{FullName: "acme/orders", ID: "31", CloneURL: "https://gitea.acme.example/acme/orders.git",
		WebURL: "https://gitea.acme.example/acme/orders", DefaultBranch: "main", Private: true}
)

func TestParseWebhookGood(t *testing.T) {
	const ghDelivery, glDelivery, gtDelivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958", "13792a34-cac6-4fda-95a8-c58e00a3954e", "f6266f16-1bf3-46a5-9ea4-602e06ead473"
	withRepo := func(r Repo, f func(*Repo)) Repo { f(&r); return r }
	tests := []struct {
		file  string
		forge Type
		event string
		want  *Event
		run   bool
	}{
		{"github/push.json", TypeGitHub, "push", &Event{
			Forge: TypeGitHub, Kind: EventPush, Delivery: ghDelivery, Repo: githubRepoOrders,
			Ref: "refs/heads/main", Branch: "main", Commit: shaA, Before: shaB,
			Author:  Author{Login: "ada", Email: "ada@acme.example"},
			Changed: []string{"README.md", "export/csv.go", "export/legacy.go", "go.mod"},
		}, true},
		{"github/push_deleted.json", TypeGitHub, "push", &Event{
			Forge: TypeGitHub, Kind: EventPush, Delivery: ghDelivery, Repo: githubRepoOrders,
			Ref: "refs/heads/feature/old", Branch: "feature/old", Before: shaB, Deleted: true,
			Author: Author{Login: "ada", Email: "ada@acme.example"},
		}, false},
		{"github/push_tag.json", TypeGitHub, "push", &Event{
			Forge: TypeGitHub, Kind: EventPush, Delivery: ghDelivery, Repo: withRepo(githubRepoOrders, func(r *Repo) { r.Private = true }),
			Ref: "refs/tags/v1.4.0", Tag: "v1.4.0", Commit: shaA, Before: strings.Repeat("0", 40), Created: true,
			Author: Author{Login: "release-bot", Email: "bot@acme.example"},
		}, true},
		{"github/pull_request_opened.json", TypeGitHub, "pull_request", &Event{
			Forge: TypeGitHub, Kind: EventPullRequest, Delivery: ghDelivery, Repo: githubRepoOrders,
			HeadRepo: withRepo(githubRepoOrders, func(r *Repo) { r.ID = "271828" }),
			Ref:      "refs/pull/42/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaA,
			PRNumber: 42, PRAction: PROpened, PRURL: "https://github.com/acme/orders/pull/42",
			Author: Author{Login: "grace"},
		}, true},
		{"github/pull_request_synchronize_fork.json", TypeGitHub, "pull_request", &Event{
			Forge: TypeGitHub, Kind: EventPullRequest, Delivery: ghDelivery, Repo: githubRepoOrders,
			HeadRepo: Repo{FullName: "grace/orders", ID: "271828", CloneURL: "https://github.com/grace/orders.git",
				WebURL: "https://github.com/grace/orders", DefaultBranch: "main"},
			Ref: "refs/pull/43/head", Branch: "fix-typo", BaseBranch: "main", Commit: shaC, Before: shaA,
			PRNumber: 43, PRAction: PRUpdated, PRURL: "https://github.com/acme/orders/pull/43",
			Author: Author{Login: "grace"},
		}, true},
		{"github/pull_request_closed_merged.json", TypeGitHub, "pull_request", &Event{
			Forge: TypeGitHub, Kind: EventPullRequest, Delivery: ghDelivery, Repo: githubRepoOrders,
			HeadRepo: withRepo(githubRepoOrders, func(r *Repo) { r.ID = "271828" }),
			Ref:      "refs/pull/42/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaA,
			PRNumber: 42, PRAction: PRMerged, PRURL: "https://github.com/acme/orders/pull/42",
			Author: Author{Login: "grace"},
		}, false},
		{"github/pull_request_labeled.json", TypeGitHub, "pull_request", &Event{
			Forge: TypeGitHub, Kind: EventPullRequest, Delivery: ghDelivery, Repo: githubRepoOrders,
			HeadRepo: withRepo(githubRepoOrders, func(r *Repo) { r.ID = "271828" }),
			Ref:      "refs/pull/42/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaA,
			PRNumber: 42, PRAction: "labeled", PRURL: "https://github.com/acme/orders/pull/42",
			Author: Author{Login: "grace"},
		}, false},
		{"github/ping.json", TypeGitHub, "ping", &Event{
			Forge: TypeGitHub, Kind: EventPing, Delivery: ghDelivery, Repo: githubRepoOrders, Author: Author{Login: "ada"},
		}, false},

		{"gitlab/push.json", TypeGitLab, "Push Hook", &Event{
			Forge: TypeGitLab, Kind: EventPush, Delivery: glDelivery, Repo: gitlabRepoOrders,
			Ref: "refs/heads/main", Branch: "main", Commit: shaA, Before: shaB,
			Author:  Author{Login: "ada", Name: "Ada Lovelace", Email: "ada@acme.example"},
			Changed: []string{"export/csv.go", "export/legacy.go", "go.mod"},
		}, true},
		{"gitlab/push_truncated.json", TypeGitLab, "Push Hook", &Event{
			Forge: TypeGitLab, Kind: EventPush, Delivery: glDelivery, Repo: gitlabRepoOrders,
			Ref: "refs/heads/main", Branch: "main", Commit: shaA, Before: shaB,
			Author: Author{Login: "ada", Name: "Ada Lovelace", Email: "ada@acme.example"},
		}, true},
		{"gitlab/push_deleted.json", TypeGitLab, "Push Hook", &Event{
			Forge: TypeGitLab, Kind: EventPush, Delivery: glDelivery, Repo: gitlabRepoOrders,
			Ref: "refs/heads/feature/old", Branch: "feature/old", Before: shaB, Deleted: true,
			Author: Author{Login: "ada", Name: "Ada Lovelace", Email: "ada@acme.example"},
		}, false},
		{"gitlab/tag_push.json", TypeGitLab, "Tag Push Hook", &Event{
			Forge: TypeGitLab, Kind: EventPush, Delivery: glDelivery, Repo: gitlabRepoOrders,
			Ref: "refs/tags/v1.4.0", Tag: "v1.4.0", Commit: shaA, Before: strings.Repeat("0", 40), Created: true,
			Author: Author{Login: "ada", Name: "Ada Lovelace"},
		}, true},
		{"gitlab/tag_push.json", TypeGitLab, "System Hook", &Event{
			Forge: TypeGitLab, Kind: EventPush, Delivery: glDelivery, Repo: gitlabRepoOrders,
			Ref: "refs/tags/v1.4.0", Tag: "v1.4.0", Commit: shaA, Before: strings.Repeat("0", 40), Created: true,
			Author: Author{Login: "ada", Name: "Ada Lovelace"},
		}, true},
		{"gitlab/merge_request_open.json", TypeGitLab, "Merge Request Hook", &Event{
			Forge: TypeGitLab, Kind: EventPullRequest, Delivery: glDelivery, Repo: gitlabRepoOrders, HeadRepo: gitlabRepoOrders,
			Ref: "refs/merge-requests/7/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaA,
			PRNumber: 7, PRAction: PROpened, PRURL: "https://gitlab.acme.example/shop/backend/orders/-/merge_requests/7",
			Author: Author{Login: "grace", Name: "Grace Hopper"},
		}, true},
		{"gitlab/merge_request_update_commits.json", TypeGitLab, "Merge Request Hook", &Event{
			Forge: TypeGitLab, Kind: EventPullRequest, Delivery: glDelivery, Repo: gitlabRepoOrders,
			HeadRepo: Repo{FullName: "grace/orders", ID: "16", CloneURL: "https://gitlab.acme.example/grace/orders.git",
				WebURL: "https://gitlab.acme.example/grace/orders", DefaultBranch: "main", Private: true},
			Ref: "refs/merge-requests/7/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaA, Before: shaC,
			PRNumber: 7, PRAction: PRUpdated, PRURL: "https://gitlab.acme.example/shop/backend/orders/-/merge_requests/7",
			Author: Author{Login: "grace", Name: "Grace Hopper"},
		}, true},
		{"gitlab/merge_request_update_title.json", TypeGitLab, "Merge Request Hook", &Event{
			Forge: TypeGitLab, Kind: EventPullRequest, Delivery: glDelivery, Repo: gitlabRepoOrders, HeadRepo: gitlabRepoOrders,
			Ref: "refs/merge-requests/7/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaA,
			PRNumber: 7, PRAction: PREdited, PRURL: "https://gitlab.acme.example/shop/backend/orders/-/merge_requests/7",
			Author: Author{Login: "grace", Name: "Grace Hopper"},
		}, false},
		{"gitlab/merge_request_merge.json", TypeGitLab, "Merge Request Hook", &Event{
			Forge: TypeGitLab, Kind: EventPullRequest, Delivery: glDelivery, Repo: gitlabRepoOrders, HeadRepo: gitlabRepoOrders,
			Ref: "refs/merge-requests/7/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaA,
			PRNumber: 7, PRAction: PRMerged, PRURL: "https://gitlab.acme.example/shop/backend/orders/-/merge_requests/7",
			Author: Author{Login: "grace", Name: "Grace Hopper"},
		}, false},

		{"gitea/push.json", TypeGitea, "push", &Event{
			Forge: TypeGitea, Kind: EventPush, Delivery: gtDelivery, Repo: giteaRepoOrders,
			Ref: "refs/heads/main", Branch: "main", Commit: shaA, Before: shaB,
			Author:  Author{Login: "ada", Name: "Ada Example", Email: "ada@acme.example"},
			Changed: []string{"export/csv.go", "export/legacy.go", "go.mod"},
		}, true},
		{"gitea/pull_request_opened.json", TypeGitea, "pull_request", &Event{
			Forge: TypeGitea, Kind: EventPullRequest, Delivery: gtDelivery, Repo: giteaRepoOrders, HeadRepo: giteaRepoOrders,
			Ref: "refs/pull/5/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaA,
			PRNumber: 5, PRAction: PROpened, PRURL: "https://gitea.acme.example/acme/orders/pulls/5",
			Author: Author{Login: "grace", Name: "Grace Example"},
		}, true},
		{"gitea/pull_request_synchronized.json", TypeGitea, "pull_request", &Event{
			Forge: TypeGitea, Kind: EventPullRequest, Delivery: gtDelivery, Repo: giteaRepoOrders,
			HeadRepo: Repo{FullName: "grace/orders", ID: "32", CloneURL: "https://gitea.acme.example/grace/orders.git",
				WebURL: "https://gitea.acme.example/grace/orders", DefaultBranch: "main", Private: true},
			Ref: "refs/pull/6/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaC,
			PRNumber: 6, PRAction: PRUpdated, PRURL: "https://gitea.acme.example/acme/orders/pulls/6",
			Author: Author{Login: "grace", Name: "Grace Example"},
		}, true},
		{"gitea/pull_request_closed.json", TypeGitea, "pull_request", &Event{
			Forge: TypeGitea, Kind: EventPullRequest, Delivery: gtDelivery, Repo: giteaRepoOrders, HeadRepo: giteaRepoOrders,
			Ref: "refs/pull/5/head", Branch: "feature/csv-export", BaseBranch: "main", Commit: shaA,
			PRNumber: 5, PRAction: PRClosed, PRURL: "https://gitea.acme.example/acme/orders/pulls/5",
			Author: Author{Login: "grace", Name: "Grace Example"},
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.event, func(t *testing.T) {
			body := readPayload(t, tt.file)
			got, err := ParseWebhook(newDelivery(tt.forge, tt.event, body, testSecret), []byte(testSecret))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("event (-want +got):\n%s", d)
			}
			if got.ShouldRun() != tt.run {
				t.Errorf("ShouldRun() = %v, want %v", got.ShouldRun(), tt.run)
			}
			if s := got.String(); !strings.Contains(s, got.Repo.FullName) {
				t.Errorf("String() = %q, want the repository in it", s)
			}
		})
	}
}

func TestIsFork(t *testing.T) {
	for file, want := range map[string]bool{
		"github/pull_request_opened.json":           false,
		"github/pull_request_synchronize_fork.json": true,
	} {
		e, err := ParseGitHub(deliveryHeaders(TypeGitHub, "pull_request", readPayload(t, file), testSecret), readPayload(t, file), []byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		if e.IsFork() != want {
			t.Errorf("%s: IsFork() = %v, want %v", file, e.IsFork(), want)
		}
	}
}

// TestFormEncoded checks GitHub's and Gitea's
// application/x-www-form-urlencoded deliveries, whose signature covers the
// form body.
func TestFormEncoded(t *testing.T) {
	for _, ft := range []Type{TypeGitHub, TypeGitea} {
		dir := string(ft)
		js := readPayload(t, dir+"/push.json")
		body := []byte(url.Values{"payload": {string(js)}}.Encode())
		r := newDelivery(ft, "push", body, testSecret)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		e, err := ParseWebhook(r, []byte(testSecret))
		if err != nil {
			t.Fatalf("%s: %v", ft, err)
		}
		if e.Commit != shaA || e.Branch != "main" {
			t.Errorf("%s: got commit %q branch %q", ft, e.Commit, e.Branch)
		}
	}
}

func TestParseWebhookBad(t *testing.T) {
	ghPush := readPayload(t, "github/push.json")
	glPush := readPayload(t, "gitlab/push.json")
	gtPush := readPayload(t, "gitea/push.json")
	ghPR := readPayload(t, "github/pull_request_opened.json")
	glMR := readPayload(t, "gitlab/merge_request_open.json")

	// edit returns the payload with one JSON field replaced or removed.
	edit := func(body []byte, old, new string) []byte {
		if !bytes.Contains(body, []byte(old)) {
			t.Fatalf("payload has no %q", old)
		}
		return bytes.Replace(body, []byte(old), []byte(new), 1)
	}
	type request struct {
		forge  Type
		event  string
		body   []byte
		mutate func(r *http.Request)
		secret string // the server's; "" means testSecret
	}
	tests := []struct {
		name string
		req  request
		kind string
		msg  string
		is   error
	}{
		{"unknown forge", request{TypeGitHub, "push", ghPush, func(r *http.Request) { r.Header.Del("X-GitHub-Event") }, ""},
			gantry.EInvalid, "not from a known forge", nil},
		{"github unsigned", request{TypeGitHub, "push", ghPush, func(r *http.Request) { r.Header.Del("X-Hub-Signature-256") }, ""},
			gantry.EUnauthorized, "no X-Hub-Signature-256 header", nil},
		{"github sha1 only", request{TypeGitHub, "push", ghPush, func(r *http.Request) {
			r.Header.Set("X-Hub-Signature-256", "sha1=0123456789abcdef0123456789abcdef01234567")
		}, ""}, gantry.EUnauthorized, "not of the form sha256=<hex>", nil},
		{"github signature not hex", request{TypeGitHub, "push", ghPush, func(r *http.Request) {
			r.Header.Set("X-Hub-Signature-256", "sha256=zz")
		}, ""}, gantry.EUnauthorized, "is not a hex HMAC-SHA256", nil},
		{"github wrong secret", request{TypeGitHub, "push", ghPush, nil, "another secret"},
			gantry.EUnauthorized, "does not match the body", nil},
		{"github body altered", request{TypeGitHub, "push", ghPush, func(r *http.Request) {
			r.Body = io.NopCloser(bytes.NewReader(edit(ghPush, `"ref": "refs/heads/main"`, `"ref": "refs/heads/prod"`)))
		}, ""}, gantry.EUnauthorized, "does not match the body", nil},
		{"no secret configured", request{TypeGitHub, "push", ghPush, func(r *http.Request) {
			r.Header.Set("X-Hub-Signature-256", "sha256="+Sign(nil, ghPush))
		}, "-"}, gantry.EUnauthorized, "no secret is configured", nil},
		{"github unknown event", request{TypeGitHub, "issues", []byte(`{"action":"opened"}`), nil, ""},
			gantry.EInvalid, `event "issues" is not push, pull_request or ping`, ErrUnsupportedEvent},
		{"github malformed json", request{TypeGitHub, "push", []byte(`{"ref": "refs/heads/main",`), nil, ""},
			gantry.EInvalid, "decode payload: invalid JSON at byte 26: unexpected end of JSON input", nil},
		{"github invalid json", request{TypeGitHub, "push", []byte(`{"ref" "refs/heads/main"}`), nil, ""},
			gantry.EInvalid, "decode payload: invalid JSON at byte 8: invalid character", nil},
		{"github not an object", request{TypeGitHub, "push", []byte(`[1,2,3]`), nil, ""},
			gantry.EInvalid, "the payload is a JSON array, want an object", nil},
		{"github push no ref", request{TypeGitHub, "push", edit(ghPush, `"ref": "refs/heads/main",`, ``), nil, ""},
			gantry.EInvalid, "github push webhook: missing ref", nil},
		{"github push notes ref", request{TypeGitHub, "push", edit(ghPush, `"refs/heads/main"`, `"refs/notes/commits"`), nil, ""},
			gantry.EInvalid, "neither a branch nor a tag", ErrUnsupportedEvent},
		{"github push no after", request{TypeGitHub, "push", edit(ghPush, `"after": "`+shaA+`",`, ``), nil, ""},
			gantry.EInvalid, "github push webhook: missing after", nil},
		{"github push bad after", request{TypeGitHub, "push", edit(ghPush, `"after": "`+shaA+`"`, `"after": "HEAD~1"`), nil, ""},
			gantry.EInvalid, "after is not a commit ID", nil},
		{"github push no repository", request{TypeGitHub, "push", []byte(`{"ref":"refs/heads/main","after":"` + shaA + `"}`), nil, ""},
			gantry.EInvalid, "github push webhook: missing repository", nil},
		{"github push no clone url", request{TypeGitHub, "push", edit(ghPush, `"clone_url": "https://github.com/acme/orders.git",`, ``), nil, ""},
			gantry.EInvalid, "missing repository.clone_url", nil},
		{"github push dash branch", request{TypeGitHub, "push", edit(ghPush, `"refs/heads/main"`, `"refs/heads/--upload-pack=evil"`), nil, ""},
			gantry.EInvalid, "branch starts with a dash", nil},
		{"github push ref control char", request{TypeGitHub, "push", edit(ghPush, `"refs/heads/main"`, `"-x\n"`), nil, ""},
			gantry.EInvalid, "starts with a dash", nil},
		{"github pr no pull_request", request{TypeGitHub, "pull_request", []byte(`{"action":"opened","number":1}`), nil, ""},
			gantry.EInvalid, "missing pull_request", nil},
		{"github pr no head sha", request{TypeGitHub, "pull_request", edit(ghPR, `"sha": "`+shaA+`",`, ``), nil, ""},
			gantry.EInvalid, "missing pull_request.head.sha", nil},
		{"github pr no action", request{TypeGitHub, "pull_request", edit(ghPR, `"action": "opened",`, ``), nil, ""},
			gantry.EInvalid, "missing action", nil},
		{"github pr number is a string", request{TypeGitHub, "pull_request", edit(ghPR, `"number": 42,`, `"number": "42",`), nil, ""},
			gantry.EInvalid, "decode payload: number is a JSON string, want a number", nil},
		{"github ping empty", request{TypeGitHub, "ping", []byte(`{}`), nil, ""},
			gantry.EInvalid, "missing zen and hook_id", nil},
		{"get method", request{TypeGitHub, "push", ghPush, func(r *http.Request) { r.Method = http.MethodGet }, ""},
			gantry.EInvalid, "method GET, want POST", nil},
		{"form without payload", request{TypeGitHub, "push", []byte("other=1"), func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}, ""}, gantry.EInvalid, "form body has no payload field", nil},

		{"gitlab no token", request{TypeGitLab, "Push Hook", glPush, func(r *http.Request) { r.Header.Del("X-Gitlab-Token") }, ""},
			gantry.EUnauthorized, "no X-Gitlab-Token header", nil},
		{"gitlab wrong token", request{TypeGitLab, "Push Hook", glPush, nil, "It's a Secret to Everybody!"},
			gantry.EUnauthorized, "X-Gitlab-Token does not match", nil},
		{"gitlab empty token", request{TypeGitLab, "Push Hook", glPush, func(r *http.Request) { r.Header.Set("X-Gitlab-Token", "") }, ""},
			gantry.EUnauthorized, "X-Gitlab-Token does not match", nil},
		{"gitlab unknown event", request{TypeGitLab, "Issue Hook", []byte(`{"object_kind":"issue"}`), nil, ""},
			gantry.EInvalid, `event "Issue Hook" is not`, ErrUnsupportedEvent},
		{"gitlab system hook of another kind", request{TypeGitLab, "System Hook", []byte(`{"object_kind":"user_create"}`), nil, ""},
			gantry.EInvalid, `object_kind "user_create"`, ErrUnsupportedEvent},
		{"gitlab kind mismatch", request{TypeGitLab, "Push Hook", glMR, nil, ""},
			gantry.EInvalid, `object_kind is "merge_request", want "push"`, nil},
		{"gitlab no object_kind", request{TypeGitLab, "System Hook", []byte(`{}`), nil, ""},
			gantry.EInvalid, "missing object_kind", nil},
		{"gitlab malformed json", request{TypeGitLab, "Push Hook", []byte(`{"object_kind":`), nil, ""},
			gantry.EInvalid, "decode payload", nil},
		{"gitlab push no project", request{TypeGitLab, "Push Hook", []byte(`{"object_kind":"push","ref":"refs/heads/main","after":"` + shaA + `"}`), nil, ""},
			gantry.EInvalid, "gitlab push webhook: missing project", nil},
		{"gitlab push bad checkout sha", request{TypeGitLab, "Push Hook", edit(glPush, `"checkout_sha": "`+shaA+`"`, `"checkout_sha": "main"`), nil, ""},
			gantry.EInvalid, "checkout_sha is not a commit ID", nil},
		{"gitlab mr no attributes", request{TypeGitLab, "Merge Request Hook", []byte(`{"object_kind":"merge_request"}`), nil, ""},
			gantry.EInvalid, "missing object_attributes", nil},
		{"gitlab mr no last commit", request{TypeGitLab, "Merge Request Hook", edit(glMR, `"last_commit": {`, `"last_commitx": {`), nil, ""},
			gantry.EInvalid, "missing object_attributes.last_commit", nil},
		{"gitlab mr no source branch", request{TypeGitLab, "Merge Request Hook", edit(glMR, `"source_branch": "feature/csv-export",`, ``), nil, ""},
			gantry.EInvalid, "missing object_attributes.source_branch", nil},

		{"gitea unsigned", request{TypeGitea, "push", gtPush, func(r *http.Request) {
			r.Header.Del("X-Gitea-Signature")
			r.Header.Del("X-Hub-Signature-256")
		}, ""}, gantry.EUnauthorized, "no X-Gitea-Signature or X-Hub-Signature-256 header", nil},
		{"gitea wrong signature", request{TypeGitea, "push", gtPush, nil, "not it"},
			gantry.EUnauthorized, "X-Gitea-Signature does not match the body", nil},
		{"gitea bad gitea signature not rescued by a good hub one", request{TypeGitea, "push", gtPush, func(r *http.Request) {
			r.Header.Set("X-Gitea-Signature", Sign([]byte("not it"), gtPush))
		}, ""}, gantry.EUnauthorized, "X-Gitea-Signature does not match", nil},
		{"gitea unknown event", request{TypeGitea, "issues", []byte(`{}`), nil, ""},
			gantry.EInvalid, `event "issues" is not push or pull_request`, ErrUnsupportedEvent},
		{"gitea push deleted repository", request{TypeGitea, "push", edit(gtPush, `"full_name": "acme/orders"`, `"full_name": ""`), nil, ""},
			gantry.EInvalid, "missing repository.full_name", nil},
		{"gitea malformed json", request{TypeGitea, "pull_request", []byte(`{"action":1}`), nil, ""},
			gantry.EInvalid, "decode payload", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newDelivery(tt.req.forge, tt.req.event, tt.req.body, testSecret)
			if tt.req.mutate != nil {
				tt.req.mutate(r)
			}
			secret := []byte(testSecret)
			switch tt.req.secret {
			case "":
			case "-":
				secret = nil
			default:
				secret = []byte(tt.req.secret)
			}
			e, err := ParseWebhook(r, secret)
			if err == nil {
				t.Fatalf("ParseWebhook succeeded with %v", e)
			}
			if k := gantry.ErrorKind(err); k != tt.kind {
				t.Errorf("kind %q, want %q (%v)", k, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			if tt.is == nil && errors.Is(err, ErrUnsupportedEvent) {
				t.Errorf("error %q is ErrUnsupportedEvent", err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q holds the secret", err)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	big := bytes.Repeat([]byte(" "), MaxBodySize+1)
	r := newDelivery(TypeGitHub, "push", big, testSecret)
	_, err := ParseWebhook(r, []byte(testSecret))
	if gantry.ErrorKind(err) != gantry.EInvalid || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized body: %v", err)
	}
	// A body that lies about its length is cut at the limit all the same.
	r = newDelivery(TypeGitHub, "push", big, testSecret)
	r.ContentLength = -1
	if _, err := ReadBody(r, MaxBodySize); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("chunked oversized body: %v", err)
	}
	// Exactly the limit is accepted by ReadBody.
	r = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(big[:100]))
	if b, err := ReadBody(r, 100); err != nil || len(b) != 100 {
		t.Fatalf("ReadBody at the limit: %d bytes, %v", len(b), err)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		headers map[string]string
		want    Type
	}{
		{map[string]string{"X-GitHub-Event": "push"}, TypeGitHub},
		{map[string]string{"X-Gitlab-Event": "Push Hook"}, TypeGitLab},
		{map[string]string{"X-GitHub-Event": "push", "X-Gogs-Event": "push", "X-Gitea-Event": "push"}, TypeGitea},
		{map[string]string{"X-GitHub-Event": "push", "X-Gitea-Event": "push", "X-Forgejo-Event": "push"}, TypeGitea},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.headers {
			h.Set(k, v)
		}
		got, err := Detect(h)
		if err != nil || got != tt.want {
			t.Errorf("Detect(%v) = %q, %v; want %q", tt.headers, got, err, tt.want)
		}
	}
}

// TestForgejo checks a Forgejo delivery: its own headers, checked first.
func TestForgejo(t *testing.T) {
	body := readPayload(t, "gitea/push.json")
	h := http.Header{}
	h.Set("X-Forgejo-Event", "push")
	h.Set("X-Forgejo-Delivery", "d1")
	h.Set("X-Forgejo-Signature", Sign([]byte(testSecret), body))
	h.Set("X-Gitea-Event", "push")
	h.Set("X-Gitea-Signature", Sign([]byte("stale"), body))
	e, err := ParseGitea(h, body, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if e.Delivery != "d1" || e.Forge != TypeGitea {
		t.Errorf("got %+v", e)
	}
	h.Set("X-Forgejo-Signature", Sign([]byte("stale"), body))
	h.Set("X-Gitea-Signature", Sign([]byte(testSecret), body))
	if _, err := ParseGitea(h, body, []byte(testSecret)); gantry.ErrorKind(err) != gantry.EUnauthorized {
		t.Errorf("a bad X-Forgejo-Signature beside a good X-Gitea-Signature: %v", err)
	}
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]Type{"GitHub": TypeGitHub, "gitlab": TypeGitLab, " gitea ": TypeGitea, "forgejo": TypeGitea} {
		if got, ok := ParseType(in); !ok || got != want {
			t.Errorf("ParseType(%q) = %q, %v", in, got, ok)
		}
	}
	if _, ok := ParseType("bitbucket"); ok {
		t.Error("ParseType(bitbucket) ok")
	}
}
