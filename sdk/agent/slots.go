package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// waitForSlot holds the run in Queued until its target has a free slot:
// a target with MaxConcurrentRuns N has N slot files, and a run holds an
// exclusive flock on one while it runs. The kernel releases the lock when
// the agent exits, however it exits, so a slot is never lost. The returned
// func releases the slot.
func (a *agent) waitForSlot(ctx context.Context) (release func(), err error) {
	n := a.job.MaxConcurrentRuns
	if n <= 0 {
		return func() {}, nil
	}
	dir := filepath.Join(a.paths.SlotsDir, a.job.Target, "slots")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("target %s slots: %w", a.job.Target, err)
	}
	logged := false
	for {
		for i := 0; i < n; i++ {
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("slot-%d.lock", i)), os.O_CREATE|os.O_RDWR, 0o600)
			if err != nil {
				return nil, fmt.Errorf("target %s slot %d: %w", a.job.Target, i, err)
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
				a.logger.Printf("holding slot %d of %d on target %s", i+1, n, a.job.Target)
				return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
			}
			f.Close()
		}
		if !logged {
			a.logger.Printf("queued: target %s runs %d runs at most, all busy", a.job.Target, n)
			logged = true
		}
		if a.canceled(ctx) {
			return nil, fmt.Errorf("canceled while queued")
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the agent was stopped while the run was queued")
		case <-time.After(a.set.CancelPoll):
		}
	}
}
