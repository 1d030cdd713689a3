package snapshot

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSymlinks(t *testing.T) {
	outside := t.TempDir()
	makeTree(t, outside, map[string]string{"secret.txt": "do not read"})
	root := t.TempDir()
	makeTree(t, root, map[string]string{
		"a/file.txt":      "in",
		"a/sib.txt":       "->file.txt",
		"a/up.txt":        "->../b/c.txt",
		"b/c.txt":         "c",
		"b/dir":           "->../a",
		"b/messy":         "->./../a/./file.txt",
		"dangling":        "->not/there",
		"abs":             "->" + filepath.Join(outside, "secret.txt"),
		"abs_inside":      "->" + filepath.Join(root, "b/c.txt"),
		"escape":          "->../" + filepath.Base(outside) + "/secret.txt",
		"a/escape_deeper": "->../../x",
		"chain":           "->abs", // inside by name, outside once resolved
	})
	store := newStore(t)
	m, st := take(t, root, store, Options{})

	var links []string
	for _, e := range m.Entries {
		if e.IsSymlink() {
			links = append(links, e.Path+" -> "+e.Link)
		}
	}
	want := []string{"a/sib.txt -> file.txt", "a/up.txt -> ../b/c.txt", "b/dir -> ../a", "b/messy -> ../a/file.txt", "dangling -> not/there"}
	if !slices.Equal(links, want) {
		t.Errorf("symlinks kept:\n got %q\nwant %q", links, want)
	}
	var warned []string
	for _, w := range st.Warnings {
		warned = append(warned, w.Path)
	}
	slices.Sort(warned)
	if want := []string{"a/escape_deeper", "abs", "abs_inside", "chain", "dangling", "escape"}; !slices.Equal(warned, want) {
		t.Errorf("warnings for %q, want %q: %v", warned, want, st.Warnings)
	}
	if st.HashedBytes != 3 || st.Symlinks != 5 {
		t.Errorf("hashed %d bytes, %d symlinks; want 3 bytes (a/file.txt, b/c.txt), 5 symlinks", st.HashedBytes, st.Symlinks)
	}
	if m.Validate() != nil {
		t.Errorf("Take made an invalid manifest: %v", m.Validate())
	}

	_, _, err := Take(context.Background(), root, store, Options{StrictSymlinks: true})
	if err == nil || !strings.Contains(err.Error(), "StrictSymlinks") || !strings.Contains(err.Error(), "is not allowed") {
		t.Errorf("StrictSymlinks: %v, want an error naming a symlink that leaves the tree", err)
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{
		"train.py":          "print('hi')\n",
		"conf/a.yaml":       "a: 1\n",
		"conf/link.yaml":    "->a.yaml",
		"conf/deep/x/y.bin": strings.Repeat("y", smallFile+3),
		"dup1":              "same",
		"dup2":              "same",
		"lib":               "->conf",
		".gitignore":        "*.tmp\n",
		"junk.tmp":          "ignored",
	})
	os.Chmod(filepath.Join(root, "train.py"), 0o755)
	os.Chmod(filepath.Join(root, "conf/a.yaml"), 0o600)
	store := newStore(t)
	m, _ := take(t, root, store, Options{})

	dst := filepath.Join(t.TempDir(), "restored")
	if err := Restore(context.Background(), m, store, dst); err != nil {
		t.Fatal(err)
	}
	m2, _ := take(t, dst, newStore(t), Options{})
	if m2.ID() != m.ID() {
		t.Errorf("restored tree differs: %v", Diff(m, m2))
	}
	if target, err := os.Readlink(filepath.Join(dst, "lib")); err != nil || target != "conf" {
		t.Errorf("lib: %q, %v; want a symlink to conf", target, err)
	}
	for p, want := range map[string]fs.FileMode{"train.py": 0o755, "conf/a.yaml": 0o600, "dup2": 0o644} {
		if fi, err := os.Lstat(filepath.Join(dst, p)); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode(), err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "junk.tmp")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an ignored file was restored: %v", err)
	}

	// Into a non-empty directory: refused, nothing touched.
	err := Restore(context.Background(), m, store, dst)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Restore into a non-empty directory: %v", err)
	}
}

func TestRestoreRefuses(t *testing.T) {
	store := newStore(t)
	sum, _, err := store.Put(context.Background(), strings.NewReader("evil"))
	if err != nil {
		t.Fatal(err)
	}
	file := func(p string) Entry { return Entry{Path: p, Mode: 0o644, Size: 4, SHA256: sum} }
	link := func(p, to string) Entry { return Entry{Path: p, Mode: fs.ModeSymlink | 0o777, Link: to} }
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"path escaping", []Entry{file("../evil")}, "must be relative"},
		{"absolute symlink", []Entry{link("l", "/tmp")}, "relative and clean"},
		{"symlink escaping", []Entry{link("d/l", "../../..")}, "points outside"},
		{"file through a symlink", []Entry{link("l", "."), file("l/evil")}, "lies under entry"},
		{"missing blob", []Entry{{Path: "x", Mode: 0o644, Size: 1, SHA256: hexSum("nowhere")}}, "missing from"},
		{"size mismatch", []Entry{{Path: "x", Mode: 0o644, Size: 5, SHA256: sum}}, "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			err := Restore(context.Background(), &Manifest{Entries: tt.entries}, store, dst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore = %v, want an error mentioning %q", err, tt.want)
			}
			if _, err := os.Lstat(filepath.Join(parent, "evil")); err == nil {
				t.Error("Restore wrote outside its directory")
			}
		})
	}
}

func TestRestoreDetectsCorruptBlob(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{"a.txt": "original"})
	store := newStore(t)
	m, _ := take(t, root, store, Options{})
	p := store.Path(m.Entries[0].SHA256)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Restore(context.Background(), m, store, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "a.txt") {
		t.Errorf("Restore of a tampered blob: %v, want an error naming a.txt and the corrupt blob", err)
	}
}

func TestBlobStoreConcurrentPut(t *testing.T) {
	store := newStore(t)
	content := strings.Repeat("blob", 100000)
	var wg sync.WaitGroup
	sums := make([]string, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Go(func() {
			sums[i], _, errs[i] = store.Put(context.Background(), strings.NewReader(content))
		})
	}
	wg.Wait()
	for i := range 8 {
		if errs[i] != nil || sums[i] != hexSum(content) {
			t.Fatalf("Put %d: %s, %v", i, sums[i], errs[i])
		}
	}
	ents, _ := os.ReadDir(store.Dir())
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{hexSum(content)[:2]}; !slices.Equal(names, want) {
		t.Errorf("store holds %v, want only %v (no temporary files)", names, want)
	}
	data, err := os.ReadFile(store.Path(hexSum(content)))
	if err != nil || string(data) != content {
		t.Errorf("blob content wrong: %v", err)
	}
	if ok, err := store.Has(hexSum(content)); !ok || err != nil {
		t.Errorf("Has = %v, %v", ok, err)
	}
	if _, err := store.Has("xyz"); err == nil {
		t.Error("Has accepted a malformed digest")
	}
	if _, err := NewBlobStore(filepath.Join(store.Path(hexSum(content)))); err == nil {
		t.Error("NewBlobStore accepted a file")
	}
}
