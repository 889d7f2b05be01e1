// Package pgserver runs a private PostgreSQL server from the machine's own
// binaries (initdb, postgres), for `berth up` and for integration tests.
//
// Lifecycle of a data directory:
//
//	         Start                         Start
//	(absent) ─────► initdb ─► running ◄──────────── stopped
//	                            │  ▲                   ▲
//	                            │  └─ Start (stale     │
//	                            │     postmaster.pid   │
//	                            │     after a crash)   │
//	                            └──────── Stop ────────┘
//	                                 SIGINT (fast shutdown),
//	                                 SIGKILL when ctx ends
//
// The server listens on a Unix socket with trust authentication for local
// connections (the socket directory is readable only by the server's user,
// and by root) and on a free 127.0.0.1 port that requires a password, which
// the berth superuser does not have: only the socket is a way in.
//
// PostgreSQL refuses to run as root. When the caller is root the server runs
// as the "postgres" system user, or as "nobody" when there is none; the data
// directory is handed to that user.
package pgserver
