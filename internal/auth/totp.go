package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"gantry.dev/gantry"
)

// TOTP parameters: what every authenticator app understands.
const (
	totpPeriod     = 30 // seconds
	totpDigits     = otp.DigitsSix
	totpSecretSize = 20 // bytes: 160 bits, as RFC 4226 recommends
	totpSkew       = 1  // steps either side of now
	totpVersion    = 1
)

// TOTPKey is a new two-factor secret for a user to add to an
// authenticator app, by its otpauth:// URL (as a QR code) or by hand.
type TOTPKey struct {
	Secret string // base32
	URL    string // otpauth://totp/...
	// Enrolment is the secret sealed for p for enrolmentTTL, to be handed
	// back to EnableTOTP (in a hidden form field, say), so that the server
	// keeps no state and the user cannot choose their own secret.
	Enrolment string
}

// enrolmentTTL is how long a user has to confirm a new two-factor secret.
const enrolmentTTL = 15 * time.Minute

// BeginTOTP makes a new two-factor secret for p. Nothing is stored: the
// user proves their app has it with EnableTOTP.
func (s *Service) BeginTOTP(ctx context.Context, p *Principal) (*TOTPKey, error) {
	if err := Authorize(p, "", ActionAccountManage); err != nil {
		return nil, err
	}
	if s.cfg.Sealer == nil {
		return nil, gantry.Errorf(gantry.EUnavailable, "two-factor authentication is not configured on this server")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      s.cfg.TOTPIssuer,
		AccountName: p.Name,
		Period:      totpPeriod,
		SecretSize:  totpSecretSize,
		Digits:      totpDigits,
		Algorithm:   otp.AlgorithmSHA1,
		Rand:        s.cfg.Rand,
	})
	if err != nil {
		return nil, fmt.Errorf("make two-factor secret: %w", err)
	}
	plain := binary.BigEndian.AppendUint64(nil, uint64(s.now().Add(enrolmentTTL).Unix()))
	plain = append(plain, key.Secret()...)
	sealed, err := s.cfg.Sealer.Seal(plain, enrolmentAD(p.Name))
	if err != nil {
		return nil, fmt.Errorf("seal two-factor enrolment: %w", err)
	}
	return &TOTPKey{Secret: key.Secret(), URL: key.URL(), Enrolment: base64.RawURLEncoding.EncodeToString(sealed)}, nil
}

func enrolmentAD(user string) []byte { return []byte("gantry totp enrolment\x00" + user) }

// openEnrolment returns the secret of an enrolment made for user, unless
// it is forged, someone else's or expired.
func (s *Service) openEnrolment(user, enrolment string) (string, error) {
	bad := gantry.Errorf(gantry.EInvalid, "two-factor enrolment is invalid or expired: start again")
	if len(enrolment) > 512 {
		return "", bad
	}
	sealed, err := base64.RawURLEncoding.DecodeString(enrolment)
	if err != nil {
		return "", bad
	}
	plain, err := s.cfg.Sealer.Open(sealed, enrolmentAD(user))
	if err != nil || len(plain) < 8 {
		return "", bad
	}
	if s.now().Unix() > int64(binary.BigEndian.Uint64(plain[:8])) {
		return "", bad
	}
	return string(plain[8:]), nil
}

// EnableTOTP turns two-factor on for p with the secret of enrolment (from
// BeginTOTP) once code shows that the user's app has it. The secret is
// stored sealed.
func (s *Service) EnableTOTP(ctx context.Context, p *Principal, enrolment, code, remote string) error {
	if err := Authorize(p, "", ActionAccountManage); err != nil {
		return err
	}
	if s.cfg.Sealer == nil {
		return gantry.Errorf(gantry.EUnavailable, "two-factor authentication is not configured on this server")
	}
	secret, err := s.openEnrolment(p.Name, enrolment)
	if err != nil {
		return err
	}
	step, ok := matchTOTP(secret, code, s.now(), 0)
	if !ok {
		s.recordFailure(ctx, &gantry.AuditEvent{Actor: p.Name, Action: AuditTOTPEnable, Target: "user:" + p.Name, Outcome: OutcomeFailure, Remote: remote, Detail: map[string]string{"reason": "wrong code"}})
		return gantry.Errorf(gantry.EInvalid, "the two-factor code does not match: check the device's clock and try again")
	}
	unlock := s.users.lock(p.Name)
	defer unlock()
	u, err := s.loadUser(ctx, p.Name)
	if err != nil {
		return err
	}
	if u.TOTPSecret != nil {
		return gantry.Errorf(gantry.EConflict, "two-factor authentication is on already: turn it off first")
	}
	if u.TOTPSecret, err = s.sealTOTP(u.Name, secret, step); err != nil {
		return err
	}
	if err := s.putUser(ctx, u); err != nil {
		return err
	}
	return s.Record(ctx, &gantry.AuditEvent{Actor: p.Name, Action: AuditTOTPEnable, Target: "user:" + p.Name, Outcome: OutcomeSuccess, Remote: remote})
}

// DisableTOTP turns two-factor off for p, given a current code.
func (s *Service) DisableTOTP(ctx context.Context, p *Principal, code, remote string) error {
	if err := Authorize(p, "", ActionAccountManage); err != nil {
		return err
	}
	unlock := s.users.lock(p.Name)
	defer unlock()
	u, err := s.loadUser(ctx, p.Name)
	if err != nil {
		return err
	}
	if u.TOTPSecret == nil {
		return gantry.Errorf(gantry.EConflict, "two-factor authentication is off already")
	}
	if ok, err := s.checkTOTP(u, code); err != nil {
		return err
	} else if !ok {
		s.countFailure(ctx, u, remote)
		s.recordFailure(ctx, &gantry.AuditEvent{Actor: p.Name, Action: AuditTOTPDisable, Target: "user:" + p.Name, Outcome: OutcomeFailure, Remote: remote, Detail: map[string]string{"reason": "wrong code"}})
		return gantry.Errorf(gantry.EForbidden, "the two-factor code is wrong")
	}
	u.TOTPSecret = nil
	if err := s.putUser(ctx, u); err != nil {
		return err
	}
	return s.Record(ctx, &gantry.AuditEvent{Actor: p.Name, Action: AuditTOTPDisable, Target: "user:" + p.Name, Outcome: OutcomeSuccess, Remote: remote})
}

// ResetTOTP turns two-factor off for another user who lost their device;
// p must be a server admin.
func (s *Service) ResetTOTP(ctx context.Context, p *Principal, user, remote string) error {
	if err := Authorize(p, "", ActionUserManage); err != nil {
		return err
	}
	unlock := s.users.lock(user)
	defer unlock()
	u, err := s.loadUser(ctx, user)
	if err != nil {
		return err
	}
	u.TOTPSecret = nil
	if err := s.putUser(ctx, u); err != nil {
		return err
	}
	return s.Record(ctx, &gantry.AuditEvent{Actor: p.Name, Action: AuditTOTPReset, Target: "user:" + user, Outcome: OutcomeSuccess, Remote: remote})
}

// checkTOTP checks code against u's sealed secret and, when it matches,
// moves the stored last-used step forward in u (the caller saves u), so
// that the code cannot be used again. The step is kept in the sealed
// value so that replicas sharing the store refuse the replay too.
func (s *Service) checkTOTP(u *gantry.User, code string) (bool, error) {
	if s.cfg.Sealer == nil {
		return false, gantry.Errorf(gantry.EUnavailable, "two-factor authentication is not configured on this server")
	}
	secret, last, err := s.openTOTP(u)
	if err != nil {
		return false, err
	}
	step, ok := matchTOTP(secret, code, s.now(), last)
	if !ok {
		return false, nil
	}
	sealed, err := s.sealTOTP(u.Name, secret, step)
	if err != nil {
		return false, err
	}
	u.TOTPSecret = sealed
	return true, nil
}

// matchTOTP returns the time step, within totpSkew of now and after last,
// whose code is code. Every candidate is computed and compared in
// constant time.
func matchTOTP(secret, code string, now time.Time, last uint64) (step uint64, ok bool) {
	if len(code) != int(totpDigits) || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		st := cur + d
		if st <= 0 {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*totpPeriod, 0), totp.ValidateOpts{
			Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && uint64(st) > last && !ok {
			step, ok = uint64(st), true
		}
	}
	return step, ok
}

func totpAD(user string) []byte { return []byte("gantry totp secret\x00" + user) }

// sealTOTP seals a version byte, the last step used, and the secret.
func (s *Service) sealTOTP(user, secret string, last uint64) ([]byte, error) {
	plain := make([]byte, 0, 9+len(secret))
	plain = append(plain, totpVersion)
	plain = binary.BigEndian.AppendUint64(plain, last)
	plain = append(plain, secret...)
	out, err := s.cfg.Sealer.Seal(plain, totpAD(user))
	if err != nil {
		return nil, fmt.Errorf("seal two-factor secret of %s: %w", user, err)
	}
	return out, nil
}

func (s *Service) openTOTP(u *gantry.User) (secret string, last uint64, err error) {
	plain, err := s.cfg.Sealer.Open(u.TOTPSecret, totpAD(u.Name))
	if err != nil {
		return "", 0, fmt.Errorf("open two-factor secret of %s: %w", u.Name, err)
	}
	if len(plain) < 10 || plain[0] != totpVersion {
		return "", 0, fmt.Errorf("open two-factor secret of %s: unknown format", u.Name)
	}
	return string(plain[9:]), binary.BigEndian.Uint64(plain[1:9]), nil
}
