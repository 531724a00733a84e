// Package auth is identity and access for the Gantry server: argon2id
// passwords, TOTP two-factor, hashed and scoped API tokens, per-project
// roles, login with lockout and rate limiting, signed session cookies with
// CSRF protection, security headers, and OpenID Connect single sign-on.
//
// It works over the root contracts gantry.IdentityStore and
// gantry.AuditStore and knows nothing of HTTP routing or of any store
// implementation. Every authentication event is appended as a
// gantry.AuditEvent; the server's hook then puts it in the ledger.
package auth
