// Package compare holds benchmarks that run the same shutdown workloads
// against lastcall, uber-go/fx, oklog/run and hand-written code, in one
// process, so that their figures are comparable as ratios. It has no
// non-test code; run it with make bench from the repository root.
package compare
