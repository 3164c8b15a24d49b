//go:build !unix

package main

// raiseFileLimit does nothing here. Systems that are not Unix (Windows
// among them) have no limit on open files that a process raises with
// setrlimit(2). The sockets a process may hold are bounded otherwise, and
// sseload, a load tool for the benchmarks run on Linux, only has to build
// here.
func raiseFileLimit() error { return nil }
