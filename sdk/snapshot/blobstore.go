package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// tempPrefix starts the name of every temporary file in a blob store's
// directory; blob directories are two hex digits, so the two never meet.
const tempPrefix = ".tmp-"

// A BlobStore is a directory of files named by the SHA-256 of their
// content: <dir>/<aa>/<hex>, where aa is the first two digits of hex. It is
// safe for concurrent use by multiple goroutines and processes.
type BlobStore struct {
	dir string
}

// NewBlobStore opens the blob store in dir, creating the directory if it
// does not exist.
func NewBlobStore(dir string) (*BlobStore, error) {
	if dir == "" {
		return nil, errors.New("blob store: directory name is empty; pass the workspace's blobs directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("blob store %s: cannot create the directory: %w", abs, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("blob store %s is not a directory; pass a directory", abs)
	}
	return &BlobStore{dir: abs}, nil
}

// Dir returns the absolute path of the store's directory.
func (s *BlobStore) Dir() string { return s.dir }

// Path returns where the blob with the given hex SHA-256 digest lives, or
// "" if sum is not 64 lowercase hex digits.
func (s *BlobStore) Path(sum string) string {
	if !validSum(sum) {
		return ""
	}
	return filepath.Join(s.dir, sum[:2], sum)
}

// Has reports whether the store holds the blob with the given digest.
func (s *BlobStore) Has(sum string) (bool, error) {
	p := s.Path(sum)
	if p == "" {
		return false, fmt.Errorf("blob %q: not a SHA-256 digest; pass 64 lowercase hex digits", sum)
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob %s: %w", sum, err)
	}
	return fi.Mode().IsRegular(), nil
}

// Open opens the blob with the given digest for reading.
func (s *BlobStore) Open(sum string) (*os.File, error) {
	p := s.Path(sum)
	if p == "" {
		return nil, fmt.Errorf("blob %q: not a SHA-256 digest; pass 64 lowercase hex digits", sum)
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s is missing from %s; take the snapshot again to store it: %w", sum, s.dir, err)
	}
	return f, err
}

// Put stores everything read from r and returns its hex SHA-256 digest and
// size. Storing content that is already present writes nothing.
func (s *BlobStore) Put(ctx context.Context, r io.Reader) (sum string, size int64, err error) {
	tmp, raw, n, err := s.writeTemp(ctx, r, make([]byte, 256<<10))
	if err != nil {
		return "", 0, err
	}
	if _, err := s.commit(tmp, raw, n); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(raw[:]), n, nil
}

// has reports whether the blob is present with the expected size. A blob of
// another size (one cut short by a crash, say) counts as missing, so that
// the next writer replaces it.
func (s *BlobStore) has(sum [32]byte, size int64) (bool, error) {
	fi, err := os.Lstat(s.path(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob store %s: %w", s.dir, err)
	}
	return fi.Mode().IsRegular() && fi.Size() == size, nil
}

func (s *BlobStore) path(sum [32]byte) string {
	h := hex.EncodeToString(sum[:])
	return filepath.Join(s.dir, h[:2], h)
}

// putBytes stores data, whose digest is sum, unless it is already present.
// It reports whether it wrote a blob.
func (s *BlobStore) putBytes(sum [32]byte, data []byte) (bool, error) {
	if ok, err := s.has(sum, int64(len(data))); ok || err != nil {
		return false, err
	}
	f, err := s.createTemp()
	if err != nil {
		return false, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return false, fmt.Errorf("blob store %s: write: %w", s.dir, err)
	}
	return true, s.install(f.Name(), sum)
}

// writeTemp copies r into a temporary file in the store, hashing it on the
// way, and returns the file's name, the digest and the size. The caller
// commits or removes the file.
func (s *BlobStore) writeTemp(ctx context.Context, r io.Reader, buf []byte) (string, [32]byte, int64, error) {
	var sum [32]byte
	f, err := s.createTemp()
	if err != nil {
		return "", sum, 0, err
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx, r}, buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", sum, 0, fmt.Errorf("blob store %s: write: %w", s.dir, err)
	}
	h.Sum(sum[:0])
	return f.Name(), sum, n, nil
}

// commit renames the temporary file tmp, holding size bytes with digest
// sum, into place, or removes it when the blob is already there. It
// reports whether it stored the blob.
func (s *BlobStore) commit(tmp string, sum [32]byte, size int64) (bool, error) {
	ok, err := s.has(sum, size)
	if ok || err != nil {
		os.Remove(tmp)
		return false, err
	}
	return true, s.install(tmp, sum)
}

// createTemp creates a read-only temporary file in the store's directory,
// open for writing; blobs are never modified once written.
func (s *BlobStore) createTemp() (*os.File, error) {
	for range 100 {
		name := filepath.Join(s.dir, tempPrefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("blob store %s: cannot create a temporary file: %w", s.dir, err)
		}
	}
	return nil, fmt.Errorf("blob store %s: cannot find a free temporary file name; remove the %s* files in it", s.dir, tempPrefix)
}

// install renames the temporary file tmp to the blob sum, creating the
// blob's directory on first use. Rename replaces atomically: a concurrent
// writer of the same blob renames identical content over another's, which
// readers cannot tell apart.
func (s *BlobStore) install(tmp string, sum [32]byte) error {
	dst := s.path(sum)
	err := os.Rename(tmp, dst)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
			err = os.Rename(tmp, dst)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("blob store %s: cannot store blob %x: %w", s.dir, sum, err)
	}
	return nil
}

// ctxReader stops a copy once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// validSum reports whether s is 64 lowercase hex digits.
func validSum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
