package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/agentproto"
)

// client calls the server's API with one token.
type client struct {
	base  string
	token string
	http  *http.Client
}

// errorBody is the server's JSON error.
type errorBody struct {
	Error string `json:"error"`
}

// do sends a request with a JSON body (or raw bytes, for an io.Reader)
// and decodes a JSON answer into out, if given. It reports whether the
// server answered 204.
func (c *client) do(ctx context.Context, method, path string, in, out any) (noContent bool, err error) {
	var body io.Reader
	ctype := "application/json"
	switch v := in.(type) {
	case nil:
	case io.Reader:
		body, ctype = v, "application/octet-stream"
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return false, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.base, "/")+path, body)
	if err != nil {
		return false, err
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return false, gantry.Errorf(gantry.EUnavailable, "%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e errorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return false, gantry.Errorf(agentproto.Kind(resp.StatusCode), "%s %s: %s (%d)", method, path, e.Error, resp.StatusCode)
	}
	if resp.StatusCode == http.StatusNoContent {
		return true, nil
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return false, nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return false, err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return false, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return false, nil
}
