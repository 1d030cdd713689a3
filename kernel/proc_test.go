package kernel

import (
	"io"
	"strings"
	"sync"
	"testing"
)

func TestPartialSuffix(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"hello", 0},
		{"hello\x00", 1},
		{"hello\x00\x1bGANTRY-SY", len("\x00\x1bGANTRY-SY")},
		{"é"[:1], 1},    // lead byte of a 2-byte rune
		{"x€"[:3], 2},   // 2 of 3 bytes of €
		{"x€", 0},       // complete
		{"😀"[:3], 3},    // 3 of 4 bytes
		{"\x80\x80", 0}, // stray continuation bytes: nothing to wait for
	}
	for _, tt := range tests {
		if got := partialSuffix([]byte(tt.in)); got != tt.want {
			t.Errorf("partialSuffix(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

type recordSink struct {
	mu     sync.Mutex
	text   strings.Builder
	msgs   int
	tokens []string
}

func (r *recordSink) stream(name, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.text.WriteString(text)
	r.msgs++
}

func (r *recordSink) synced(name, token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = append(r.tokens, token+"@"+r.text.String())
}

// TestStreamReaderSplitsTokensAcrossReads feeds output one byte at a time,
// so every token and multi-byte character straddles reads.
func TestStreamReaderSplitsTokensAcrossReads(t *testing.T) {
	pr, pw := io.Pipe()
	sink := &recordSink{}
	s := newStreamReader(pr, "stdout", sink)
	input := "héllo €\n" + "\x00\x1bGANTRY-SYNC:1-1\x00" + "world 😀\n" + "\x00\x1bGANTRY-SYNC:1-2\x00" + "tail"
	for i := 0; i < len(input); i++ {
		if _, err := pw.Write([]byte{input[i]}); err != nil {
			t.Fatal(err)
		}
	}
	pw.Close()
	s.wait()
	if got, want := sink.text.String(), "héllo €\nworld 😀\ntail"; got != want {
		t.Fatalf("text = %q, want %q", got, want)
	}
	want := []string{"1-1@héllo €\n", "1-2@héllo €\nworld 😀\n"}
	if len(sink.tokens) != 2 || sink.tokens[0] != want[0] || sink.tokens[1] != want[1] {
		t.Fatalf("tokens = %q, want %q (output before a token must be sent before it)", sink.tokens, want)
	}
	if strings.Contains(s.tailString(), "héllo") == false {
		t.Fatalf("tail lost output: %q", s.tailString())
	}
}

func TestStreamReaderCoalesces(t *testing.T) {
	pr, pw := io.Pipe()
	sink := &recordSink{}
	s := newStreamReader(pr, "stdout", sink)
	var all strings.Builder
	go func() {
		var b strings.Builder
		for i := 0; i < 10000; i++ {
			b.WriteString("line\n")
		}
		all.WriteString(b.String())
		pw.Write([]byte(b.String()))
		pw.Close()
	}()
	s.wait()
	if sink.text.Len() != 50000 {
		t.Fatalf("got %d bytes, want 50000", sink.text.Len())
	}
	if sink.msgs > 10 {
		t.Fatalf("10,000 lines written at once came out in %d messages; want them coalesced", sink.msgs)
	}
}
