package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"gantry.dev/gantry"
)

// Config configures a Service. Zero fields take the defaults named.
type Config struct {
	Identity gantry.IdentityStore // required
	Audit    gantry.AuditStore    // required
	// Sealer encrypts TOTP secrets at rest; without one, two-factor
	// cannot be enabled (and users who have it cannot sign in).
	Sealer Sealer
	// OnAudit is called after each audit event is stored, so that the
	// server can append it to the ledger.
	OnAudit func(ctx context.Context, e *gantry.AuditEvent)
	Logger  *slog.Logger     // nil discards
	Now     func() time.Time // nil: time.Now
	Rand    io.Reader        // nil: crypto/rand

	Password PasswordParams // zero: DefaultPasswordParams
	// MaxConcurrentHashes bounds the argon2id computations at once, and
	// so their memory; more wait their turn. Default 2.
	MaxConcurrentHashes int

	MaxFailures int           // consecutive failed logins that lock an account; default 5
	Lockout     time.Duration // how long; default 15 minutes
	// LoginRate and LoginBurst limit login attempts per remote address
	// (IPv4 address, IPv6 /64); default 10 at once, then one each 6 s.
	LoginRate  rate.Limit
	LoginBurst int
	MaxRemotes int // remote addresses remembered for rate limiting; default 10000

	MaxTokenTTL    time.Duration // the longest life of an API token; default 366 days
	MaxJobTokenTTL time.Duration // the longest life of a job token; default 12 hours
	TOTPIssuer     string        // shown in authenticator apps; default "Gantry"
}

// Service authenticates and manages users, their tokens and grants, and
// records every such event in the audit log. It is safe for concurrent
// use.
type Service struct {
	cfg       Config
	log       *slog.Logger
	hashSem   chan struct{}
	users     keyedMutex
	remotes   *remoteLimiter
	dummyHash string
}

// New returns a Service. It computes one password hash, for the timing of
// logins of unknown users.
func New(cfg Config) (*Service, error) {
	if cfg.Identity == nil || cfg.Audit == nil {
		return nil, fmt.Errorf("auth: an identity store and an audit store are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Password == (PasswordParams{}) {
		cfg.Password = DefaultPasswordParams
	}
	if err := cfg.Password.validate(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = 2
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = 15 * time.Minute
	}
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = rate.Every(6 * time.Second)
	}
	if cfg.LoginBurst <= 0 {
		cfg.LoginBurst = 10
	}
	if cfg.MaxRemotes <= 0 {
		cfg.MaxRemotes = 10000
	}
	if cfg.MaxTokenTTL <= 0 {
		cfg.MaxTokenTTL = 366 * 24 * time.Hour
	}
	if cfg.MaxJobTokenTTL <= 0 {
		cfg.MaxJobTokenTTL = 12 * time.Hour
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "Gantry"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg:     cfg,
		log:     log,
		hashSem: make(chan struct{}, cfg.MaxConcurrentHashes),
		remotes: newRemoteLimiter(cfg.LoginRate, cfg.LoginBurst, cfg.MaxRemotes),
	}
	random := make([]byte, 16)
	if _, err := io.ReadFull(cfg.Rand, random); err != nil {
		return nil, fmt.Errorf("auth: read random: %w", err)
	}
	dummy, err := HashPassword(hex.EncodeToString(random), cfg.Password, cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	s.dummyHash = dummy
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// hash and verify run argon2id within the concurrency bound.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return HashPassword(password, s.cfg.Password, s.cfg.Rand)
}

func (s *Service) verify(ctx context.Context, password, encoded string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	return VerifyPassword(password, encoded)
}

func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return gantry.Errorf(gantry.EUnavailable, "wait to check a password: %w", ctx.Err())
	}
}

func (s *Service) release() { <-s.hashSem }

// Record stores an audit event (setting its Time when zero, and its
// LedgerIndex to -1) and then calls the OnAudit hook.
func (s *Service) Record(ctx context.Context, e *gantry.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.LedgerIndex = -1
	if err := s.cfg.Audit.AppendAudit(ctx, e); err != nil {
		return gantry.Errorf(gantry.EUnavailable, "record audit event %s: %w", e.Action, err)
	}
	if s.cfg.OnAudit != nil {
		s.cfg.OnAudit(ctx, e)
	}
	return nil
}

// recordFailure records an event on a path that already fails: an error
// storing it is logged, and the caller returns its own error.
func (s *Service) recordFailure(ctx context.Context, e *gantry.AuditEvent) {
	if err := s.Record(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "record audit event", "action", e.Action, "target", e.Target, "err", err)
	}
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// Audit actions recorded by the Service.
const (
	AuditLogin           = "login"
	AuditLoginFailed     = "login.failed"
	AuditLoginLocked     = "login.locked"
	AuditLoginTOTPFailed = "login.totp.failed"
	AuditLoginRateLimit  = "login.ratelimited"
	AuditLoginSSO        = "login.sso"
	AuditLoginSSOFailed  = "login.sso.failed"
	AuditPasswordChange  = "password.change"
	AuditPasswordReset   = "password.reset"
	AuditTOTPEnable      = "totp.enable"
	AuditTOTPDisable     = "totp.disable"
	AuditTOTPReset       = "totp.reset"
	AuditTokenCreate     = "token.create"
	AuditTokenDelete     = "token.delete"
	AuditUserCreate      = "user.create"
	AuditUserDisable     = "user.disable"
	AuditUserEnable      = "user.enable"
	AuditMemberGrant     = "member.grant"
	AuditMemberRevoke    = "member.revoke"
)

const (
	auditActorSystem    = "system"    // the server itself, as in Bootstrap
	auditActorAnonymous = "anonymous" // no one signed in yet
	// maxAuditNameInTarget bounds outside input (a typed user name) in
	// audit events and messages.
	maxAuditNameInTarget = 64
)

// userNameRE is what a user name may be: lower-case letters, digits and
// . _ @ + -, starting with a letter or digit (an email address is one).
// No ':' keeps user names apart from "agent:NAME" and "webhook:FORGE"
// actors; lower case alone makes logins case-insensitive. The stores
// accept a superset (store.ValidUserName).
var userNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._@+-]{0,127}$`) })

// ValidUserName returns an EInvalid error when name may not be a user's.
func ValidUserName(name string) error {
	if !userNameRE().MatchString(name) {
		return gantry.Errorf(gantry.EInvalid, "user name %q must be 1 to 128 of a-z 0-9 . _ @ + -, starting with a letter or digit", clip(name))
	}
	switch name {
	case auditActorAnonymous, auditActorSystem:
		return gantry.Errorf(gantry.EInvalid, "user name %q is reserved", name)
	}
	return nil
}

// clip makes outside input fit for a message or an audit event: control
// and invalid characters become '?', and it is cut at 64 bytes.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	if len(s) <= maxAuditNameInTarget {
		return s
	}
	cut := maxAuditNameInTarget
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Principal returns the principal of a signed-in user (by a session or
// single sign-on): their server-admin flag and roles. An unknown or
// disabled user is EUnauthorized.
func (s *Service) Principal(ctx context.Context, name string) (*Principal, error) {
	u, err := s.cfg.Identity.User(ctx, name)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, gantry.Errorf(gantry.EUnauthorized, "sign in again")
	}
	if err != nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "load user %s: %w", name, err)
	}
	if u.Disabled {
		return nil, gantry.Errorf(gantry.EUnauthorized, "account %s is disabled", name)
	}
	return s.principalOf(ctx, u, nil)
}

func (s *Service) principalOf(ctx context.Context, u *gantry.User, t *gantry.Token) (*Principal, error) {
	grants, err := s.cfg.Identity.Grants(ctx, u.Name, "")
	if err != nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "load grants of %s: %w", u.Name, err)
	}
	roles := make(map[string]gantry.Role, len(grants))
	for _, g := range grants {
		if ValidRole(g.Role) {
			roles[g.Project] = g.Role
		}
	}
	p := &Principal{Name: u.Name, ServerAdmin: u.ServerAdmin, Roles: roles, Token: t}
	if t == nil {
		p.Stamp = UserStamp(u)
	}
	return p, nil
}

// keyedMutex serialises the read-modify-write of one user's record within
// this process (failed-login counts, the TOTP replay step).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// randomID returns prefix and n random bytes in hex.
func (s *Service) randomID(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return "", fmt.Errorf("make id: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// loadUser returns a user, mapping not found to ENotFound with a message.
func (s *Service) loadUser(ctx context.Context, name string) (*gantry.User, error) {
	u, err := s.cfg.Identity.User(ctx, name)
	if errors.Is(err, gantry.ErrNotFound) {
		return nil, gantry.Errorf(gantry.ENotFound, "no user %s", clip(name))
	}
	if err != nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "load user %s: %w", clip(name), err)
	}
	return u, nil
}

func (s *Service) putUser(ctx context.Context, u *gantry.User) error {
	if err := s.cfg.Identity.PutUser(ctx, u); err != nil {
		return storeErr(err, "save user %s", u.Name)
	}
	return nil
}

// storeErr wraps an error of a store write: a refusal the store explains
// (invalid, not found, conflict) keeps its kind; anything else means the
// store is unavailable.
func storeErr(err error, format string, args ...any) error {
	kind := gantry.ErrorKind(err)
	switch kind {
	case gantry.EInvalid, gantry.ENotFound, gantry.EConflict:
	default:
		kind = gantry.EUnavailable
	}
	return gantry.Errorf(kind, format+": %w", append(args, err)...)
}
