package snapshot

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune Take. The zero value takes a snapshot with the default
// limits, the default stat cache and one reader per CPU.
type Options struct {
	// MaxFiles is the most files and symlinks a snapshot may hold: 0 means
	// DefaultMaxFiles, a negative number no limit.
	MaxFiles int
	// MaxBytes is the most bytes its files may hold together: 0 means
	// DefaultMaxBytes, a negative number no limit.
	MaxBytes int64
	// StrictSymlinks makes a symlink that leaves the tree fail the snapshot
	// instead of being skipped with a warning.
	StrictSymlinks bool
	// Exclude holds gitignore patterns, relative to the root, that exclude
	// what they match whatever the ignore files say.
	Exclude []string
	// CacheFile is where the stat cache of this root is kept. Empty means
	// <store>/.statcache/<hash of host and root>.msgpack.
	CacheFile string
	// NoCache makes Take read every file, and neither load nor save the
	// stat cache.
	NoCache bool
	// Workers is how many files are read at once; 0 means GOMAXPROCS.
	Workers int
}

// Stats describe what Take did.
type Stats struct {
	Files    int   // regular files in the snapshot
	Symlinks int   // symlinks in the snapshot
	Bytes    int64 // total size of the files
	// IgnoreFile is the name of the ignore files in force, and
	// IgnoreFileFound whether the root has one.
	IgnoreFile      string
	IgnoreFileFound bool
	// Ignored counts the entries left out by ignore rules, by
	// Options.Exclude, or always (.git, the store); a directory left out
	// counts once, whatever it holds.
	Ignored int
	// Cached counts the files whose digest came from the stat cache.
	Cached int
	// HashedFiles and HashedBytes count the files read and hashed.
	HashedFiles int
	HashedBytes int64
	// StoredBlobs and StoredBytes count the blobs written to the store;
	// content that the store held already is not written again.
	StoredBlobs int
	StoredBytes int64
	// Warnings lists what was skipped, and why.
	Warnings []Warning
	Duration time.Duration
}

// A Warning is something Take left out or could not do, which did not stop
// the snapshot.
type Warning struct {
	Path    string // slash-separated, relative to the root; empty for the snapshot as a whole
	Message string
}

func (w Warning) String() string {
	if w.Path == "" {
		return w.Message
	}
	return w.Path + ": " + w.Message
}

// Take snapshots the directory root into store and returns its manifest.
// It lists the tree, applying the ignore rules; fails with a *LimitError,
// before reading any file, if the tree is over the limits; then stores each
// file that the stat cache does not vouch for. The Stats are filled in as
// far as Take got, even when it fails.
func Take(ctx context.Context, root string, store *BlobStore, opts Options) (*Manifest, Stats, error) {
	start := time.Now()
	var st Stats
	if store == nil {
		return nil, st, errors.New("snapshot: the blob store is nil; open one with NewBlobStore")
	}
	display, real, err := resolveRoot(root)
	if err != nil {
		return nil, st, err
	}
	ignoreName, found, err := chooseIgnoreFile(real)
	if err != nil {
		return nil, st, fmt.Errorf("snapshot of %s: cannot look for ignore files: %w", display, err)
	}
	st.IgnoreFile, st.IgnoreFileFound = ignoreName, found

	host, _ := os.Hostname()
	cacheFile := opts.CacheFile
	if cacheFile == "" {
		cacheFile = defaultCacheFile(store, host, real)
	} else if cacheFile, err = filepath.Abs(cacheFile); err != nil {
		return nil, st, fmt.Errorf("snapshot: Options.CacheFile: %w", err)
	}

	w := &walker{
		ctx:        ctx,
		root:       real,
		display:    display,
		ignoreName: ignoreName,
		skip:       alwaysSkipped(real, store.Dir(), cacheFile),
		strict:     opts.StrictSymlinks,
	}
	w.forced.add([]byte(strings.Join(opts.Exclude, "\n")), "")
	err = w.walk("")
	st.Ignored, st.Warnings = w.ignored, w.warnings
	if err != nil {
		return nil, st, err
	}

	sizes := make([]FileSize, 0, len(w.files)+len(w.links))
	for _, f := range w.files {
		sizes = append(sizes, FileSize{Path: f.rel, Size: f.meta.Size})
	}
	for _, l := range w.links {
		sizes = append(sizes, FileSize{Path: l.Path})
	}
	maxFiles, maxBytes := cmp.Or(opts.MaxFiles, DefaultMaxFiles), cmp.Or(opts.MaxBytes, DefaultMaxBytes)
	if err := checkLimits(display, ignoreName, sizes, maxFiles, maxBytes); err != nil {
		return nil, st, err
	}

	var cache map[string]cacheEntry
	if !opts.NoCache {
		if cache, err = loadCache(cacheFile, host, real); err != nil {
			w.warn("", "%v", err)
		}
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results, counts, err := hashFiles(ctx, w, store, cache, workers)
	st.Cached, st.HashedFiles, st.HashedBytes = counts.cached, counts.hashedFiles, counts.hashedBytes
	st.StoredBlobs, st.StoredBytes = counts.storedBlobs, counts.storedBytes
	if err != nil {
		st.Warnings = w.warnings
		return nil, st, err
	}

	m := &Manifest{Entries: make([]Entry, 0, len(w.files)+len(w.links))}
	var newCache []cacheEntry
	trustBefore := start.Add(-racyWindow).UnixNano()
	for i, f := range w.files {
		r := results[i]
		m.Entries = append(m.Entries, Entry{
			Path:   f.rel,
			Mode:   r.meta.Mode.Perm(),
			Size:   r.meta.Size,
			SHA256: hex.EncodeToString(r.sum[:]),
		})
		st.Bytes += r.meta.Size
		if r.meta.Mtime < trustBefore {
			newCache = append(newCache, cacheEntry{Path: f.rel, Meta: r.meta, Sum: r.sum[:]})
		}
	}
	m.Entries = append(m.Entries, w.links...)
	slices.SortFunc(m.Entries, func(a, b Entry) int { return cmp.Compare(a.Path, b.Path) })
	st.Files, st.Symlinks = len(w.files), len(w.links)

	if !opts.NoCache && (counts.hashedFiles > 0 || len(newCache) != len(cache)) {
		if err := saveCache(cacheFile, host, real, newCache); err != nil {
			w.warn("", "%v", err)
		}
	}
	st.Warnings = w.warnings
	st.Duration = time.Since(start)
	return m, st, nil
}

// resolveRoot checks that root is a directory and returns its absolute
// path, for messages, and its real path, with symlinks resolved.
func resolveRoot(root string) (display, real string, err error) {
	display, err = filepath.Abs(root)
	if err != nil {
		return "", "", fmt.Errorf("snapshot of %s: %w", root, err)
	}
	fi, err := os.Stat(display)
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("snapshot: source directory %s does not exist; check the path: %w", display, fs.ErrNotExist)
	}
	if err != nil {
		return "", "", fmt.Errorf("snapshot: cannot read source directory %s: %w", display, err)
	}
	if !fi.IsDir() {
		return "", "", fmt.Errorf("snapshot: %s is a file, not a directory; pass the directory that holds the code", display)
	}
	real, err = filepath.EvalSymlinks(display)
	if err != nil {
		return "", "", fmt.Errorf("snapshot: cannot resolve source directory %s: %w", display, err)
	}
	return display, real, nil
}

// alwaysSkipped returns the slash paths, relative to root, of those of
// paths that lie inside it.
func alwaysSkipped(root string, paths ...string) map[string]bool {
	m := make(map[string]bool)
	for _, p := range paths {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		} else if r, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
			p = filepath.Join(r, filepath.Base(p))
		}
		if rel, ok := inside(root, p); ok && rel != "." {
			m[filepath.ToSlash(rel)] = true
		}
	}
	return m
}

type fileResult struct {
	sum  [32]byte
	meta fileMeta
}

type counts struct {
	cached, hashedFiles, storedBlobs int
	hashedBytes, storedBytes         int64
}

func (c *counts) add(d counts) {
	c.cached += d.cached
	c.hashedFiles += d.hashedFiles
	c.storedBlobs += d.storedBlobs
	c.hashedBytes += d.hashedBytes
	c.storedBytes += d.storedBytes
}

// hashFiles digests and stores the walker's files with the given number
// of workers, and returns the results in the same order as the files.
func hashFiles(ctx context.Context, w *walker, store *BlobStore, cache map[string]cacheEntry, workers int) ([]fileResult, counts, error) {
	results := make([]fileResult, len(w.files))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		total    counts
		firstErr error
		wg       sync.WaitGroup
		claimed  sync.Map
	)
	for range min(workers, len(w.files)) {
		wg.Go(func() {
			h := &fileHasher{w: w, store: store, cache: cache, claimed: &claimed, buf: make([]byte, smallFile+1)}
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(w.files) {
					break
				}
				r, err := h.file(ctx, w.files[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					break
				}
				results[i] = r
			}
			mu.Lock()
			total.add(h.counts)
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return results, total, firstErr
}
