package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/evidence"
)

// FuzzAgentProtocol sends arbitrary bodies to every endpoint of the agent
// protocol, with a real lease's job token: each is answered with a
// client error or accepted, never a server error or a crash.
func FuzzAgentProtocol(f *testing.F) {
	s := newStack(f)
	ctx := context.Background()
	pr := &gantry.Project{Name: "shop", RepoURL: "/nowhere", DefaultBranch: "main", PipelinePath: ".gantry.yml", CreatedAt: s.srv.opts.Now()}
	if err := s.store.PutProject(ctx, pr); err != nil {
		f.Fatal(err)
	}
	keys, err := evidence.GenerateKeys(f.TempDir(), evidence.GenerateOptions{LedgerName: "fuzz.example/agent"})
	if err != nil {
		f.Fatal(err)
	}
	pem, _ := evidence.MarshalPublicKey(keys.Signing)
	code, body := s.call("POST", "/api/v1/agents", s.adminToken, agentproto.EnrollRequest{Name: "fuzzer", Labels: []string{"linux"}, PublicKey: string(pem)})
	if code != http.StatusCreated {
		f.Fatalf("enroll: %d %s", code, body)
	}
	var enrolled agentproto.EnrollResponse
	json.Unmarshal(body, &enrolled)
	run, err := s.srv.Trigger(ctx, pr, gantry.Trigger{Event: "manual", Branch: "main"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	code, body = s.call("POST", "/api/v1/agent/lease", enrolled.Token, agentproto.LeaseRequest{Labels: []string{"linux"}, WaitMS: 100})
	if code != http.StatusOK {
		f.Fatalf("lease: %d %s", code, body)
	}
	var lease agentproto.Lease
	json.Unmarshal(body, &lease)

	type endpoint struct{ method, path, token string }
	runPath := "/api/v1/agent/runs/" + string(run.ID)
	endpoints := []endpoint{
		{"POST", "/api/v1/agent/lease", enrolled.Token},
		{"POST", runPath + "/start", lease.Token},
		{"PUT", runPath, lease.Token},
		{"PUT", runPath + "/stages", lease.Token},
		{"PUT", runPath + "/steps", lease.Token},
		{"POST", runPath + "/logs", lease.Token},
		{"PUT", runPath + "/findings?step=scan", lease.Token},
		{"POST", runPath + "/attestations", lease.Token},
		{"POST", runPath + "/secrets", lease.Token},
		{"PUT", runPath + "/change", lease.Token},
		{"PUT", "/api/v1/agent/blobs/" + string(gantry.DigestBytes([]byte("x"))), lease.Token},
	}
	for _, seed := range []string{
		`{}`, `[]`, `null`, `{"labels":["linux"],"wait_ms":1}`,
		`{"id":"x","status":"running","started_at":"2026-01-01T00:00:00Z"}`,
		`{"name":"build","stage":"commit","status":"succeeded","outputs":[{"path":"a","digest":"sha256:00"}]}`,
		`[{"step":"build","seq":1,"stream":"stdout","text":"hi","time":"2026-01-01T00:00:00Z"}]`,
		`[{"digest":"sha256:00","stage":"s","kind":"link","envelope":{"payloadType":"x","payload":"","signatures":[]}}]`,
		`["SECRET"]`, "x", "{\"a\":1}{}",
		`{"id":"0123456789ab","project":"shop","author":"dev","commits":[{"sha":"0123456789abcdef"}],"classification":{"class":"standard","score":1}}`,
		`{"id":"pr-1","project":"shop","commits":[{"sha":"x","time":"9999-01-01T00:00:00Z"}],"opened":"0001-01-01T00:00:01Z"}`,
	} {
		for i := range endpoints {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		ep := endpoints[int(which)%len(endpoints)]
		req, _ := http.NewRequest(ep.method, s.http.URL+ep.path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+ep.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q: %d", ep.method, ep.path, data, resp.StatusCode)
		}
	})
}
