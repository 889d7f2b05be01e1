// Package systemd lets a Berth process live well under systemd: it speaks
// the sd_notify protocol (READY, WATCHDOG, STOPPING, STATUS) to the socket
// in NOTIFY_SOCKET and logs to the journal when stderr is connected to it.
// Outside systemd every function is a harmless no-op or falls back to
// plain text on stderr.
//
//	start ──► Notify(Ready) ──► Watchdog(ctx): WATCHDOG=1 every WATCHDOG_USEC/2 ──► ctx done
//	                                                                  └──► Notify(Stopping) ──► exit
package systemd
