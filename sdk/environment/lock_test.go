package environment

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.lock")
	first, err := lockFile(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	got := make(chan *fileLock)
	go func() {
		l, err := lockFile(context.Background(), path, func() { close(waiting) })
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	select {
	case <-waiting:
	case <-time.After(5 * time.Second):
		t.Fatal("the second lockFile did not wait for the first")
	}
	select {
	case <-got:
		t.Fatal("the second lockFile got the lock while the first held it")
	case <-time.After(50 * time.Millisecond):
	}
	if err := first.unlock(); err != nil {
		t.Fatal(err)
	}
	second := <-got
	if second == nil {
		t.Fatal("no second lock")
	}
	if err := second.unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after unlock: %v", err)
	}
}

func TestLockFileContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.lock")
	l, err := lockFile(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	if _, err := lockFile(ctx, path, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("lockFile with a cancelled context = %v, want context.Canceled", err)
	}
}

// recorder keeps each Write separately.
type recorder struct{ writes []string }

func (r *recorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func TestLineWriter(t *testing.T) {
	var out recorder
	var file bytes.Buffer
	w := &lineWriter{out: &out, file: &file}
	for _, s := range []string{"a", "b\nc", "\n", "d\ne\n", "f"} {
		w.Write([]byte(s))
	}
	w.Flush()
	want := []string{"ab\n", "c\n", "d\n", "e\n", "f\n"}
	if !slices.Equal(out.writes, want) {
		t.Errorf("writes = %q, want %q", out.writes, want)
	}
	if file.String() != "ab\nc\nd\ne\nf\n" || w.Tail() != "ab\nc\nd\ne\nf" {
		t.Errorf("file %q, tail %q", file.String(), w.Tail())
	}
	for range tailLines + 5 {
		w.Printf("x")
	}
	if n := len(lines([]byte(w.Tail()))); n != tailLines {
		t.Errorf("tail keeps %d lines, want %d", n, tailLines)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pip", "pip"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"numpy>=1", "'numpy>=1'"},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
