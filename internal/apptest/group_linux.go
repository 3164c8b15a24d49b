package apptest

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own, which killGroup ends
// with every process in it (nginx's workers too), and has the kernel kill
// it should the test binary die first (a -timeout panic runs no cleanup).
func ownGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// killGroup sends SIGKILL to the process group that ownGroup made for the
// process pid.
func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
