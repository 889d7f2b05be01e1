// Package accounts stores Berth's users, their credentials (argon2id
// password hashes and hashed API, session and node tokens), their project
// memberships and the audit log, in PostgreSQL.
//
// Open applies the schema from package migrations. Token authentication and
// role lookups run on every API request, so both are served from short-lived
// in-process caches (10 s for tokens, 5 s for roles); a revocation made in
// this process takes effect at once, one made by another master within the
// cache lifetime. Login throttling (LoginLimiter) is in memory: it is a
// brake on guessing, not an account lock.
//
// Errors wrap the sentinels in errors.go; check them with errors.Is.
package accounts
