package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv names the root that TestHelperTakeAsOtherUser snapshots when
// the test binary runs it as another user.
const helperEnv = "GANTRY_SNAPSHOT_TEST_ROOT"

func TestTakeUnreadable(t *testing.T) {
	dir := t.TempDir()
	// Another user must reach the trees: open up the temporary directories.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		files  map[string]string
		locked string // made unreadable
	}{
		{"file", map[string]string{"ok.txt": "ok", "sub/secret.txt": "s"}, "sub/secret.txt"},
		{"directory", map[string]string{"ok.txt": "ok", "private/x.txt": "x"}, "private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(dir, tt.name)
			makeTree(t, root, tt.files)
			if err := os.Chmod(filepath.Join(root, tt.locked), 0); err != nil {
				t.Fatal(err)
			}
			msg, isPerm := takeAsOtherUser(t, dir, root)
			t.Logf("error: %s", msg)
			for _, want := range []string{"cannot read " + filepath.Join(root, tt.locked) + ": permission denied", "make it readable", ".gitignore"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if !isPerm {
				t.Errorf("error %q does not match fs.ErrPermission", msg)
			}
		})
	}
}

// takeAsOtherUser snapshots root as a user that file modes apply to, and
// returns the error message and whether it matched fs.ErrPermission. Root
// ignores file modes, so then the test binary runs again as nobody.
func takeAsOtherUser(t *testing.T, dir, root string) (string, bool) {
	if os.Geteuid() != 0 {
		_, _, err := Take(context.Background(), root, newStore(t), Options{})
		if err == nil {
			t.Fatal("Take of an unreadable tree succeeded")
		}
		return err.Error(), errors.Is(err, fs.ErrPermission)
	}
	bin := filepath.Join(dir, "snapshot.test")
	if _, err := os.Stat(bin); err != nil {
		copyFile(t, os.Args[0], bin)
	}
	blobs := filepath.Join(dir, "blobs-"+filepath.Base(root))
	if err := os.Mkdir(blobs, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(blobs, 0o777)
	cmd := exec.Command(bin, "-test.run=^TestHelperTakeAsOtherUser$", "-test.count=1")
	cmd.Env = []string{helperEnv + "=" + root, "GANTRY_SNAPSHOT_TEST_BLOBS=" + blobs, "HOME=" + dir, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("test binary as nobody: %v\n%s", err, out)
	}
	msg, rest, ok := strings.Cut(string(out), "\nIS_PERMISSION=")
	msg, found := strings.CutPrefix(msg, "ERR=")
	if !ok || !found {
		t.Fatalf("unexpected helper output:\n%s", out)
	}
	return msg, strings.HasPrefix(rest, "true")
}

// TestHelperTakeAsOtherUser is not a test: takeAsOtherUser runs it in a
// test binary started as another user.
func TestHelperTakeAsOtherUser(t *testing.T) {
	root := os.Getenv(helperEnv)
	if root == "" {
		t.Skip("runs only as a helper of TestTakeUnreadable")
	}
	store, err := NewBlobStore(os.Getenv("GANTRY_SNAPSHOT_TEST_BLOBS"))
	if err != nil {
		fmt.Printf("ERR=NewBlobStore: %v\nIS_PERMISSION=false\n", err)
		return
	}
	_, _, err = Take(context.Background(), root, store, Options{})
	if err == nil {
		fmt.Printf("ERR=<nil>\nIS_PERMISSION=false\n")
		return
	}
	fmt.Printf("ERR=%v\nIS_PERMISSION=%v\n", err, errors.Is(err, fs.ErrPermission))
}

func copyFile(t *testing.T, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTakeSkipsPipes(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{"a.txt": "a"})
	if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, st, err := Take(ctx, root, newStore(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(m); !slices.Equal(got, []string{"a.txt"}) {
		t.Errorf("paths = %v, want [a.txt]", got)
	}
	if len(st.Warnings) != 1 || st.Warnings[0].Path != "pipe" || !strings.Contains(st.Warnings[0].Message, "named pipe") {
		t.Errorf("warnings = %v, want one about the named pipe", st.Warnings)
	}
}
