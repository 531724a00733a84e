package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry"
	"gantry.dev/gantry/internal/action"
	"gantry.dev/gantry/internal/agent"
	"gantry.dev/gantry/internal/agentproto"
	"gantry.dev/gantry/internal/auth"
	"gantry.dev/gantry/internal/cas"
	"gantry.dev/gantry/internal/evidence"
	"gantry.dev/gantry/internal/executor/local"
	"gantry.dev/gantry/internal/ledger"
	"gantry.dev/gantry/internal/scanstep"
	"gantry.dev/gantry/internal/secrets"
	"gantry.dev/gantry/internal/server"
	"gantry.dev/gantry/internal/store/postgres"
	"gantry.dev/gantry/internal/store/sqlite"
)

type serverFlags struct {
	addr        string
	dataDir     string
	database    string
	noAgent     bool
	concurrency int
	labels      []string
	insecure    bool
	leaseTTL    time.Duration
	schedules   []string
	oidc        oidcFlags
	vault       vaultFlags

	vaultService *secrets.Service // made from vault before anything is written
}

// vaultFlags keep secrets in HashiCorp Vault instead of the database.
type vaultFlags struct {
	addr, tokenFile, namespace, mount, prefix string
}

// oidcFlags configure single sign-on.
type oidcFlags struct {
	issuer, clientID, secretFile, redirectURL, usernameClaim string
	autoProvision                                            bool
}

func newServerCmd(e *env) *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Gantry server: API, webhooks, scheduler, web UI, and an embedded agent",
		Long: `Run the Gantry server. On first start in an empty data directory it makes
the ledger's keys, the secrets' key-encryption key, the session key and the
first user, admin, whose password and API token it prints once (the token
is also written to DATA_DIR/admin.token, mode 0600).

By default the state is SQLite in the data directory, and an embedded agent
runs jobs on this machine; --database postgres://… keeps the state in
PostgreSQL (several servers may share it), and --no-agent leaves the jobs to
agents started with 'gantry agent'.

--oidc-issuer adds single sign-on to the web UI with an OpenID Connect
provider (authorization code with PKCE): register the server there as a
client with the redirect URL http://ADDR/login/oidc/callback (or give
--oidc-redirect-url), and keep the client secret in a file only its owner
may read. Signing in needs an existing user of that name (the email, by
default) unless --oidc-auto-provision is given; a new user has no role.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServer(cmd.Context(), e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
	fl.StringVar(&f.dataDir, "data-dir", "gantry-data", "keep state, artifacts and keys in `DIR`")
	fl.StringVar(&f.database, "database", "", "a postgres:// `URL` to keep the state in PostgreSQL instead of SQLite")
	fl.BoolVar(&f.noAgent, "no-agent", false, "do not run jobs here: only schedule them")
	fl.IntVar(&f.concurrency, "agent-concurrency", 2, "jobs the embedded agent runs at once")
	fl.StringSliceVar(&f.labels, "agent-labels", []string{"linux"}, "the embedded agent's labels")
	fl.BoolVar(&f.insecure, "insecure-cookies", false, "session cookies without Secure, for plain-HTTP use on localhost")
	fl.StringArrayVar(&f.schedules, "schedule", nil, "run a project on a cron schedule (UTC): `PROJECT[@BRANCH]=CRON`, such as 'shop=0 3 * * 1-5'; may be repeated")
	fl.StringVar(&f.vault.addr, "vault-addr", "", "keep project secrets in the HashiCorp Vault KV v2 engine at `URL` instead of the database")
	fl.StringVar(&f.vault.tokenFile, "vault-token-file", "", "read the Vault token from `FILE`, which only its owner may read")
	fl.StringVar(&f.vault.namespace, "vault-namespace", "", "the Vault `NAMESPACE` (Vault Enterprise, HCP)")
	fl.StringVar(&f.vault.mount, "vault-mount", "secret", "where the KV v2 engine is mounted")
	fl.StringVar(&f.vault.prefix, "vault-prefix", "gantry", "the `PATH` under the mount that Gantry's secrets live in")
	fl.StringVar(&f.oidc.issuer, "oidc-issuer", "", "sign people in with the OpenID Connect provider whose issuer is `URL`")
	fl.StringVar(&f.oidc.clientID, "oidc-client-id", "", "the server's client `ID` at the OpenID Connect provider")
	fl.StringVar(&f.oidc.secretFile, "oidc-client-secret-file", "", "read the client secret from `FILE`, which only its owner may read (omit for a public client)")
	fl.StringVar(&f.oidc.redirectURL, "oidc-redirect-url", "", "the callback `URL` registered with the provider (default http://ADDR"+server.OIDCCallbackPath+")")
	fl.StringVar(&f.oidc.usernameClaim, "oidc-username-claim", "email", "the ID token's claim that names the Gantry user: email (verified) or preferred_username")
	fl.BoolVar(&f.oidc.autoProvision, "oidc-auto-provision", false, "make a user, with no role, on their first single sign-on")
	fl.DurationVar(&f.leaseTTL, "lease-ttl", 30*time.Second, "how long an agent holds a job between heartbeats")
	_ = fl.MarkHidden("lease-ttl")
	return cmd
}

// serverState is what a server opens in its data directory.
type serverState struct {
	store   gantry.ServerStore
	closer  func() error
	blobs   *cas.Store
	log     *ledger.Log
	auth    *auth.Service
	authn   *server.Authn
	secrets *secrets.Service
}

func runServer(ctx context.Context, e *env, f *serverFlags) error {
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var schedules []*server.Schedule
	for _, spec := range f.schedules {
		sc, err := server.ParseSchedule(spec)
		if err != nil {
			return err
		}
		schedules = append(schedules, sc)
	}
	oidcSecret, err := f.oidc.check()
	if err != nil {
		return err
	}
	if f.vault.addr != "" {
		// Bad Vault flags are refused before anything is written.
		var err error
		if f.vaultService, err = openVault(f.vault); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return fmt.Errorf("make data directory: %w", err)
	}
	st, err := openServerState(ctx, e, f, logger)
	if err != nil {
		return err
	}
	defer st.closer()

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return gantry.Errorf(gantry.EUnavailable, "listen on %s: %v", f.addr, err)
	}
	base := "http://" + ln.Addr().String()
	var sso *auth.OIDC
	if f.oidc.issuer != "" {
		if sso, err = f.oidc.provider(ctx, st.auth, oidcSecret, f.addr, ln.Addr()); err != nil {
			ln.Close()
			return err
		}
	}
	srv := server.New(server.Options{
		Store: st.store, Blobs: st.blobs, Ledger: st.log, Auth: st.authn, Secrets: st.secrets, OIDC: sso, Logger: logger,
		LeaseTTL: f.leaseTTL,
	})
	ui, err := srv.WebUI()
	if err != nil {
		return err
	}
	srv.Mount("/", ui)
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 2)
	go func() { errc <- httpSrv.Serve(ln) }()
	go srv.RunSchedules(ctx, schedules)
	fmt.Fprintf(e.stderr, "gantry server listening on %s (data in %s)\n", base, f.dataDir)

	if !f.noAgent {
		a, err := embeddedAgent(ctx, e, st, f, base, logger)
		if err != nil {
			return err
		}
		go func() {
			if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- err
			}
		}()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return httpSrv.Shutdown(shutdown)
}

func openServerState(ctx context.Context, e *env, f *serverFlags, logger *slog.Logger) (*serverState, error) {
	s := &serverState{}
	var err error
	switch {
	case f.database == "":
		sq, err := sqlite.Open(ctx, filepath.Join(f.dataDir, "gantry.db"))
		if err != nil {
			return nil, err
		}
		s.store, s.closer = sq, sq.Close
	case strings.HasPrefix(f.database, "postgres://"), strings.HasPrefix(f.database, "postgresql://"):
		pg, err := postgres.Open(ctx, f.database)
		if err != nil {
			return nil, err
		}
		s.store, s.closer = pg, pg.Close
	default:
		return nil, gantry.Errorf(gantry.EInvalid, "--database: expected a postgres:// URL")
	}
	// Artifacts stay in the data directory: servers sharing a database
	// must share it too (a network file system), or keep their agents.
	if s.blobs, err = cas.New(filepath.Join(f.dataDir, "artifacts")); err != nil {
		return nil, err
	}
	keyDir := filepath.Join(f.dataDir, "keys")
	if _, err := os.Stat(filepath.Join(keyDir, evidence.LedgerKeyFile)); errors.Is(err, fs.ErrNotExist) {
		host, _ := os.Hostname()
		if _, err := evidence.GenerateKeys(keyDir, evidence.GenerateOptions{LedgerName: "gantry-server/" + nameUnsafe.ReplaceAllString(host, "-") + "-" + randomHex(4), Passphrase: passphrase(e)}); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	ls, err := evidence.LoadLedgerSigner(keyDir, passphrase(e))
	if err != nil {
		return nil, keyError(err)
	}
	if s.log, err = ledger.Open(ctx, s.store, ls, nil); err != nil {
		return nil, err
	}

	ringPath := filepath.Join(f.dataDir, "secrets.keyring")
	getenv := func(k string) string { v, _ := lookupEnv(e.environ, k); return v }
	if getenv(secrets.KeyringEnv) == "" {
		if _, err := os.Stat(ringPath); errors.Is(err, fs.ErrNotExist) {
			if err := secrets.GenerateKeyFile(ringPath, "k1", rand.Reader); err != nil {
				return nil, err
			}
		}
	} else {
		ringPath = ""
	}
	ring, err := secrets.LoadKeyring(ringPath, getenv)
	if err != nil {
		return nil, err
	}
	sealer := secrets.NewSealer(ring, rand.Reader)
	s.secrets = f.vaultService
	if s.secrets == nil {
		s.secrets = secrets.NewService(s.store, sealer)
	}

	sessionKey, err := readOrMakeKey(filepath.Join(f.dataDir, "session.key"))
	if err != nil {
		return nil, err
	}
	if s.auth, err = auth.New(auth.Config{Identity: s.store, Audit: s.store, Sealer: sealer, Logger: logger,
		OnAudit: func(ctx context.Context, ev *gantry.AuditEvent) {
			if err := server.LedgerAudit(ctx, s.log, s.store, ev); err != nil {
				logger.Error("append audit event to the ledger", "err", err)
			}
		}}); err != nil {
		return nil, err
	}
	sessions, err := auth.NewSessions(auth.SessionConfig{Keys: [][]byte{sessionKey}, Insecure: f.insecure})
	if err != nil {
		return nil, err
	}
	admin, err := bootstrapAdmin(ctx, e, f.dataDir, s.auth, s.store)
	if err != nil {
		return nil, err
	}
	s.authn = &server.Authn{Service: s.auth, Sessions: sessions, Admin: admin}
	return s, nil
}

// check validates the single sign-on flags and returns the client
// secret, before the server opens anything.
func (o *oidcFlags) check() (string, error) {
	if o.issuer == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"--oidc-client-id", o.clientID != ""}, {"--oidc-client-secret-file", o.secretFile != ""},
			{"--oidc-redirect-url", o.redirectURL != ""}, {"--oidc-username-claim", o.usernameClaim != "email"},
			{"--oidc-auto-provision", o.autoProvision},
		} {
			if f.set {
				return "", gantry.Errorf(gantry.EInvalid, "%s needs --oidc-issuer", f.name)
			}
		}
		return "", nil
	}
	for _, f := range [][2]string{{"--oidc-issuer", o.issuer}, {"--oidc-redirect-url", o.redirectURL}} {
		if f[1] == "" {
			continue
		}
		if u, err := url.Parse(f[1]); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", gantry.Errorf(gantry.EInvalid, "%s %q: expected an http:// or https:// URL", f[0], f[1])
		}
	}
	if o.clientID == "" {
		return "", gantry.Errorf(gantry.EInvalid, "--oidc-issuer needs --oidc-client-id")
	}
	if o.usernameClaim != "email" && o.usernameClaim != "preferred_username" {
		return "", gantry.Errorf(gantry.EInvalid, "--oidc-username-claim %q: expected email or preferred_username", o.usernameClaim)
	}
	if o.secretFile == "" {
		return "", nil
	}
	return readSecretFile("--oidc-client-secret-file", o.secretFile)
}

// maxSecretFile bounds a client secret's file.
const maxSecretFile = 64 << 10

// readSecretFile returns the trimmed content of a file that only its
// owner may read or write: a secret anyone else on the machine can read
// is no longer a secret.
func readSecretFile(flag, path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", gantry.Errorf(gantry.EInvalid, "%s: %v", flag, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return "", gantry.Errorf(gantry.EInvalid, "%s: %v", flag, err)
	}
	if !fi.Mode().IsRegular() {
		return "", gantry.Errorf(gantry.EInvalid, "%s %s: not a regular file", flag, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", gantry.Errorf(gantry.EInvalid, "%s %s: mode %04o lets group or others at it: chmod 600 %s", flag, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxSecretFile+1))
	if err != nil {
		return "", gantry.Errorf(gantry.EInvalid, "%s %s: %v", flag, path, err)
	}
	secret := strings.TrimSpace(string(b))
	switch {
	case len(b) > maxSecretFile:
		return "", gantry.Errorf(gantry.EInvalid, "%s %s: over %d bytes", flag, path, maxSecretFile)
	case secret == "":
		return "", gantry.Errorf(gantry.EInvalid, "%s %s is empty", flag, path)
	}
	return secret, nil
}

// openVault returns the secrets service on Vault.
func openVault(f vaultFlags) (*secrets.Service, error) {
	if f.tokenFile == "" {
		return nil, gantry.Errorf(gantry.EInvalid, "--vault-addr needs --vault-token-file")
	}
	token, err := readSecretFile("--vault-token-file", f.tokenFile)
	if err != nil {
		return nil, err
	}
	v, err := secrets.NewVault(secrets.VaultConfig{Addr: f.addr, Token: token, Namespace: f.namespace, Mount: f.mount})
	if err != nil {
		return nil, err
	}
	return secrets.NewVaultService(v, f.prefix)
}

// provider discovers the OpenID provider and returns single sign-on for
// svc. The default redirect URL is the server's callback at addr as
// given, so that it matches what was registered with the provider; bound
// fills in what addr leaves open (no host, port 0).
func (o *oidcFlags) provider(ctx context.Context, svc *auth.Service, secret, addr string, bound net.Addr) (*auth.OIDC, error) {
	redirect := o.redirectURL
	if redirect == "" {
		redirect = "http://" + callbackHost(addr, bound) + server.OIDCCallbackPath
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sso, err := auth.NewOIDC(ctx, svc, auth.OIDCConfig{
		Issuer: o.issuer, ClientID: o.clientID, ClientSecret: secret, RedirectURL: redirect,
		UsernameClaim: o.usernameClaim, AutoProvision: o.autoProvision,
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
	})
	if err != nil {
		kind := gantry.ErrorKind(err)
		if kind == gantry.EInternal {
			kind = gantry.EInvalid
		}
		return nil, gantry.Errorf(kind, "--oidc-issuer: %w", err)
	}
	return sso, nil
}

// callbackHost is HOST:PORT of --addr for a browser: a wildcard or empty
// host is localhost, and port 0 is the port bound.
func callbackHost(addr string, bound net.Addr) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return bound.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	if port == "0" {
		if _, p, err := net.SplitHostPort(bound.String()); err == nil {
			port = p
		}
	}
	return net.JoinHostPort(host, port)
}

// bootstrapAdmin makes the first user on an empty server and prints its
// password and token once; it returns the admin's principal.
func bootstrapAdmin(ctx context.Context, e *env, dataDir string, svc *auth.Service, st gantry.IdentityStore) (*auth.Principal, error) {
	users, err := st.Users(ctx)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		password := randomHex(12)
		if _, err := svc.Bootstrap(ctx, "admin", password, "local"); err != nil {
			return nil, err
		}
		admin, err := svc.Principal(ctx, "admin")
		if err != nil {
			return nil, err
		}
		tok, _, err := svc.CreateToken(ctx, admin, auth.TokenRequest{Name: "bootstrap",
			Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin}, TTL: 90 * 24 * time.Hour}, "local")
		if err != nil {
			return nil, err
		}
		tokPath := filepath.Join(dataDir, "admin.token")
		if err := os.WriteFile(tokPath, []byte(tok+"\n"), 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(e.stderr, "made the first user: admin, password %s (shown once; change it)\n", password)
		fmt.Fprintf(e.stderr, "admin API token written to %s (valid 90 days)\n", tokPath)
	}
	for _, u := range users {
		if u.ServerAdmin && !u.Disabled {
			return svc.Principal(ctx, u.Name)
		}
	}
	return svc.Principal(ctx, "admin")
}

// readOrMakeKey returns the 32-byte key in path, making it (mode 0600)
// when there is none.
func readOrMakeKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 32 {
			return nil, gantry.Errorf(gantry.EInvalid, "%s: expected 32 or more bytes in hex", path)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// embeddedAgent enrolls the server's own agent (once) and returns it.
func embeddedAgent(ctx context.Context, e *env, st *serverState, f *serverFlags, base string, logger *slog.Logger) (*agent.Agent, error) {
	dir := filepath.Join(f.dataDir, "agent")
	keyDir := filepath.Join(dir, "keys")
	if _, err := os.Stat(filepath.Join(keyDir, evidence.SigningKeyFile)); errors.Is(err, fs.ErrNotExist) {
		if _, err := evidence.GenerateKeys(keyDir, evidence.GenerateOptions{LedgerName: "unused.local/embedded-agent"}); err != nil {
			return nil, err
		}
	}
	signer, err := evidence.LoadSigner(keyDir, nil)
	if err != nil {
		return nil, err
	}
	pem, err := evidence.MarshalPublicKey(signer.Public())
	if err != nil {
		return nil, err
	}
	const name = "embedded"
	if err := st.store.PutAgent(ctx, &gantry.Agent{Name: name, Labels: f.labels, Concurrency: f.concurrency, PublicKey: pem, CreatedAt: time.Now()}); err != nil {
		return nil, err
	}
	tok, err := st.authn.AgentToken(ctx, name)
	if err != nil {
		return nil, err
	}
	ex, err := local.New(local.Options{Mode: local.Auto})
	if err != nil {
		return nil, err
	}
	return agent.New(agent.Options{
		Server: base, Token: tok, Name: name, Labels: f.labels, Concurrency: f.concurrency,
		WorkDir: dir, Signer: signer, Executors: map[string]gantry.Executor{"local": ex},
		Actions: agentActions(vulnDBDir(e, "")), Logger: logger,
	}), nil
}

// agentActions returns the built-in actions of an agent's jobs, with the
// scanners.
func agentActions(vulnDB string) func(string) *action.Registry {
	return func(string) *action.Registry {
		reg := action.Builtins()
		scanstep.Register(reg, scanners(scanConfig{vulnDB: vulnDB}), scanstep.Options{Version: Version})
		return reg
	}
}

type agentFlags struct {
	serverConn
	name        string
	labels      []string
	concurrency int
	workDir     string
	heartbeat   time.Duration
}

func newAgentCmd(e *env) *cobra.Command {
	f := &agentFlags{}
	cmd := &cobra.Command{
		Use:   "agent --server URL --token TOKEN",
		Short: "Run jobs for a Gantry server",
		Long: `Run jobs for a Gantry server: lease a job, check out its exact commit, run
the pipeline here (sandboxed local steps, and docker steps when Docker is
reachable), stream logs and results back live, upload artifacts by digest,
and sign each step's attestation with this agent's own key.

The first start makes the agent's key in the work directory and enrolls
it with the server using TOKEN, which must belong to a server admin (or be
this agent's token from an earlier enrollment); the agent's own token is
kept in WORK_DIR/agent.token (mode 0600) and used from then on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd.Context(), e, f) },
	}
	fl := cmd.Flags()
	f.serverConn.flags(fl)
	host, _ := os.Hostname()
	fl.StringVar(&f.name, "name", strings.ToLower(nameUnsafe.ReplaceAllString(host, "-")), "the agent's `NAME`")
	fl.StringSliceVar(&f.labels, "labels", []string{"linux"}, "the agent's labels; jobs that need others go elsewhere")
	fl.IntVarP(&f.concurrency, "concurrency", "j", 1, "jobs at once")
	fl.StringVar(&f.workDir, "work-dir", "gantry-agent", "checkouts, artifact cache, key and token in `DIR`")
	fl.DurationVar(&f.heartbeat, "heartbeat", 10*time.Second, "how often to renew a job's lease")
	_ = fl.MarkHidden("heartbeat")
	return cmd
}

func runAgent(ctx context.Context, e *env, f *agentFlags) error {
	if err := os.MkdirAll(f.workDir, 0o700); err != nil {
		return err
	}
	keyDir := filepath.Join(f.workDir, "keys")
	if _, err := os.Stat(filepath.Join(keyDir, evidence.SigningKeyFile)); errors.Is(err, fs.ErrNotExist) {
		if _, err := evidence.GenerateKeys(keyDir, evidence.GenerateOptions{LedgerName: "unused.local/agent-" + f.name, Passphrase: passphrase(e)}); err != nil {
			return err
		}
	}
	signer, err := evidence.LoadSigner(keyDir, passphrase(e))
	if err != nil {
		return keyError(err)
	}
	tokPath := filepath.Join(f.workDir, "agent.token")
	tok := ""
	if b, err := os.ReadFile(tokPath); err == nil {
		tok = strings.TrimSpace(string(b))
		if f.server == "" {
			f.server, _ = lookupEnv(e.environ, "GANTRY_SERVER")
		}
	} else {
		if err := f.resolve(e); err != nil {
			return fmt.Errorf("agent: to enroll, %w", err)
		}
		if tok, err = enrollAgent(ctx, f, signer.Public()); err != nil {
			return err
		}
		if err := os.WriteFile(tokPath, []byte(tok+"\n"), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "enrolled agent %s with %s; its token is in %s\n", f.name, f.server, tokPath)
	}
	if f.server == "" {
		return gantry.Errorf(gantry.EInvalid, "agent: give the server with --server URL (or GANTRY_SERVER)")
	}
	ex, err := local.New(local.Options{Mode: local.Auto})
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	a := agent.New(agent.Options{
		Server: f.server, Token: tok, Name: f.name, Labels: f.labels, Concurrency: f.concurrency,
		WorkDir: f.workDir, Signer: signer, Executors: map[string]gantry.Executor{"local": ex},
		Actions: agentActions(vulnDBDir(e, "")), Logger: logger, Heartbeat: f.heartbeat,
	})
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(e.stderr, "agent %s leasing jobs from %s\n", f.name, f.server)
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func enrollAgent(ctx context.Context, f *agentFlags, pub any) (string, error) {
	pem, err := evidence.MarshalPublicKey(pub)
	if err != nil {
		return "", err
	}
	var out agentproto.EnrollResponse
	if err := apiCall(ctx, f.server, f.token, "POST", "/api/v1/agents",
		agentproto.EnrollRequest{Name: f.name, Labels: f.labels, Concurrency: f.concurrency, PublicKey: string(pem)}, &out); err != nil {
		return "", fmt.Errorf("enroll agent %s: %w", f.name, err)
	}
	return out.Token, nil
}
