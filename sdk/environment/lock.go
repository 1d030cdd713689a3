package environment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// fileLock is an exclusive flock(2) lock on a file that exists only while
// the lock is held: unlock removes the file first, so a lock directory
// does not fill with stale lock files.
//
// flock locks belong to an open file description, so two goroutines of one
// process exclude each other just as two processes do. Removing the file
// is safe because lockFile checks, after locking, that the file it locked
// is still the one at the path; if another holder removed it meanwhile, it
// opens the new file and locks again.
type fileLock struct {
	f    *os.File
	path string
}

// lockFile waits until it holds the lock at path or ctx is done. onWait is
// called once, before the first wait, if the lock is held elsewhere.
func lockFile(ctx context.Context, path string, onWait func()) (*fileLock, error) {
	delay := 5 * time.Millisecond
	waited := false
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open lock file: %w", err)
		}
		err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if sameFile(f, path) {
				return &fileLock{f: f, path: path}, nil
			}
			f.Close() // removed by the previous holder; lock the new file
			continue
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !waited && onWait != nil {
			onWait()
		}
		waited = true
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// unlock removes the lock file and releases the lock.
func (l *fileLock) unlock() error {
	rmErr := os.Remove(l.path)
	err := flock(l.f, syscall.LOCK_UN)
	l.f.Close()
	if rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		return fmt.Errorf("remove lock file: %w", rmErr)
	}
	if err != nil {
		return fmt.Errorf("unlock %s: %w", l.path, err)
	}
	return nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// sameFile reports whether f is the file now at path.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}
