//go:build !unix

package snapshot

import "os"

func openNoFollow(name string) (*os.File, error) { return os.Open(name) }

func createNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}
