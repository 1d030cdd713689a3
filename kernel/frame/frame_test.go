package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	in := []*Frame{
		{Kind: KindExecute, ID: "a", Code: "x := 1", AllowStdin: true, ExecutionNum: 3},
		{Kind: KindReply, ID: "a", Status: "error", Error: &Error{Name: "panic", Value: "boom", Traceback: []string{"l1"}}},
		{Kind: KindDisplay, Display: &Bundle{Data: map[string]any{"text/html": "<b>x</b>"}, Transient: map[string]any{"display_id": "d"}}, Update: true},
	}
	for _, f := range in {
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&buf)
	for i, want := range in {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got.Kind != want.Kind || got.ID != want.ID || got.Code != want.Code || got.ExecutionNum != want.ExecutionNum {
			t.Fatalf("frame %d = %+v, want %+v", i, got, want)
		}
	}
	if _, err := r.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("Read at end = %v, want EOF", err)
	}
}

func TestReadRejectsCorruptStreams(t *testing.T) {
	huge := make([]byte, 4)
	binary.BigEndian.PutUint32(huge, MaxSize+1)
	tests := []struct {
		name string
		in   []byte
	}{
		{"oversized length", huge},
		{"truncated header", []byte{0, 0}},
		{"truncated body", []byte{0, 0, 0, 9, 1, 2}},
		{"garbage body", []byte{0, 0, 0, 2, 0xc1, 0xc1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.in)).Read()
			if err == nil || errors.Is(err, io.EOF) {
				t.Fatalf("Read = %v, want a corruption error", err)
			}
		})
	}
}

func TestConcurrentWriters(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_ = w.Write(&Frame{Kind: KindDisplay, Code: "some text to interleave"})
			}
		}()
	}
	wg.Wait()
	r := NewReader(&buf)
	for i := 0; i < 800; i++ {
		if _, err := r.Read(); err != nil {
			t.Fatalf("frame %d: %v (interleaved writes)", i, err)
		}
	}
}
