// Package console serves Berth's web console: the browser files of package
// frontend (or of a directory on disk while developing) and the websocket
// endpoints the pages use for live updates.
//
// The console is a client of the same API as the CLI and kubectl: it never
// touches storage or the account store. A websocket request is turned into
// ordinary API requests, made in process against Config.API with the
// browser's own cookie, so the API authenticates and authorizes each of
// them exactly as it would a request from the page itself.
//
// # The watch socket
//
// GET /console/ws/watch multiplexes the page's watches over one websocket
// (the protocol is described in frontend/js/watch.js):
//
//	browser                      console                         API
//	   │ upgrade ───────────────▶ Origin? cookie?
//	   │                          GET whoami?watch=1 (cookie) ─▶ 200 / 401 / 429
//	   │ ◀──────────────── 101    (or 403 / 401 / 429, no upgrade)
//	   │ {op:watch,id:w1} ──────▶ GET path?watch=1&rv= (cookie) ▶ stream
//	   │ ◀──── {id:w1,ADDED..}    one goroutine per watch ◀─────  events
//	   │ ◀──── {id:w1,ERROR}      non-200 answer or ERROR event
//	   │ ◀──── {id:w1,CLOSED}     the stream ended: re-watch from last rv
//	   │ {op:unwatch,id:w1} ────▶ cancel ──────────────────────▶ handler returns
//	   │ close / no pong 75 s ──▶ cancel every watch, wait for their
//	                              goroutines, close the connection
//	   │ ◀──── close 4001         whoami watch ends ◀───────────  session revoked
//
// Every watch runs under a context derived from the socket's, so closing
// the tab (or Shutdown) ends the in-process API requests and every
// goroutine the socket started.
//
// The whoami watch is held for the socket's whole life: through it the
// API counts the socket against the user's limit of console sockets, and
// ends it when the session is revoked (logout, a password change, the
// user deleted); the socket then closes with code 4001. The socket's
// watches are API watches of the user, counted against their watches.
package console
