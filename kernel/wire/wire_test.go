package wire

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func signedFrames(t *testing.T, s *Signer, msgType string) [][]byte {
	t.Helper()
	m := &Message{Identities: [][]byte{[]byte("client-1")}, Header: NewHeader(msgType, "sess", "me"),
		Content: json.RawMessage(`{"code":"1+1"}`)}
	frames, err := s.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

func TestRoundTrip(t *testing.T) {
	s := NewSigner("secret")
	frames := signedFrames(t, s, "execute_request")
	m, err := NewSigner("secret").Decode(frames)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if m.Header.MsgType != "execute_request" || string(m.Identities[0]) != "client-1" || string(m.Content) != `{"code":"1+1"}` {
		t.Fatalf("decoded %+v", m)
	}
	if string(m.Parent) != "{}" || string(m.Metadata) != "{}" {
		t.Fatalf("empty parent/metadata should encode as {}: %q %q", m.Parent, m.Metadata)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := signedFrames(t, NewSigner("secret"), "kernel_info_request")
	tamper := func(i int, b string) [][]byte {
		out := append([][]byte(nil), good...)
		out[i] = []byte(b)
		return out
	}
	tests := []struct {
		name   string
		frames [][]byte
		want   error
	}{
		{"wrong key", signedFrames(t, NewSigner("other"), "kernel_info_request"), ErrBadSignature},
		{"no signature", tamper(2, ""), ErrBadSignature},
		{"tampered content", tamper(6, `{"code":"os.Exit(1)"}`), ErrBadSignature},
		{"no delimiter", [][]byte{[]byte("a"), []byte("b")}, ErrNoDelimiter},
		{"short", good[:4], ErrShort},
		{"empty", nil, ErrNoDelimiter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSigner("secret").Decode(tt.frames)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReplayRejected(t *testing.T) {
	s := NewSigner("secret")
	frames := signedFrames(t, s, "execute_request")
	if _, err := s.Decode(frames); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decode(frames); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second Decode error = %v, want ErrReplayed", err)
	}
}

func TestEmptyKeyDisablesSigning(t *testing.T) {
	s := NewSigner("")
	frames := signedFrames(t, s, "kernel_info_request")
	if len(frames[2]) != 0 {
		t.Fatalf("signature with empty key = %q, want empty", frames[2])
	}
	if _, err := s.Decode(frames); err != nil {
		t.Fatalf("Decode unsigned with empty key: %v", err)
	}
}

func TestDecodeMalformedHeader(t *testing.T) {
	s := NewSigner("k")
	hdr, parent, meta, content := []byte("not json"), []byte("{}"), []byte("{}"), []byte("{}")
	frames := [][]byte{[]byte(Delimiter), s.Sign(hdr, parent, meta, content), hdr, parent, meta, content}
	if _, err := s.Decode(frames); err == nil {
		t.Fatal("Decode accepted a header that is not JSON")
	}
}

func TestReadConnectionFile(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ci, err := ReadConnectionFile(write(`{"ip":"127.0.0.1","shell_port":5,"key":"k","signature_scheme":"hmac-sha256","transport":"tcp"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := ci.Endpoint(ci.ShellPort); got != "tcp://127.0.0.1:5" {
		t.Fatalf("Endpoint = %q", got)
	}
	ci, err = ReadConnectionFile(write(`{"ip":"/tmp/kernel","shell_port":5,"transport":"ipc"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := ci.Endpoint(5); got != "ipc:///tmp/kernel-5" {
		t.Fatalf("ipc Endpoint = %q", got)
	}
	for _, bad := range []string{`{`, `{"ip":"127.0.0.1","transport":"udp"}`, `{"ip":"x","key":"k","signature_scheme":"hmac-md5"}`, `{"transport":"tcp"}`} {
		if _, err := ReadConnectionFile(write(bad)); err == nil {
			t.Errorf("ReadConnectionFile(%s) accepted", bad)
		}
	}
	if _, err := ReadConnectionFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}

func FuzzDecode(f *testing.F) {
	s := NewSigner("")
	f.Add([]byte("<IDS|MSG>"), []byte(`{"msg_type":"x"}`), []byte("{}"))
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		_, _ = s.Decode([][]byte{a, []byte(Delimiter), nil, b, c, c, c})
	})
}
