//go:build unix

package snapshot

import (
	"os"
	"syscall"
)

// openNoFollow opens name for reading without following a final symlink
// and without blocking on a pipe, should the file have been replaced by
// one since it was listed.
func openNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// createNoFollow creates name, which must not exist yet, for writing.
func createNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
}
