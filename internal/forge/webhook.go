package forge

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"gantry.dev/gantry"
)

// MaxBodySize is the largest webhook body accepted. GitHub caps its own at
// 25 MB, but a push or pull request that Gantry acts on is a few kilobytes
// to a few hundred; anything near this is not worth parsing.
const MaxBodySize = 5 << 20

// The headers that name a forge's event, its delivery and its proof.
const (
	headerGitHubEvent     = "X-GitHub-Event"
	headerGitHubDelivery  = "X-GitHub-Delivery"
	headerHubSignature256 = "X-Hub-Signature-256"

	headerGitLabEvent = "X-Gitlab-Event"
	headerGitLabToken = "X-Gitlab-Token"
	headerGitLabUUID  = "X-Gitlab-Event-UUID"

	headerGiteaEvent       = "X-Gitea-Event"
	headerGiteaDelivery    = "X-Gitea-Delivery"
	headerGiteaSignature   = "X-Gitea-Signature"
	headerForgejoEvent     = "X-Forgejo-Event"
	headerForgejoDelivery  = "X-Forgejo-Delivery"
	headerForgejoSignature = "X-Forgejo-Signature"
)

// ErrUnsupportedEvent is matched (errors.Is) by the error for a verified
// webhook of an event Gantry does not act on (an issue comment, a release,
// a push to refs/notes): the forge should be answered with success, not
// asked to retry.
var ErrUnsupportedEvent = errors.New("unsupported webhook event")

// ParseWebhook reads, verifies and parses a webhook request, telling the
// forge from its headers. secret is the webhook's shared secret (on GitLab
// its token); an empty secret refuses every request, since nothing could be
// verified. The body is read up to MaxBodySize.
func ParseWebhook(r *http.Request, secret []byte) (*Event, error) {
	t, err := Detect(r.Header)
	if err != nil {
		return nil, err
	}
	if r.Method != http.MethodPost {
		return nil, gantry.Errorf(gantry.EInvalid, "%s webhook: method %s, want POST", t, r.Method)
	}
	body, err := ReadBody(r, MaxBodySize)
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeGitHub:
		return ParseGitHub(r.Header, body, secret)
	case TypeGitLab:
		return ParseGitLab(r.Header, body, secret)
	default:
		return ParseGitea(r.Header, body, secret)
	}
}

// Detect tells which forge sent a webhook from its event header. Gitea
// also sends X-GitHub-Event (and Forgejo X-Gitea-Event) for compatibility,
// so the most specific header wins.
func Detect(h http.Header) (Type, error) {
	switch {
	case h.Get(headerForgejoEvent) != "", h.Get(headerGiteaEvent) != "":
		return TypeGitea, nil
	case h.Get(headerGitLabEvent) != "":
		return TypeGitLab, nil
	case h.Get(headerGitHubEvent) != "":
		return TypeGitHub, nil
	}
	return "", gantry.Errorf(gantry.EInvalid, "webhook: no %s, %s or %s header: not from a known forge",
		headerGitHubEvent, headerGitLabEvent, headerGiteaEvent)
}

// ReadBody reads a request body of at most limit bytes; a longer one is
// refused without reading past the limit.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	if r.Body == nil {
		return nil, gantry.Errorf(gantry.EInvalid, "webhook: empty body")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "webhook: read body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLarge(limit)
	}
	return body, nil
}

func tooLarge(limit int64) error {
	return gantry.Errorf(gantry.EInvalid, "webhook: body larger than %d bytes", limit)
}

// Sign returns the hex HMAC-SHA256 of body under secret: what GitHub and
// Gitea send (GitHub after "sha256="). For tests and for re-sending a
// delivery by hand.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func noSecret(t Type) error {
	return gantry.Errorf(gantry.EUnauthorized, "%s webhook: no secret is configured, so no delivery can be verified", t)
}

// VerifyGitHub checks X-Hub-Signature-256 against body.
func VerifyGitHub(h http.Header, body, secret []byte) error {
	if len(secret) == 0 {
		return noSecret(TypeGitHub)
	}
	v := h.Get(headerHubSignature256)
	if v == "" {
		return gantry.Errorf(gantry.EUnauthorized, "github webhook: no %s header: the delivery is unsigned", headerHubSignature256)
	}
	hexSig, ok := strings.CutPrefix(v, "sha256=")
	if !ok {
		return gantry.Errorf(gantry.EUnauthorized, "github webhook: %s is not of the form sha256=<hex>", headerHubSignature256)
	}
	return checkHexMAC(TypeGitHub, headerHubSignature256, hexSig, body, secret)
}

// VerifyGitea checks the signature Gitea sends as X-Gitea-Signature (bare
// hex), Forgejo as X-Forgejo-Signature, and both, lately, also as GitHub's
// X-Hub-Signature-256. The most specific header present is the one
// checked: a bad one is not rescued by another.
func VerifyGitea(h http.Header, body, secret []byte) error {
	if len(secret) == 0 {
		return noSecret(TypeGitea)
	}
	for _, name := range []string{headerForgejoSignature, headerGiteaSignature} {
		if v := h.Get(name); v != "" {
			return checkHexMAC(TypeGitea, name, v, body, secret)
		}
	}
	if v := h.Get(headerHubSignature256); v != "" {
		hexSig, ok := strings.CutPrefix(v, "sha256=")
		if !ok {
			return gantry.Errorf(gantry.EUnauthorized, "gitea webhook: %s is not of the form sha256=<hex>", headerHubSignature256)
		}
		return checkHexMAC(TypeGitea, headerHubSignature256, hexSig, body, secret)
	}
	return gantry.Errorf(gantry.EUnauthorized, "gitea webhook: no %s or %s header: the delivery is unsigned", headerGiteaSignature, headerHubSignature256)
}

func checkHexMAC(t Type, header, hexSig string, body, secret []byte) error {
	got, err := hex.DecodeString(strings.TrimSpace(hexSig))
	if err != nil || len(got) != sha256.Size {
		return gantry.Errorf(gantry.EUnauthorized, "%s webhook: %s is not a hex HMAC-SHA256", t, header)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return gantry.Errorf(gantry.EUnauthorized, "%s webhook: %s does not match the body: wrong secret, or the body was altered", t, header)
	}
	return nil
}

// VerifyGitLab checks X-Gitlab-Token, which GitLab sends as the secret
// itself. Both sides are hashed first so that the comparison takes the
// same time whatever the token's length.
func VerifyGitLab(h http.Header, secret []byte) error {
	if len(secret) == 0 {
		return noSecret(TypeGitLab)
	}
	v, ok := h[http.CanonicalHeaderKey(headerGitLabToken)]
	if !ok || len(v) == 0 {
		return gantry.Errorf(gantry.EUnauthorized, "gitlab webhook: no %s header: the delivery carries no secret token", headerGitLabToken)
	}
	got, want := sha256.Sum256([]byte(v[0])), sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return gantry.Errorf(gantry.EUnauthorized, "gitlab webhook: %s does not match the secret", headerGitLabToken)
	}
	return nil
}

// payloadJSON returns the JSON of a verified body: the body itself, or the
// payload field of a form-encoded one (GitHub's and Gitea's
// application/x-www-form-urlencoded content type). The signature covers
// the body as sent, so this runs after verification.
func payloadJSON(t Type, h http.Header, body []byte) ([]byte, error) {
	ct := h.Get("Content-Type")
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, gantry.Errorf(gantry.EInvalid, "%s webhook: content type %q: %w", t, ct, err)
		}
		if mt == "application/x-www-form-urlencoded" {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, gantry.Errorf(gantry.EInvalid, "%s webhook: decode form body: %w", t, err)
			}
			p := form.Get("payload")
			if p == "" {
				return nil, gantry.Errorf(gantry.EInvalid, "%s webhook: form body has no payload field", t)
			}
			return []byte(p), nil
		}
	}
	return body, nil
}

// decodeJSON decodes a payload into v, refusing what is not one JSON
// object.
func decodeJSON(t Type, event string, b []byte, v any) error {
	err := json.Unmarshal(b, v)
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return gantry.Errorf(gantry.EInvalid, "%s %s webhook: decode payload: %s is a JSON %s, want a %s",
			t, event, typeErr.Field, typeErr.Value, jsonKind(typeErr.Type.Kind()))
	case errors.As(err, &typeErr):
		return gantry.Errorf(gantry.EInvalid, "%s %s webhook: decode payload: the payload is a JSON %s, want an object", t, event, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return gantry.Errorf(gantry.EInvalid, "%s %s webhook: decode payload: invalid JSON at byte %d: %w", t, event, syntaxErr.Offset, err)
	}
	return gantry.Errorf(gantry.EInvalid, "%s %s webhook: decode payload: %w", t, event, err)
}

// jsonKind names a Go kind as JSON would.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "object"
	}
	return "number"
}

func unsupported(t Type, format string, args ...any) error {
	return &gantry.Error{
		Kind:    gantry.EInvalid,
		Message: string(t) + " webhook: " + fmt.Sprintf(format, args...),
		Err:     ErrUnsupportedEvent,
	}
}

func missing(t Type, event, field string) error {
	return gantry.Errorf(gantry.EInvalid, "%s %s webhook: missing %s", t, event, field)
}

// zeroSHA is what forges send as the old or new commit of a ref that did
// not or does not exist.
func isZeroSHA(s string) bool {
	return s != "" && strings.Trim(s, "0") == ""
}

// isSHA accepts a full SHA-1 or SHA-256 object name in lower-case hex.
func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkSHA validates an object name from a payload; a forge that sends
// upper case is forgiven.
func checkSHA(t Type, event, field, s string) (string, error) {
	if s == "" {
		return "", missing(t, event, field)
	}
	s = strings.ToLower(s)
	if !isSHA(s) {
		return "", gantry.Errorf(gantry.EInvalid, "%s %s webhook: %s is not a commit ID", t, event, field)
	}
	return s, nil
}

// setRef fills Ref, Branch and Tag from a pushed ref; a ref that is
// neither a branch nor a tag is not acted on.
func setRef(t Type, e *Event, ref string) error {
	if ref == "" {
		return missing(t, "push", "ref")
	}
	if err := checkName(t, "push", "ref", ref); err != nil {
		return err
	}
	e.Ref = ref
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok && b != "" {
		e.Branch = b
		return checkName(t, "push", "branch", b)
	}
	if tag, ok := strings.CutPrefix(ref, "refs/tags/"); ok && tag != "" {
		e.Tag = tag
		return checkName(t, "push", "tag", tag)
	}
	return unsupported(t, "push to %q, which is neither a branch nor a tag", ref)
}

// checkName refuses a ref or branch name git would refuse in ways that
// matter downstream: control characters, and a leading dash that a git
// command line would take for an option.
func checkName(t Type, event, field, s string) error {
	if len(s) > 1024 {
		return gantry.Errorf(gantry.EInvalid, "%s %s webhook: %s is longer than 1024 bytes", t, event, field)
	}
	if strings.HasPrefix(s, "-") {
		return gantry.Errorf(gantry.EInvalid, "%s %s webhook: %s starts with a dash", t, event, field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return gantry.Errorf(gantry.EInvalid, "%s %s webhook: %s has a control character", t, event, field)
		}
	}
	return nil
}

// payloadCommit is the shape of a pushed commit on all three forges.
type payloadCommit struct {
	ID       string   `json:"id"`
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Modified []string `json:"modified"`
}

// changedPaths merges the paths of the listed commits; complete says the
// payload lists every pushed commit.
func changedPaths(commits []payloadCommit, complete bool) []string {
	if !complete || len(commits) == 0 {
		return nil
	}
	seen := map[string]bool{}
	out := []string{}
	for _, c := range commits {
		for _, list := range [][]string{c.Added, c.Removed, c.Modified} {
			for _, p := range list {
				if p != "" && !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// idText renders a forge's numeric ID, sent as a JSON number, as text.
type idText string

func (id *idText) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*id = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	*id = idText(n.String())
	return nil
}
