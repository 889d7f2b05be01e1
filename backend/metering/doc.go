// Package metering keeps Berth's usage accounting in PostgreSQL: the raw
// records node agents measure, the hourly and daily rollups that reports
// read, and the newest sample of each container that metrics.k8s.io
// serves.
//
// # A record's way
//
//	agent: sample every UsageInterval (docker stats) ─► windows (one per
//	       container: CPU s, memory B·s, peak, network B, running s)
//	     ─► spool on disk (StateDir/usage, fsync'd) ─► POST usagerecords,
//	        oldest first, retried while the master or PostgreSQL is away
//	master (backend/api): node credential only; each pod must be bound to
//	       the node that reports it (or have been, when it is gone: usage_pods
//	       remembers); project and user come from the pod, not the node
//	     ─► Store.Ingest, one transaction: COPY (binary, encoded here)
//	        straight into the day partitions, and the batch's rollups
//	        (summed in Go) inserted in one statement into
//	        usage_rollup_pending, which locks no rollup row
//	     ─► FoldRollups (every 2 s, RunFolder): delete the pending sums and
//	        add them to usage_rollups, in one statement; reports read
//	        usage_rollups and usage_rollup_pending together
//	        └─ a key stored already (a batch delivered again) fails that
//	           COPY: then COPY into a temporary table ─► INSERT … ON
//	           CONFLICT (node, container, window start) DO NOTHING ─► the
//	           rows actually inserted are added to the rollups
//
// A batch delivered twice is stored once and rolled up once: the primary
// key refuses the second COPY, and the careful path only ever adds what
// its insert returned. Raw records live in daily
// partitions (made as records arrive, dropped past the retention by
// Sweep); rollups are kept for good. A record counts in the hour and the
// day its window starts in (windows are one interval long, so at most one
// interval is counted in the hour before the one it ends in).
package metering
