package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// makeTree creates files under root from a map of slash paths to
// contents. A content starting with "->" makes a symlink to the rest; a
// path ending in "/" makes an empty directory.
func makeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ageTree sets the modification time of every regular file under root to
// an hour ago, outside the stat cache's racy window.
func ageTree(t testing.TB, root string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newStore(t testing.TB) *BlobStore {
	t.Helper()
	s, err := NewBlobStore(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func take(t testing.TB, root string, store *BlobStore, opts Options) (*Manifest, Stats) {
	t.Helper()
	m, st, err := Take(context.Background(), root, store, opts)
	if err != nil {
		t.Fatalf("Take(%s): %v", root, err)
	}
	return m, st
}

func paths(m *Manifest) []string {
	var ps []string
	for _, e := range m.Entries {
		ps = append(ps, e.Path)
	}
	return ps
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestTakeManifest(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{
		"train.py":          "print('train')\n",
		"lib/util.py":       "x = 1\n",
		"lib/deep/data.txt": "",
		"empty/":            "",
	})
	if err := os.Chmod(filepath.Join(root, "train.py"), 0o755); err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	m, st := take(t, root, store, Options{})

	want := []Entry{
		{Path: "lib/deep/data.txt", Mode: 0o644, Size: 0, SHA256: hexSum("")},
		{Path: "lib/util.py", Mode: 0o644, Size: 6, SHA256: hexSum("x = 1\n")},
		{Path: "train.py", Mode: 0o755, Size: 15, SHA256: hexSum("print('train')\n")},
	}
	if !slices.Equal(m.Entries, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", m.Entries, want)
	}
	if st.Files != 3 || st.Bytes != 21 || st.StoredBlobs != 3 {
		t.Errorf("stats = %+v, want 3 files, 21 bytes, 3 blobs stored", st)
	}
	for _, e := range want {
		data, err := os.ReadFile(store.Path(e.SHA256))
		if err != nil || hexSum(string(data)) != e.SHA256 {
			t.Errorf("blob of %s: %v, content %q", e.Path, err, data)
		}
	}
	m2, _ := take(t, root, store, Options{NoCache: true})
	if m.ID() != m2.ID() || len(m.ID()) != 64 {
		t.Errorf("IDs of the same tree differ or are malformed: %s, %s", m.ID(), m2.ID())
	}
}

func TestTakeErrors(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{"file.txt": "x"})
	store := newStore(t)
	tests := []struct {
		name  string
		root  string
		store *BlobStore
		want  []string
		is    error
	}{
		{"missing root", filepath.Join(root, "nope"), store, []string{filepath.Join(root, "nope"), "does not exist", "check the path"}, fs.ErrNotExist},
		{"root is a file", filepath.Join(root, "file.txt"), store, []string{filepath.Join(root, "file.txt"), "is a file, not a directory"}, nil},
		{"nil store", root, nil, []string{"blob store is nil", "NewBlobStore"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := Take(context.Background(), tt.root, tt.store, Options{})
			if err == nil || m != nil {
				t.Fatalf("Take = %v, %v; want an error", m, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestTakeLimits(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"big.bin":       strings.Repeat("b", 5000),
		"data/a/x.bin":  strings.Repeat("x", 3000),
		".gantryignore": "*.log\n",
		"skip.log":      strings.Repeat("l", 100000), // ignored: counts toward nothing
	}
	for i := range 12 {
		files[fmt.Sprintf("data/a/f%02d.txt", i)] = strings.Repeat("f", i+1)
	}
	for i := range 3 {
		files[fmt.Sprintf("src/m%d.py", i)] = "pass\n"
	}
	makeTree(t, root, files)
	// Kept: big.bin, .gantryignore, data/a/x.bin, 12 data/a/f*, 3 src/*: 18 files.
	tests := []struct {
		name        string
		opts        Options
		wantErr     bool
		wantInMsg   []string
		wantLargest []string
		wantCrowded []DirCount
	}{
		{name: "under the limits", opts: Options{MaxFiles: 18, MaxBytes: 9000}},
		{name: "no limits", opts: Options{MaxFiles: -1, MaxBytes: -1}},
		{
			name: "too many files", opts: Options{MaxFiles: 10}, wantErr: true,
			wantInMsg:   []string{"18 files (limit 10)", "big.bin", "data/a/", ".gantryignore", "Options.MaxFiles"},
			wantLargest: []string{"big.bin", "data/a/x.bin", "data/a/f11.txt", "data/a/f10.txt", "data/a/f09.txt", "data/a/f08.txt", "data/a/f07.txt", "data/a/f06.txt", ".gantryignore", "data/a/f05.txt"},
			wantCrowded: []DirCount{{"data", 13}, {"src", 3}},
		},
		{
			name: "too many bytes", opts: Options{MaxBytes: 8000}, wantErr: true,
			wantInMsg: []string{"(limit 8.0 kB)", "5.0 kB  big.bin", "Options.MaxBytes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			_, st, err := Take(context.Background(), root, store, tt.opts)
			if !tt.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LimitError", err)
			}
			if le.Files != 18 || le.Bytes != 8000+78+6+15 {
				t.Errorf("totals %d files, %d bytes; want 18 files, %d bytes", le.Files, le.Bytes, 8000+78+6+15)
			}
			for _, w := range tt.wantInMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message does not mention %q:\n%s", w, err)
				}
			}
			if len(le.Largest) != 10 {
				t.Errorf("largest lists %d files, want 10", len(le.Largest))
			}
			if tt.wantLargest != nil {
				var got []string
				for _, f := range le.Largest {
					got = append(got, f.Path)
				}
				if !slices.Equal(got, tt.wantLargest) {
					t.Errorf("largest = %v, want %v", got, tt.wantLargest)
				}
			}
			if tt.wantCrowded != nil && !slices.Equal(le.Crowded, tt.wantCrowded) {
				t.Errorf("crowded = %v, want %v (data/a has data's count and is left out)", le.Crowded, tt.wantCrowded)
			}
			if st.HashedFiles != 0 || st.StoredBlobs != 0 {
				t.Errorf("stats %+v: a tree over the limits must not be read", st)
			}
		})
	}
}

func TestTakeDedupe(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{
		"a.txt":     "same content",
		"b/c.txt":   "same content",
		"other.txt": "different",
	})
	store := newStore(t)
	m, st := take(t, root, store, Options{})
	if st.StoredBlobs != 2 || st.HashedFiles != 3 {
		t.Errorf("stored %d blobs from %d files; want 2 blobs from 3 files", st.StoredBlobs, st.HashedFiles)
	}
	if m.Entries[0].SHA256 != m.Entries[1].SHA256 {
		t.Errorf("identical files have different digests: %+v", m.Entries)
	}
	// Another tree with the same content stores nothing new.
	root2 := t.TempDir()
	makeTree(t, root2, map[string]string{"copy.txt": "same content", "big.bin": strings.Repeat("z", smallFile+10)})
	_, st = take(t, root2, store, Options{})
	if st.StoredBlobs != 1 || st.StoredBytes != smallFile+10 {
		t.Errorf("second tree stored %d blobs (%d bytes); want only the new large file", st.StoredBlobs, st.StoredBytes)
	}
	_, st = take(t, root2, store, Options{NoCache: true})
	if st.StoredBlobs != 0 || st.HashedFiles != 2 {
		t.Errorf("re-reading stored %d blobs from %d files; want 0 from 2", st.StoredBlobs, st.HashedFiles)
	}
	blobs := 0
	filepath.WalkDir(store.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(p, ".statcache") {
			blobs++
			if strings.HasPrefix(d.Name(), tempPrefix) {
				t.Errorf("temporary file left behind: %s", p)
			}
		}
		return nil
	})
	if blobs != 3 {
		t.Errorf("store holds %d blobs, want 3", blobs)
	}
}

func TestStatCache(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{
		"a.txt":     "alpha",
		"sub/b.txt": "bravo",
		"big.bin":   strings.Repeat("q", smallFile+1),
	})
	ageTree(t, root)
	store := newStore(t)
	m1, st := take(t, root, store, Options{})
	if st.HashedBytes != 10+smallFile+1 || st.Cached != 0 {
		t.Fatalf("first take hashed %d bytes, %d cached; want all bytes hashed", st.HashedBytes, st.Cached)
	}

	m2, st := take(t, root, store, Options{})
	if st.HashedBytes != 0 || st.HashedFiles != 0 || st.Cached != 3 {
		t.Errorf("unchanged tree: hashed %d files (%d bytes), %d cached; want 0 hashed, 3 cached", st.HashedFiles, st.HashedBytes, st.Cached)
	}
	if m2.ID() != m1.ID() {
		t.Errorf("unchanged tree changed ID")
	}

	// Same size, new content, another modification time: a miss.
	p := filepath.Join(root, "sub", "b.txt")
	if err := os.WriteFile(p, []byte("BRAVO"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-30 * time.Minute)
	os.Chtimes(p, old, old)
	m3, st := take(t, root, store, Options{})
	if st.HashedFiles != 1 || st.HashedBytes != 5 || st.Cached != 2 {
		t.Errorf("after a same-size change: hashed %d files (%d bytes), %d cached; want 1 (5 bytes), 2 cached", st.HashedFiles, st.HashedBytes, st.Cached)
	}
	if d := Diff(m1, m3); len(d) != 1 || d[0] != (Change{Path: "sub/b.txt", Kind: Modified, OldSize: 5, NewSize: 5}) {
		t.Errorf("Diff = %v, want sub/b.txt modified", d)
	}

	// A blob gone from the store is stored again, even on a cache hit.
	if err := os.Remove(store.Path(hexSum("alpha"))); err != nil {
		t.Fatal(err)
	}
	_, st = take(t, root, store, Options{})
	if st.HashedFiles != 1 || st.StoredBlobs != 1 {
		t.Errorf("after losing a blob: hashed %d, stored %d; want 1 and 1", st.HashedFiles, st.StoredBlobs)
	}
	if ok, _ := store.Has(hexSum("alpha")); !ok {
		t.Error("lost blob not stored again")
	}

	// NoCache reads everything.
	_, st = take(t, root, store, Options{NoCache: true})
	if st.HashedFiles != 3 {
		t.Errorf("NoCache hashed %d files, want 3", st.HashedFiles)
	}
}

// A file modified just before a snapshot could change again within the
// same timestamp tick, unseen: it must be hashed again next time.
func TestStatCacheRacyWindow(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{"old.txt": "old", "fresh.txt": "fresh"})
	ageTree(t, root)
	now := time.Now()
	if err := os.Chtimes(filepath.Join(root, "fresh.txt"), now, now); err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	take(t, root, store, Options{})
	_, st := take(t, root, store, Options{})
	if st.Cached != 1 || st.HashedFiles != 1 || st.HashedBytes != 5 {
		t.Errorf("hashed %d files (%d bytes), %d cached; want fresh.txt hashed again, old.txt cached", st.HashedFiles, st.HashedBytes, st.Cached)
	}
}

func TestTakeExcludesStoreAndCache(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{"train.py": "x", ".gantry/workspace.db": "db"})
	ageTree(t, root)
	store, err := NewBlobStore(filepath.Join(root, ".gantry", "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(root, "cache.msgpack")
	take(t, root, store, Options{CacheFile: cache})
	m, st := take(t, root, store, Options{CacheFile: cache})
	if got, want := paths(m), []string{".gantry/workspace.db", "train.py"}; !slices.Equal(got, want) {
		t.Errorf("paths = %v, want %v: the store and the cache file must be left out", got, want)
	}
	if st.Cached != 2 {
		t.Errorf("cached %d files, want 2: the cache file in the tree was not used", st.Cached)
	}
	m, _ = take(t, root, store, Options{CacheFile: cache, Exclude: []string{".gantry/"}})
	if got := paths(m); !slices.Equal(got, []string{"train.py"}) {
		t.Errorf("with Exclude .gantry/: paths = %v, want [train.py]", got)
	}
}

func TestTakeCanceled(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{"a": "a", "b/c": "c"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Take(ctx, root, newStore(t), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Take with a canceled context: %v, want context.Canceled", err)
	}
}

// benchTree makes files files of size bytes each, in directories of 100.
func benchTree(b *testing.B, files, size int) string {
	root := b.TempDir()
	buf := make([]byte, size)
	for i := range files {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", i/100))
		os.MkdirAll(dir, 0o755)
		copy(buf, fmt.Sprintf("file %d ", i))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.dat", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ageTree(b, root)
	return root
}

// BenchmarkTakeFirst snapshots 2,000 files of 16 kB into an empty store.
func BenchmarkTakeFirst(b *testing.B) {
	root := benchTree(b, 2000, 16<<10)
	b.SetBytes(2000 * 16 << 10)
	for b.Loop() {
		b.StopTimer()
		store := newStore(b)
		b.StartTimer()
		take(b, root, store, Options{NoCache: true})
	}
}

// BenchmarkTakeUnchanged re-snapshots the same tree with a warm stat cache.
func BenchmarkTakeUnchanged(b *testing.B) {
	root := benchTree(b, 2000, 16<<10)
	store := newStore(b)
	take(b, root, store, Options{})
	for b.Loop() {
		if _, st := take(b, root, store, Options{}); st.HashedFiles != 0 {
			b.Fatalf("hashed %d files on an unchanged tree", st.HashedFiles)
		}
	}
}

// BenchmarkRestore materialises 2,000 small files: what an agent does
// before a run's script starts.
func BenchmarkRestore(b *testing.B) {
	root := benchTree(b, 2000, 200)
	store := newStore(b)
	m, _ := take(b, root, store, Options{})
	base := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		if err := Restore(context.Background(), m, store, filepath.Join(base, strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
}
