package remote

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gantry/sdk/journal"
	"gantry/sdk/snapshot"
)

// harness is a Server served in-process over pipes, with a Client.
type harness struct {
	root   string
	client *Client
	// closeServer closes the server's ends of the pipes, as a dropped
	// connection would.
	closeServer func()
}

func newHarness(t *testing.T, exe string) *harness {
	t.Helper()
	root := t.TempDir()
	if exe == "" {
		exe = "/bin/true"
	}
	s := &Server{Root: root, Exe: exe, Version: "test-1"}
	reqR, reqW := io.Pipe()   // client -> server
	respR, respW := io.Pipe() // server -> client
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, reqR, respW) }()
	var once sync.Once
	closeServer := func() {
		once.Do(func() {
			reqR.Close()
			respW.Close()
		})
	}
	t.Cleanup(func() {
		reqW.Close()
		cancel()
		closeServer()
		<-served
	})
	return &harness{root: root, client: NewClient(respR, reqW), closeServer: closeServer}
}

// ctx returns a context that bounds a test, so a hang fails it instead of
// stalling the whole run.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (h *harness) call(t *testing.T, req Request) (*Response, error) {
	t.Helper()
	return h.client.Call(testCtx(t), req)
}

func (h *harness) mustCall(t *testing.T, req Request) *Response {
	t.Helper()
	resp, err := h.call(t, req)
	if err != nil {
		t.Fatalf("%s: %v", req.Op, err)
	}
	return resp
}

func wantErr(t *testing.T, what string, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Errorf("%s: error = %v, want one containing %q", what, err, substr)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeFile writes a file under root, making its directory.
func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

func TestHello(t *testing.T) {
	h := newHarness(t, "")
	resp := h.mustCall(t, Request{Op: OpHello})
	want := Hello{Version: "test-1", GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Root: h.root, PID: os.Getpid()}
	if resp.Hello == nil || *resp.Hello != want {
		t.Errorf("hello = %+v, want %+v", resp.Hello, want)
	}
	for _, d := range []string{"blobs", "runs", "envs", "targets"} {
		if fi, err := os.Stat(filepath.Join(h.root, d)); err != nil || !fi.IsDir() {
			t.Errorf("Serve did not make %s: %v", d, err)
		}
	}
	_, err := h.call(t, Request{Op: "frobnicate"})
	wantErr(t, "unknown op", err, "unknown operation")
}

func TestBlobs(t *testing.T) {
	h := newHarness(t, "")
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 2*ChunkSize+123) // three chunks
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	small := []byte("a small blob")
	empty := []byte{}
	hBig, hSmall, hEmpty := sum(big), sum(small), sum(empty)

	store, err := snapshot.NewBlobStore(filepath.Join(h.root, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	// lacking returns the blobs of hashes the server's cache lacks.
	lacking := func(hashes ...string) []string {
		var l []string
		for _, h := range hashes {
			if ok, err := store.Has(h); err != nil || !ok {
				l = append(l, h)
			}
		}
		return l
	}
	if l := lacking(hBig, hSmall, hEmpty); !reflect.DeepEqual(l, []string{hBig, hSmall, hEmpty}) {
		t.Fatalf("missing from an empty cache = %v", l)
	}
	for _, b := range [][]byte{big, empty} {
		n, err := h.client.PutBlob(testCtx(t), sum(b), bytes.NewReader(b))
		if err != nil || n != int64(len(b)) {
			t.Fatalf("PutBlob of %d bytes = %d, %v", len(b), n, err)
		}
	}
	if l := lacking(hBig, hSmall, hEmpty); !reflect.DeepEqual(l, []string{hSmall}) {
		t.Errorf("missing after put = %v, want only the small blob", l)
	}
	f, err := store.Open(hBig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil || !bytes.Equal(got, big) {
		t.Errorf("stored blob differs: %d bytes, %v", len(got), err)
	}
	if parts, _ := os.ReadDir(filepath.Join(h.root, "blobs", "incoming")); len(parts) != 0 {
		t.Errorf("uploads left %d partial files", len(parts))
	}

	// Content that does not match its hash is refused, and not stored.
	_, err = h.client.PutBlob(testCtx(t), hSmall, bytes.NewReader([]byte("not the small blob")))
	wantErr(t, "put with a wrong hash", err, "corrupted")
	if l := lacking(hSmall); !reflect.DeepEqual(l, []string{hSmall}) {
		t.Errorf("a corrupted upload was stored: missing = %v", l)
	}

	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"chunk past what arrived", Request{Op: OpPut, Hash: hSmall, Offset: 5, Data: small[5:], Last: true}, "offset 5"},
		{"not a digest", Request{Op: OpPut, Hash: "../../etc/passwd", Data: small, Last: true}, "not a SHA-256 digest"},
		{"upper-case digest", Request{Op: OpPut, Hash: strings.ToUpper(hSmall), Data: small, Last: true}, "not a SHA-256 digest"},
	}
	for _, tt := range tests {
		_, err := h.call(t, tt.req)
		wantErr(t, tt.name, err, tt.want)
	}

	// A chunk out of order in the middle of an upload.
	if _, err := h.call(t, Request{Op: OpPut, Hash: hSmall, Offset: 0, Data: small[:4]}); err != nil {
		t.Fatal(err)
	}
	_, err = h.call(t, Request{Op: OpPut, Hash: hSmall, Offset: 8, Data: small[8:], Last: true})
	wantErr(t, "chunk skipping bytes", err, "4 bytes have arrived")
	// Starting again at offset 0 recovers.
	if n, err := h.client.PutBlob(testCtx(t), hSmall, bytes.NewReader(small)); err != nil || n != int64(len(small)) {
		t.Errorf("PutBlob after a failed upload = %d, %v", n, err)
	}
	if ok, err := store.Has(hSmall); !ok || err != nil {
		t.Errorf("small blob not stored: %v, %v", ok, err)
	}
}

func TestRunDir(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"3f2a", true},
		{"run-1.x", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{`a\b`, false},
		{"../x", false},
		{"/abs", false},
	}
	for _, tt := range tests {
		dir, err := RunDir("/root", tt.id)
		if tt.ok {
			if err != nil || dir != filepath.Join("/root", "runs", tt.id) {
				t.Errorf("RunDir(%q) = %q, %v", tt.id, dir, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), "not a valid run ID") {
			t.Errorf("RunDir(%q) = %q, %v; want an error", tt.id, dir, err)
		}
	}
}

func TestPrepare(t *testing.T) {
	h := newHarness(t, "")
	files := []File{
		{Path: "job.json", Data: []byte(`{"a":1}`)},
		{Path: "gantry-python/gantry/__init__.py", Data: []byte("x = 1\n"), Mode: 0o644},
		{Path: "run.sh", Data: []byte("#!/bin/sh\n"), Mode: 0o755 | 0o4000}, // setuid is dropped
	}
	h.mustCall(t, Request{Op: OpPrepare, Run: "r1", Files: files})
	dir := filepath.Join(h.root, "runs", "r1")
	wantModes := []os.FileMode{0o600, 0o644, 0o755}
	for i, f := range files {
		p := filepath.Join(dir, f.Path)
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, f.Data) {
			t.Errorf("%s = %q, %v", f.Path, b, err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode() != wantModes[i] {
			t.Errorf("%s mode = %v, want %v", f.Path, fi.Mode(), wantModes[i])
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "logs")); err != nil || !fi.IsDir() {
		t.Errorf("prepare made no logs/: %v", err)
	}

	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"dot-dot", Request{Op: OpPrepare, Run: "r2", Files: []File{{Path: "../x", Data: []byte("x")}}}, "not a path inside"},
		{"dot-dot inside", Request{Op: OpPrepare, Run: "r2", Files: []File{{Path: "a/../../x", Data: []byte("x")}}}, "not a path inside"},
		{"absolute", Request{Op: OpPrepare, Run: "r2", Files: []File{{Path: "/abs", Data: []byte("x")}}}, "not a path inside"},
		{"empty path", Request{Op: OpPrepare, Run: "r2", Files: []File{{Path: "", Data: []byte("x")}}}, "not a path inside"},
		{"bad run", Request{Op: OpPrepare, Run: "..", Files: []File{{Path: "x", Data: []byte("x")}}}, "not a valid run ID"},
		{"no run", Request{Op: OpPrepare, Files: []File{{Path: "x", Data: []byte("x")}}}, "not a valid run ID"},
	}
	for _, tt := range tests {
		_, err := h.call(t, tt.req)
		wantErr(t, tt.name, err, tt.want)
	}
	for _, p := range []string{filepath.Join(h.root, "runs", "x"), filepath.Join(h.root, "x"), "/abs", filepath.Join(h.root, "runs", "x.tmp")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("a refused prepare wrote %s", p)
		}
	}
}

func TestReadRefuses(t *testing.T) {
	h := newHarness(t, "")
	dir := filepath.Join(h.root, "runs", "r1")
	secret := filepath.Join(h.root, "secret")
	writeFile(t, secret, []byte("top secret"), 0o600)
	writeFile(t, filepath.Join(dir, "logs", "out.log"), []byte("log"), 0o600)
	if err := os.MkdirAll(filepath.Join(dir, "outputs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"leak":     secret,
		"leak-rel": "../../../secret",
		"leakdir":  h.root,
		"inside":   "../logs/out.log",
	} {
		if err := os.Symlink(target, filepath.Join(dir, "outputs", name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, file, want string
	}{
		{"dot-dot", "../x", "not a path inside"},
		{"dot-dot to another run", "../r2/logs/out.log", "not a path inside"},
		{"absolute", secret, "not a path inside"},
		{"symlink out", "outputs/leak", "symlink"},
		{"relative symlink out", "outputs/leak-rel", "symlink"},
		{"through a symlinked directory", "outputs/leakdir/secret", "symlink"},
	}
	for _, tt := range tests {
		resp, err := h.call(t, Request{Op: OpRead, Run: "r1", Name: tt.file})
		wantErr(t, tt.name, err, tt.want)
		if resp != nil && bytes.Contains(resp.Data, []byte("secret")) {
			t.Errorf("%s: served the file outside the run", tt.name)
		}
	}
	_, err := h.call(t, Request{Op: OpRead, Run: "..", Name: "secret"})
	wantErr(t, "bad run ID", err, "not a valid run ID")

	// A symlink that stays inside the run's directory is served.
	resp := h.mustCall(t, Request{Op: OpRead, Run: "r1", Name: "outputs/inside"})
	if string(resp.Data) != "log" {
		t.Errorf("symlink inside the run = %q, want %q", resp.Data, "log")
	}
}

func TestRead(t *testing.T) {
	h := newHarness(t, "")
	dir := filepath.Join(h.root, "runs", "r1")
	writeFile(t, filepath.Join(dir, "logs", "out.log"), []byte("hello world"), 0o600)
	tests := []struct {
		name   string
		file   string
		offset int64
		max    int
		data   string
		size   int64
	}{
		{"whole", "logs/out.log", 0, 0, "hello world", 11},
		{"from an offset", "logs/out.log", 6, 0, "world", 11},
		{"at most", "logs/out.log", 6, 3, "wor", 11},
		{"at the end", "logs/out.log", 11, 0, "", 11},
		{"past the end", "logs/out.log", 1 << 62, 0, "", 11},
		{"missing file", "journal.bin", 0, 0, "", 0},
	}
	for _, tt := range tests {
		resp, err := h.call(t, Request{Op: OpRead, Run: "r1", Name: tt.file, Offset: tt.offset, Max: tt.max, WaitMS: 0})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if string(resp.Data) != tt.data || resp.Size != tt.size || resp.Alive || resp.HeartbeatAgeMS != -1 {
			t.Errorf("%s: read = data %q size %d alive %v heartbeat %d; want %q, %d, false, -1",
				tt.name, resp.Data, resp.Size, resp.Alive, resp.HeartbeatAgeMS, tt.data, tt.size)
		}
	}
	writeFile(t, filepath.Join(dir, journal.HeartbeatFile), nil, 0o600)
	resp := h.mustCall(t, Request{Op: OpRead, Run: "r1", Name: "logs/out.log"})
	if resp.HeartbeatAgeMS < 0 {
		t.Errorf("HeartbeatAgeMS = %d with a heartbeat file", resp.HeartbeatAgeMS)
	}
}

// fakeAgent writes a script that stands in for the agent: it lives until
// killed, and its command line holds the run ID, as the real one's does.
func fakeAgent(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "fake-gantry")
	writeFile(t, exe, []byte("#!/bin/sh\nwhile :; do sleep 1; done\n"), 0o755)
	return exe
}

// killAgent ends the process group a started agent leads.
func killAgent(t *testing.T, pid int) {
	t.Helper()
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func TestStartAndLongPoll(t *testing.T) {
	h := newHarness(t, fakeAgent(t))
	h.mustCall(t, Request{Op: OpPrepare, Run: "r1", Files: []File{{Path: "job.json", Data: []byte("{}")}}})
	resp := h.mustCall(t, Request{Op: OpStart, Run: "r1"})
	pid := resp.PID
	t.Cleanup(func() { killAgent(t, pid) })
	if pid <= 0 {
		t.Fatalf("start returned PID %d", pid)
	}
	if again := h.mustCall(t, Request{Op: OpStart, Run: "r1"}); again.PID != pid {
		t.Errorf("second start = PID %d, want the running agent's %d", again.PID, pid)
	}

	dir := filepath.Join(h.root, "runs", "r1")
	log := filepath.Join(dir, "logs", "out.log")
	writeFile(t, log, []byte("line 1\n"), 0o600)
	resp = h.mustCall(t, Request{Op: OpRead, Run: "r1", Name: "logs/out.log"})
	if !resp.Alive || string(resp.Data) != "line 1\n" {
		t.Fatalf("read with a live agent = alive %v data %q", resp.Alive, resp.Data)
	}

	go func() {
		time.Sleep(100 * time.Millisecond)
		f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return
		}
		f.WriteString("line 2\n")
		f.Close()
	}()
	resp = h.mustCall(t, Request{Op: OpRead, Run: "r1", Name: "logs/out.log", Offset: 7, WaitMS: 5000})
	if string(resp.Data) != "line 2\n" || resp.Size != 14 || !resp.Alive {
		t.Errorf("long poll = data %q size %d alive %v; want %q, 14, true", resp.Data, resp.Size, resp.Alive, "line 2\n")
	}

	h.mustCall(t, Request{Op: OpCancel, Run: "r1"})
	if _, err := os.Stat(filepath.Join(dir, journal.CancelFile)); err != nil {
		t.Errorf("cancel left no cancel file: %v", err)
	}
	_, err := h.call(t, Request{Op: OpCancel, Run: "nope"})
	wantErr(t, "cancel of an unknown run", err, "cancel run nope")

	// Once the agent is gone, a read answers at once that it is not alive.
	killAgent(t, pid)
	ctx := testCtx(t)
	for {
		resp = h.mustCall(t, Request{Op: OpRead, Run: "r1", Name: "logs/out.log", Offset: 14, WaitMS: 5000})
		if !resp.Alive {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the killed agent still reads as alive")
		}
	}
	if len(resp.Data) != 0 {
		t.Errorf("read at the end = %q", resp.Data)
	}
	// A run whose agent ran and left a journal is not started again.
	writeFile(t, filepath.Join(dir, journal.FileName), nil, 0o600)
	_, err = h.call(t, Request{Op: OpStart, Run: "r1"})
	wantErr(t, "restart", err, "started before")
}

func TestOutputs(t *testing.T) {
	h := newHarness(t, "")
	dir := filepath.Join(h.root, "runs", "r1")
	writeFile(t, filepath.Join(dir, "outputs", "a.txt"), []byte("aaa"), 0o644)
	writeFile(t, filepath.Join(dir, "outputs", "sub", "b.bin"), []byte("bbbbb"), 0o600)
	writeFile(t, filepath.Join(dir, "logs", "out.log"), []byte("not an output"), 0o600)
	writeFile(t, filepath.Join(h.root, "secret"), []byte("s"), 0o600)
	for name, target := range map[string]string{
		"link":    "a.txt",
		"dirlink": "sub",
		"leak":    filepath.Join(h.root, "secret"),
		"leakdir": h.root,
	} {
		if err := os.Symlink(target, filepath.Join(dir, "outputs", name)); err != nil {
			t.Fatal(err)
		}
	}
	resp := h.mustCall(t, Request{Op: OpOutputs, Run: "r1"})
	want := []File{
		{Path: "outputs/a.txt", Mode: 0o644, Size: 3},
		{Path: "outputs/sub/b.bin", Mode: 0o600, Size: 5},
	}
	if !reflect.DeepEqual(resp.Files, want) {
		t.Errorf("outputs = %+v\nwant %+v", resp.Files, want)
	}
	// A run without outputs/ has none.
	if err := os.MkdirAll(filepath.Join(h.root, "runs", "r2"), 0o700); err != nil {
		t.Fatal(err)
	}
	if resp := h.mustCall(t, Request{Op: OpOutputs, Run: "r2"}); len(resp.Files) != 0 {
		t.Errorf("outputs of a run without outputs/ = %+v", resp.Files)
	}
	_, err := h.call(t, Request{Op: OpOutputs, Run: "../r1"})
	wantErr(t, "bad run ID", err, "not a valid run ID")
}

func TestConcurrentCalls(t *testing.T) {
	h := newHarness(t, "")
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			run := fmt.Sprintf("r%d", i)
			content := bytes.Repeat([]byte(run+";"), 1000+i)
			if _, err := h.client.Call(testCtx(t), Request{Op: OpPrepare, Run: run, Files: []File{{Path: "logs/out.log", Data: content}}}); err != nil {
				errs <- err
				return
			}
			for off := int64(0); off < int64(len(content)); {
				resp, err := h.client.Call(testCtx(t), Request{Op: OpRead, Run: run, Name: "logs/out.log", Offset: off, Max: 997})
				if err != nil {
					errs <- err
					return
				}
				if want := content[off:min(off+997, int64(len(content)))]; !bytes.Equal(resp.Data, want) {
					errs <- fmt.Errorf("%s at %d: got %d bytes %.20q..., want %.20q...", run, off, len(resp.Data), resp.Data, want)
					return
				}
				off += int64(len(resp.Data))
			}
			if _, err := h.client.Call(testCtx(t), Request{Op: OpRead, Run: "..", Name: "x"}); err == nil {
				errs <- fmt.Errorf("%s: a bad request got no error", run)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClosed(t *testing.T) {
	h := newHarness(t, "")
	h.mustCall(t, Request{Op: OpHello})
	if h.client.Err() != nil {
		t.Fatalf("Err on a live connection = %v", h.client.Err())
	}
	h.closeServer()
	select {
	case <-h.client.Done():
	case <-testCtx(t).Done():
		t.Fatal("the client did not notice the server went away")
	}
	if !errors.Is(h.client.Err(), ErrClosed) {
		t.Errorf("Err = %v, want ErrClosed", h.client.Err())
	}
	_, err := h.call(t, Request{Op: OpHello})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Call after close = %v, want ErrClosed", err)
	}
}

func TestClosedWhilePending(t *testing.T) {
	// A server that reads requests and never answers.
	respR, respW := io.Pipe()
	c := NewClient(respR, io.Discard)
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, Request{Op: OpHello})
		done <- err
	}()
	respW.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("pending Call when the connection closed = %v, want ErrClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("pending Call did not return when the connection closed")
	}

	// A canceled call on a live, silent connection returns its context's
	// error.
	respR2, respW2 := io.Pipe()
	defer respW2.Close()
	c2 := NewClient(respR2, io.Discard)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c2.Call(cctx, Request{Op: OpHello}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Call = %v, want context.Canceled", err)
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	in := Request{ID: 7, Op: OpPut, Hash: "h", Offset: 3, Data: []byte{0, 1, 2}, Last: true,
		Files: []File{{Path: "p", Mode: 0o644, Size: 3, Data: []byte("abc")}}}
	if _, err := writeFrame(&buf, &in); err != nil {
		t.Fatal(err)
	}
	var out Request
	if err := readFrame(&buf, &out); err != nil || !reflect.DeepEqual(in, out) {
		t.Errorf("frame round trip = %+v, %v; want %+v", out, err, in)
	}
	tests := []struct {
		name string
		data []byte
		is   error
		want string
	}{
		{"empty", nil, io.EOF, ""},
		{"torn length", []byte{0, 0}, io.ErrUnexpectedEOF, ""},
		{"torn body", []byte{0, 0, 0, 9, 1}, io.ErrUnexpectedEOF, ""},
		{"too big", binary.BigEndian.AppendUint32(nil, MaxFrame+1), nil, "corrupt"},
	}
	for _, tt := range tests {
		var r Request
		err := readFrame(bytes.NewReader(tt.data), &r)
		if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: readFrame = %v, want %v %q", tt.name, err, tt.is, tt.want)
		}
	}
}

// A prepare answers with the blobs of the run's snapshot the cache lacks
// (its manifest may come gzip-compressed); start refuses until they are
// all there.
func TestPrepareMissingAndStart(t *testing.T) {
	h := newHarness(t, "")
	have, lack := []byte("in the cache"), []byte("not yet sent")
	if _, err := h.client.PutBlob(context.Background(), sum(have), bytes.NewReader(have)); err != nil {
		t.Fatal(err)
	}
	m := snapshot.Manifest{Entries: []snapshot.Entry{
		{Path: "a.txt", Mode: 0o644, Size: int64(len(have)), SHA256: sum(have)},
		{Path: "b.txt", Mode: 0o644, Size: int64(len(lack)), SHA256: sum(lack)},
		{Path: "c.txt", Mode: 0o644, Size: int64(len(lack)), SHA256: sum(lack)},
	}}
	var plain bytes.Buffer
	if err := m.Encode(&plain); err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(plain.Bytes())
	zw.Close()
	resp := h.mustCall(t, Request{Op: OpPrepare, Run: "r1", Files: []File{{Path: "snapshot.manifest", Data: zipped.Bytes(), Gzip: true}}})
	if !reflect.DeepEqual(resp.Missing, []string{sum(lack)}) {
		t.Errorf("prepare says missing %v, want only %s", resp.Missing, sum(lack))
	}
	if b, err := os.ReadFile(filepath.Join(h.root, "runs", "r1", "snapshot.manifest")); err != nil || !bytes.Equal(b, plain.Bytes()) {
		t.Errorf("the manifest was written as %q, %v; want it uncompressed", b, err)
	}
	_, err := h.call(t, Request{Op: OpStart, Run: "r1"})
	wantErr(t, "start with a blob missing", err, "1 blobs of its snapshot are not in the cache")
	_, err = h.call(t, Request{Op: OpSubmit, Run: "r1"})
	wantErr(t, "submit with a blob missing", err, "not in the cache")

	_, err = h.call(t, Request{Op: OpPrepare, Run: "r2", Files: []File{{Path: "job.json", Data: []byte("not gzip"), Gzip: true}}})
	wantErr(t, "corrupt gzip", err, "not gzip data")
}
