package kernel

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry/internal/gantrytest"
	"gantry/kernel/frame"
)

// gantryBinary returns a gantry binary built from this checkout.
func gantryBinary(t testing.TB) string { return gantrytest.Binary(t) }

// collectSink records executor output.
type collectSink struct {
	mu     sync.Mutex
	out    strings.Builder
	tokens chan string
}

func (c *collectSink) stream(name, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.WriteString(name + ":" + text)
}

func (c *collectSink) synced(name, token string) { c.tokens <- name + " " + token }

func (c *collectSink) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func startTestProc(t *testing.T, env ...string) (*proc, *collectSink) {
	t.Helper()
	sink := &collectSink{tokens: make(chan string, 64)}
	p, err := startProc(context.Background(), gantryBinary(t),
		append(os.Environ(), append([]string{"GANTRY_GOPATH=" + t.TempDir(), "GOTRACEBACK=none"}, env...)...), sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill(); <-p.dead })
	select {
	case <-p.ready:
	case <-p.dead:
		t.Fatalf("executor died while starting: %s", p.crashReason("?"))
	case <-time.After(60 * time.Second):
		t.Fatal("executor did not start")
	}
	return p, sink
}

// execute runs code and returns the reply, or nil when the executor ended.
func execute(t *testing.T, p *proc, code string) *frame.Frame {
	t.Helper()
	id := code
	if err := p.send(&frame.Frame{Kind: frame.KindExecute, ID: id, Code: code, ExecutionNum: 1}); err != nil {
		return nil
	}
	for f := range p.frames {
		if f.Kind == frame.KindReply && f.ID == id {
			return f
		}
	}
	return nil
}

func TestExecutorKeepsStateAndStreams(t *testing.T) {
	p, sink := startTestProc(t)
	for _, code := range []string{`import "fmt"`, `x := 40`, `fmt.Println("x is", x)`} {
		if r := execute(t, p, code); r == nil || r.Status != "ok" {
			t.Fatalf("%q: reply %+v", code, r)
		}
	}
	r := execute(t, p, `x + 2`)
	if r == nil || r.Result == nil || r.Result.Data["text/plain"] != "42" {
		t.Fatalf("x + 2: reply %+v", r)
	}
	// Both streams pass the reply's sync token.
	deadline := time.After(30 * time.Second)
	seen := 0
	for seen < 2 {
		select {
		case tok := <-sink.tokens:
			if strings.HasSuffix(tok, r.Sync) {
				seen++
			}
		case <-deadline:
			t.Fatal("sync tokens did not arrive")
		}
	}
	if !strings.Contains(sink.text(), "stdout:x is 40\n") {
		t.Fatalf("output %q lacks the printed line", sink.text())
	}
}

// TestExecutorDeathsAreExplained checks that each way a cell can end the
// executor process is told apart.
func TestExecutorDeathsAreExplained(t *testing.T) {
	tests := []struct {
		name, code, want string
	}{
		{"os.Exit", "import \"os\"\nos.Exit(7)", "os.Exit(7)"},
		{"goroutine panic", "import \"time\"\ngo func() { panic(\"kaboom\") }()\ntime.Sleep(10 * time.Second)", "panic: kaboom"},
		{"stack overflow", "func r(n int) int { return r(n+1) + 1 }\nr(0)", "stack overflow"},
		{"memory", "var s [][]byte\nfor { s = append(s, make([]byte, 1<<20)) }", "out of memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := startTestProc(t, "GANTRY_EXECUTOR_MEMORY=512MiB")
			if r := execute(t, p, tt.code); r != nil {
				t.Fatalf("the executor survived: reply %+v", r)
			}
			<-p.dead
			if got := p.crashReason("512MiB"); !strings.Contains(got, tt.want) {
				t.Fatalf("crashReason = %q, want it to mention %q", got, tt.want)
			}
		})
	}
}

func TestExecutorInterrupt(t *testing.T) {
	p, _ := startTestProc(t)
	if err := p.send(&frame.Frame{Kind: frame.KindExecute, ID: "loop", Code: "for {}"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := p.send(&frame.Frame{Kind: frame.KindInterrupt}); err != nil {
		t.Fatal(err)
	}
	var r *frame.Frame
	for f := range p.frames {
		if f.Kind == frame.KindReply && f.ID == "loop" {
			r = f
			break
		}
	}
	if r == nil || r.Status != "error" || r.Error == nil || r.Error.Name != "Interrupted" || r.Restarted {
		t.Fatalf("interrupted loop: reply %+v", r)
	}
	if r := execute(t, p, "1 + 1"); r == nil || r.Result == nil || r.Result.Data["text/plain"] != "2" {
		t.Fatalf("cell after interrupt: %+v", r)
	}
}

// BenchmarkExecutorTrivialCell measures one trivial cell through the
// executor pipes (no ZeroMQ): the executor's share of a cell's latency.
func BenchmarkExecutorTrivialCell(b *testing.B) {
	t := &testing.T{}
	sink := &collectSink{tokens: make(chan string, 1<<16)}
	p, err := startProc(context.Background(), gantryBinary(t), append(os.Environ(), "GANTRY_GOPATH="+b.TempDir()), sink)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { p.kill(); <-p.dead }()
	<-p.ready
	go func() {
		for range sink.tokens {
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := execute(t, p, "1"); r == nil {
			b.Fatal("executor ended")
		}
	}
}
