// Package hostimagebuild runs host image builds in the master that holds
// the election (controller.RunAll starts it): it takes the queued builds,
// one at a time per definition (Config.Parallel of different definitions
// at once), composes each with package hostimage into the OSTree
// repository hosts pull from, stores the log as it is written, and
// records what the build made. A build is stopped by a cancel request and
// by its time limit; either leaves the ref where it was.
//
//	Run ─► open the repository ─► end the builds a previous leader left
//	    ─► loop on notifications, a poll and the schedule check:
//	         queue  ─► ClaimNext while a slot is free ─► build ─► Finish
//	         cancel ─► cancel the build's context (the compose's process
//	                   groups get SIGTERM, then SIGKILL)
//	         edit, schedule ─► trigger: inputs differ from the last
//	                   successful build's ─► CreateBuild (Edit | Schedule)
//	    ─► ctx done: builds stop, recorded Failed (the master stopped)
//
// Before a build whose treefile names the ostree-layers ref berth/node,
// the builder commits its own binary there as /usr/bin/berth: hosts run
// the agent of the master that built them, and a new master is a new
// input.
package hostimagebuild
