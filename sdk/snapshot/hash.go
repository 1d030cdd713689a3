package snapshot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// smallFile is the size up to which a file is read whole into memory,
// hashed, and written only if the store lacks it; a larger file is copied
// into a temporary blob as it is hashed.
const smallFile = 1 << 20

// readAttempts is how often a file that changes while it is read is read
// again before Take gives up.
const readAttempts = 3

// A fileHasher digests and stores files for one worker of Take.
type fileHasher struct {
	w     *walker // read only
	store *BlobStore
	cache map[string]cacheEntry // read only
	// claimed holds the digests that some worker of this Take has stored
	// or is storing, so that identical files are stored once.
	claimed *sync.Map
	buf     []byte
	counts
}

// claim reports whether this worker is the first of its Take to store the
// blob sum.
func (h *fileHasher) claim(sum [32]byte) bool {
	_, loaded := h.claimed.LoadOrStore(sum, true)
	return !loaded
}

// file returns the digest and metadata of f, from the stat cache if its
// metadata is unchanged and the store still holds its blob, else by
// reading it and storing its content.
func (h *fileHasher) file(ctx context.Context, f walkFile) (fileResult, error) {
	if ce, ok := h.cache[f.rel]; ok && ce.Meta == f.meta {
		sum := [32]byte(ce.Sum)
		ok, err := h.store.has(sum, f.meta.Size)
		if err != nil {
			return fileResult{}, err
		}
		if ok {
			h.cached++
			return fileResult{sum: sum, meta: f.meta}, nil
		}
	}
	for range readAttempts {
		r, changed, err := h.read(ctx, f.rel)
		if err != nil || !changed {
			return r, err
		}
	}
	return fileResult{}, fmt.Errorf("snapshot of %s: %s changed each of the %d times it was read; stop what writes to it, or add it to %s",
		h.w.display, h.w.shown(f.rel), readAttempts, h.w.ignoreName)
}

// read hashes and stores the file rel. It reports changed if the file's
// size or times changed while it was read, in which case nothing is
// stored.
func (h *fileHasher) read(ctx context.Context, rel string) (r fileResult, changed bool, err error) {
	if err := ctx.Err(); err != nil {
		return r, false, err
	}
	fd, err := openNoFollow(h.w.abs(rel))
	if err != nil {
		return r, false, h.w.readError(rel, err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return r, false, h.w.readError(rel, err)
	}
	if !fi.Mode().IsRegular() {
		return r, true, nil // replaced since it was listed
	}
	meta := metaOf(fi)
	var stored bool
	if meta.Size <= smallFile {
		n, err := io.ReadFull(fd, h.buf[:meta.Size+1])
		if err == nil || int64(n) != meta.Size {
			return r, true, nil // grew or shrank
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return r, false, h.w.readError(rel, err)
		}
		if changed, err := h.changed(fd, rel, meta); changed || err != nil {
			return r, changed, err
		}
		r.sum = sha256.Sum256(h.buf[:n])
		if h.claim(r.sum) {
			if stored, err = h.store.putBytes(r.sum, h.buf[:n]); err != nil {
				return r, false, err
			}
		}
	} else {
		src := &errReader{r: fd}
		tmp, sum, n, err := h.store.writeTemp(ctx, src, h.buf)
		if src.err != nil {
			return r, false, h.w.readError(rel, src.err)
		}
		if err != nil {
			return r, false, err
		}
		if changed, err := h.changed(fd, rel, meta); changed || err != nil || n != meta.Size {
			os.Remove(tmp)
			return r, changed || n != meta.Size, err
		}
		r.sum = sum
		if !h.claim(sum) {
			os.Remove(tmp)
		} else if stored, err = h.store.commit(tmp, sum, n); err != nil {
			return r, false, err
		}
	}
	r.meta = meta
	h.hashedFiles++
	h.hashedBytes += meta.Size
	if stored {
		h.storedBlobs++
		h.storedBytes += meta.Size
	}
	return r, false, nil
}

// changed reports whether fd's metadata differs from meta.
func (h *fileHasher) changed(fd *os.File, rel string, meta fileMeta) (bool, error) {
	fi, err := fd.Stat()
	if err != nil {
		return false, h.w.readError(rel, err)
	}
	return metaOf(fi) != meta, nil
}

// errReader remembers the error of its reader, to tell a failure to read
// the source from a failure to write the blob.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
