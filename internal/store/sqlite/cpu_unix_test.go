//go:build unix

package sqlite

import "syscall"

// processCPU returns the CPU time the process has used, user and system:
// steadier than wall time on a busy machine, and it counts the work of
// the background checkpoints too.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
