//go:build unix

package natstest

import (
	"os"
	"syscall"
)

// The signals of [Processes.Pause] and [Processes.Resume].
var stopSignal, continueSignal os.Signal = syscall.SIGSTOP, syscall.SIGCONT
