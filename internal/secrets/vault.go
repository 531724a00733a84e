package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gantry.dev/gantry"
)

// maxVaultResponse bounds what is read of a Vault response.
const maxVaultResponse = 1 << 20

// VaultConfig says how to reach a HashiCorp Vault KV version 2 engine.
type VaultConfig struct {
	Addr      string        // such as https://vault.example.com:8200
	Token     string        // sent as X-Vault-Token
	Namespace string        // sent as X-Vault-Namespace (Vault Enterprise, HCP) when set
	Mount     string        // where the KV v2 engine is mounted; "secret" when empty
	Timeout   time.Duration // of each request; 10s when zero
	// Client makes the requests; when nil, one with Timeout and no
	// redirects. A client given here should refuse redirects too: Go
	// forwards X-Vault-Token to wherever a redirect points.
	Client *http.Client
}

// Vault is a client of a Vault KV v2 secrets engine over its HTTP API: it
// reads, writes, lists and deletes secrets, and their metadata.
type Vault struct {
	addr      *url.URL
	token     string
	namespace string
	mount     string
	timeout   time.Duration
	client    *http.Client
}

// VaultMetadata is the metadata Vault keeps for a secret.
type VaultMetadata struct {
	CurrentVersion int               `json:"current_version"`
	CreatedTime    time.Time         `json:"created_time"`
	UpdatedTime    time.Time         `json:"updated_time"`
	CustomMetadata map[string]string `json:"custom_metadata"`
}

// NewVault returns a client for the KV v2 engine cfg names.
func NewVault(cfg VaultConfig) (*Vault, error) {
	u, err := url.Parse(cfg.Addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "vault address %q must be an http or https URL such as https://vault.example.com:8200", cfg.Addr)
	}
	if cfg.Token == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "vault: no token")
	}
	mount := strings.Trim(cfg.Mount, "/")
	if mount == "" {
		mount = "secret"
	}
	if err := checkVaultPath(mount); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "vault mount %q: %v", cfg.Mount, err)
	}
	v := &Vault{addr: u, token: cfg.Token, namespace: cfg.Namespace, mount: mount, timeout: cfg.Timeout, client: cfg.Client}
	if v.timeout <= 0 {
		v.timeout = 10 * time.Second
	}
	if v.client == nil {
		v.client = &http.Client{
			Timeout: v.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return v, nil
}

// checkVaultPath refuses paths that would not name one place: empty
// segments, dot segments, and characters Vault paths do not use.
func checkVaultPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path %q has an empty or dot segment", p)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
				return fmt.Errorf("path %q holds %q: use letters, digits, '.', '_' and '-'", p, r)
			}
		}
	}
	return nil
}

// Read returns the data of the current version of the secret at path. A
// secret that does not exist, or whose current version is deleted, is a
// not-found error.
func (v *Vault) Read(ctx context.Context, path string) (map[string]any, error) {
	body, err := v.do(ctx, "read", http.MethodGet, "data", path, nil)
	if err != nil {
		return nil, err
	}
	data, err := decodeVaultRead(body)
	if err != nil {
		return nil, v.errorf(gantry.EUnavailable, "read", "data", path, "%v", err)
	}
	return data, nil
}

// Write stores data as a new version of the secret at path.
func (v *Vault) Write(ctx context.Context, path string, data map[string]any) error {
	b, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return fmt.Errorf("vault write %s: %w", path, err)
	}
	_, err = v.do(ctx, "write", http.MethodPost, "data", path, b)
	return err
}

// List returns the keys under path: secret names, and folder names ending
// in '/'. A path with nothing under it lists nothing.
func (v *Vault) List(ctx context.Context, path string) ([]string, error) {
	body, err := v.do(ctx, "list", "LIST", "metadata", path, nil)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	keys, err := decodeVaultList(body)
	if err != nil {
		return nil, v.errorf(gantry.EUnavailable, "list", "metadata", path, "%v", err)
	}
	return keys, nil
}

// Metadata returns the metadata of the secret at path; not-found when
// there is no secret.
func (v *Vault) Metadata(ctx context.Context, path string) (*VaultMetadata, error) {
	body, err := v.do(ctx, "read metadata", http.MethodGet, "metadata", path, nil)
	if err != nil {
		return nil, err
	}
	md, err := decodeVaultMetadata(body)
	if err != nil {
		return nil, v.errorf(gantry.EUnavailable, "read metadata", "metadata", path, "%v", err)
	}
	return md, nil
}

// WriteCustomMetadata sets the custom metadata of the secret at path.
func (v *Vault) WriteCustomMetadata(ctx context.Context, path string, custom map[string]string) error {
	b, err := json.Marshal(map[string]any{"custom_metadata": custom})
	if err != nil {
		return fmt.Errorf("vault write metadata %s: %w", path, err)
	}
	_, err = v.do(ctx, "write metadata", http.MethodPost, "metadata", path, b)
	return err
}

// Delete deletes the secret at path with every version and its metadata.
func (v *Vault) Delete(ctx context.Context, path string) error {
	_, err := v.do(ctx, "delete", http.MethodDelete, "metadata", path, nil)
	return err
}

// do sends one request to /v1/<mount>/<kind>/<path> and returns the body
// of a 2xx answer; every other outcome is an error that says plainly what
// went wrong.
func (v *Vault) do(ctx context.Context, op, method, kind, path string, body []byte) ([]byte, error) {
	if err := checkVaultPath(path); err != nil {
		return nil, gantry.Errorf(gantry.EInvalid, "vault %s: %v", op, err)
	}
	u := *v.addr
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/" + v.mount + "/" + kind + "/" + path
	u.RawPath = ""
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("vault %s %s: %w", op, path, err)
	}
	req.Header.Set("X-Vault-Token", v.token)
	if v.namespace != "" {
		req.Header.Set("X-Vault-Namespace", v.namespace)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := v.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil, v.errorf(gantry.EUnavailable, op, kind, path, "no answer within %s", v.timeout)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("vault %s %s: %w", op, path, ctx.Err())
		}
		return nil, v.errorf(gantry.EUnavailable, op, kind, path, "%v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxVaultResponse+1))
	if err != nil {
		return nil, v.errorf(gantry.EUnavailable, op, kind, path, "read the answer: %v", err)
	}
	if len(data) > maxVaultResponse {
		return nil, v.errorf(gantry.EUnavailable, op, kind, path, "the answer is larger than %d MiB", maxVaultResponse>>20)
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return data, nil
	case code == http.StatusNotFound:
		return nil, &gantry.Error{Kind: gantry.ENotFound, Message: fmt.Sprintf("vault %s %s: not found", op, v.where(kind, path))}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return nil, v.errorf(gantry.EUnavailable, op, kind, path, "permission denied (%d): check the token and its policy%s", code, vaultErrors(data))
	case code == http.StatusServiceUnavailable:
		return nil, v.errorf(gantry.EUnavailable, op, kind, path, "Vault is sealed or in maintenance (503): unseal it%s", vaultErrors(data))
	case code >= 300 && code < 400:
		return nil, v.errorf(gantry.EUnavailable, op, kind, path, "redirected (%d) to %q, which is not followed so that the token goes nowhere else: give the active node's address", code, resp.Header.Get("Location"))
	case code == http.StatusBadRequest:
		return nil, v.errorf(gantry.EInvalid, op, kind, path, "refused (400)%s", vaultErrors(data))
	default:
		return nil, v.errorf(gantry.EUnavailable, op, kind, path, "status %d%s", code, vaultErrors(data))
	}
}

func (v *Vault) where(kind, path string) string {
	return v.mount + "/" + kind + "/" + path
}

func (v *Vault) errorf(kind, op, pkind, path, format string, args ...any) error {
	return gantry.Errorf(kind, "vault %s %s at %s: %s", op, v.where(pkind, path), v.addr.Redacted(), fmt.Sprintf(format, args...))
}

// vaultErrors returns Vault's own error strings, for the message, as
// ": a; b", cut short.
func vaultErrors(body []byte) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	s := strings.Join(e.Errors, "; ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return ": " + strings.ToValidUTF8(s, "?")
}

// decodeVaultRead decodes the answer of a KV v2 read.
func decodeVaultRead(body []byte) (map[string]any, error) {
	var r struct {
		Data *struct {
			Data map[string]any `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("malformed answer: %v", err)
	}
	if r.Data == nil || r.Data.Data == nil {
		return nil, errors.New("the answer has no data.data: is the mount a KV version 2 engine?")
	}
	return r.Data.Data, nil
}

// decodeVaultList decodes the answer of a KV v2 list.
func decodeVaultList(body []byte) ([]string, error) {
	var r struct {
		Data *struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("malformed answer: %v", err)
	}
	if r.Data == nil {
		return nil, errors.New("the answer has no data.keys: is the mount a KV version 2 engine?")
	}
	return r.Data.Keys, nil
}

// decodeVaultMetadata decodes the answer of a KV v2 metadata read.
func decodeVaultMetadata(body []byte) (*VaultMetadata, error) {
	var r struct {
		Data *VaultMetadata `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("malformed answer: %v", err)
	}
	if r.Data == nil {
		return nil, errors.New("the answer has no data: is the mount a KV version 2 engine?")
	}
	return r.Data, nil
}
