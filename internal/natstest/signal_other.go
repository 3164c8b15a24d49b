//go:build !unix

package natstest

import "os"

// Windows has no SIGSTOP: [Processes.Pause] skips.
var stopSignal, continueSignal os.Signal
