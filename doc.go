// Package gantry holds Gantry's shared vocabulary: runs, stages, steps and
// their results, artifacts, the run event stream, error kinds, and the few
// contracts that have several implementations (Executor, the Store parts).
//
// It imports no infrastructure: storage, executors, the CLI and the server
// live under internal/ and depend on this package, never the other way round.
package gantry
