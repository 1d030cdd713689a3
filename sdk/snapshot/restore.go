package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Restore materialises the manifest m from store into dir, which must be
// empty or not exist yet. Files get their recorded modes, symlinks are
// recreated, and every blob is checked against its digest as it is
// copied. Restore refuses a manifest with a path or symlink that would
// leave dir (see Manifest.Validate). If it fails, dir holds part of the
// tree.
func Restore(ctx context.Context, m *Manifest, store *BlobStore, dir string) error {
	if m == nil || store == nil {
		return errors.New("restore: the manifest or the blob store is nil; pass both")
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	if err := emptyDir(dir); err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	// Files first, symlinks last: no directory that a file is written into
	// can be a symlink, since Validate refuses entries under other entries.
	for _, e := range m.Entries {
		if e.IsSymlink() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := restoreFile(ctx, store, dir, e, buf); err != nil {
			return fmt.Errorf("restore into %s: %w", dir, err)
		}
	}
	for _, e := range m.Entries {
		if !e.IsSymlink() {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("restore into %s: %w", dir, err)
		}
		if err := os.Symlink(filepath.FromSlash(e.Link), p); err != nil {
			return fmt.Errorf("restore into %s: %w", dir, err)
		}
	}
	return nil
}

// emptyDir creates dir, or checks that it is an empty directory.
func emptyDir(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("restore into %s: cannot create it: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("restore into %s: it is a file, not a directory; pass an empty or new directory", dir)
	}
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return fmt.Errorf("restore into %s: the directory is not empty (it holds %s); pass an empty or new directory", dir, names[0])
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	return nil
}

// restoreFile copies the blob of e into place under dir, checking its
// size and digest, and sets its mode.
func restoreFile(ctx context.Context, store *BlobStore, dir string, e Entry, buf []byte) error {
	src, err := store.Open(e.SHA256)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	defer src.Close()
	p := filepath.Join(dir, filepath.FromSlash(e.Path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	dst, err := createNoFollow(p)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(dst, h), ctxReader{ctx, src}, buf)
	if err == nil {
		err = dst.Chmod(e.Mode.Perm())
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != e.Size || sum != e.SHA256 {
		return fmt.Errorf("%s: blob %s in %s is corrupt (%d bytes with digest %s, want %d bytes); delete it and take the snapshot again",
			e.Path, e.SHA256, store.Dir(), n, sum, e.Size)
	}
	return nil
}
