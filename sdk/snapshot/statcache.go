package snapshot

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// cacheVersion is the version of the stat cache's file format; a file of
// another version is ignored and replaced.
const cacheVersion = 1

// racyWindow is how recently before a snapshot started a file may have
// been modified and still be trusted to the stat cache. File systems store
// timestamps at a granularity of up to two seconds (FAT; most keep
// nanoseconds updated at each clock tick), and a write that lands in the
// same tick as the one before leaves the modification time unchanged.
const racyWindow = 2 * time.Second

// fileMeta is what the stat cache compares to decide that a file is
// unchanged.
type fileMeta struct {
	Size  int64
	Mtime int64 // nanoseconds since the epoch
	Ctime int64 // nanoseconds since the epoch; 0 where unknown
	Ino   uint64
	Dev   uint64
	Mode  fs.FileMode
}

func metaOf(fi fs.FileInfo) fileMeta {
	ino, dev, ctime := sysStat(fi)
	return fileMeta{
		Size:  fi.Size(),
		Mtime: fi.ModTime().UnixNano(),
		Ctime: ctime,
		Ino:   ino,
		Dev:   dev,
		Mode:  fi.Mode(),
	}
}

type cacheEntry struct {
	_msgpack struct{} `msgpack:",as_array"`
	Path     string
	Meta     fileMeta
	Sum      []byte
}

type cacheFile struct {
	_msgpack struct{} `msgpack:",as_array"`
	Version  int
	Host     string
	Root     string
	Entries  []cacheEntry
}

// defaultCacheFile returns where the stat cache of root lives when
// Options.CacheFile is empty: under the store, in a file named after the
// host and the root, since inodes and paths mean nothing elsewhere.
func defaultCacheFile(store *BlobStore, host, root string) string {
	sum := sha256.Sum256([]byte(host + "\x00" + root))
	return filepath.Join(store.Dir(), ".statcache", hex.EncodeToString(sum[:16])+".msgpack")
}

// loadCache reads the stat cache of root on host from file. A missing
// file, or one for another version, host or root, is an empty cache.
func loadCache(file, host, root string) (map[string]cacheEntry, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stat cache %s: %w", file, err)
	}
	defer f.Close()
	var cf cacheFile
	if err := msgpack.NewDecoder(bufio.NewReader(f)).Decode(&cf); err != nil {
		return nil, fmt.Errorf("stat cache %s is unreadable (%v); it will be rebuilt", file, err)
	}
	if cf.Version != cacheVersion || cf.Host != host || cf.Root != root {
		return nil, nil
	}
	m := make(map[string]cacheEntry, len(cf.Entries))
	for _, e := range cf.Entries {
		if len(e.Sum) == sha256.Size {
			m[e.Path] = e
		}
	}
	return m, nil
}

// saveCache replaces file atomically with the given entries.
func saveCache(file, host, root string, entries []cacheEntry) error {
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("stat cache: cannot create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("stat cache: %w", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = msgpack.NewEncoder(bw).Encode(&cacheFile{Version: cacheVersion, Host: host, Root: root, Entries: entries})
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), file)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("stat cache %s: cannot save it: %w", file, err)
	}
	return nil
}
