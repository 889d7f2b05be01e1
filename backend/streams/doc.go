// Package streams bounds and tracks the long-lived requests a master
// serves: API watches, log follows, exec and attach sessions, and console
// websockets. Each is held in a Registry for as long as it runs, so that
//
//   - a user cannot open more than a set number of each kind at once, nor
//     all users together more than a total (past either, Open answers 429
//     with Retry-After, errdefs.TooManyRequests); and
//   - a stream never outlives the credential it was opened with: revoking
//     a token, logging out, a password change or deleting the user ends
//     every stream opened with it at once on this master, and the
//     periodic re-check (Run) ends them on the other masters within
//     Config.RecheckInterval.
//
// The package knows nothing of HTTP or of the account store: the API opens
// sessions, the account store's revocations are wired to EndCredential and
// EndUser by the server, and Checker is the account store's view of which
// credentials are still valid.
//
// # A stream's life
//
//	handler ──Open(ctx, owner, kind)──▶ limit reached? ──yes──▶ 429 + Retry-After
//	                                         │ no
//	                                         ▼
//	                          slot taken; session registered
//	                          under its credential and user
//	                                         │
//	        serve the stream under session.Context()
//	                                         │
//	   ┌──────────────┬──────────────────────┼───────────────────────┐
//	   ▼              ▼                      ▼                       ▼
//	client gone,   EndCredential /      Run's re-check finds     Shutdown
//	stream done    EndUser (revoked     the credential gone
//	(ctx ends)     here: cause          (revoked elsewhere,
//	               ErrRevoked)          expired: ErrRevoked)
//	   └──────────────┴──────────────────────┼───────────────────────┘
//	                                         ▼
//	                          context ends; the handler returns
//	                                         │
//	                                         ▼
//	                          defer session.Close(): slot freed
//
// A session's slot is freed only by Close, never by its context ending:
// the stream still holds its connection until its handler returns, and
// the count says how many are really open.
package streams
