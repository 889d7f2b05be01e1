// Package hostimages keeps Berth's host images in PostgreSQL: definitions
// (the files of an rpm-ostree treefile), each edit as a revision, builds
// of a revision with what they made (commit, parent, packages, sizes), and
// each build's log in the pieces it was written in. It knows nothing of
// HTTP; package hostimage composes, the builder (controller/hostimagebuild)
// runs builds, the API serves them.
//
// # A build's life
//
//	CreateBuild ─► Queued ──────────── RequestCancel ─────────► Cancelled
//	                 │ ClaimNext (the leader; one running per definition)
//	                 ▼
//	              Running ─ Progress (runner, input hash, ref), AppendLog ...
//	                 │ RequestCancel: cancel_requested, the builder stops it
//	                 ▼
//	   Finish ─► Succeeded (a commit, or no changes) | Failed | Cancelled
//	   a master that stopped mid-build: AbandonRunning ─► Failed
//
// Every change is announced on a PostgreSQL channel (Subscribe), so that
// the leader learns of builds queued on any master and every master's
// followers of a log learn that it grew.
package hostimages
