// Package bench holds Berth's benchmarks. Each runs a real master
// (testenv) and measures the API against a baseline taken in the same run
// (raw etcd), because the machines it runs on are shared and noisy: the
// ratio is the figure to compare across runs, not the absolute rate. The
// host image benchmark composes with the hostimage library directly: its
// targets are a duration (an unchanged rebuild) and a size ratio (a
// one-file change's static delta to its commit).
//
// Run them with make bench, which does one iteration of each
// (-benchtime 1x); every benchmark does its whole measurement in that
// iteration and prints a summary line with PASS or MISS beside each target.
package bench
