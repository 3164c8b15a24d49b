//go:build !linux

package apptest

import "os/exec"

// ownGroup does nothing where process groups and a parent-death signal
// are not at hand: kill the test's processes by hand if it dies.
func ownGroup(*exec.Cmd) {}

// killGroup does nothing; see ownGroup.
func killGroup(int) {}
