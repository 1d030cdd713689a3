package runcard

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry/kernel/frame"
	"gantry/sdk"
	"gantry/sdk/workspace"
)

// front records what a card shows and sends, as the kernel session would
// pass it on.
type front struct {
	mu     sync.Mutex
	shown  []*frame.Bundle
	opened map[string]any // data of the comm_open
	meta   map[string]any
	sent   []map[string]any
	onMsg  func(map[string]any)
}

func (f *front) Display(b *frame.Bundle) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shown = append(f.shown, b)
}

func (f *front) OpenComm(target string, data, metadata map[string]any) Comm {
	f.mu.Lock()
	defer f.mu.Unlock()
	if target != "jupyter.widget" {
		panic("comm to " + target)
	}
	f.opened, f.meta = data, metadata
	return comm{f}
}

// state is what the front end knows: the opening state with every update
// applied.
func (f *front) state() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := map[string]any{}
	for k, v := range f.opened["state"].(map[string]any) {
		st[k] = v
	}
	for _, m := range f.sent {
		if m["method"] == "update" {
			for k, v := range m["state"].(map[string]any) {
				st[k] = v
			}
		}
	}
	return st
}

type comm struct{ f *front }

func (c comm) ID() string { return "card-comm" }
func (c comm) Send(data map[string]any) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.sent = append(c.f.sent, data)
}
func (c comm) OnMsg(fn func(map[string]any)) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.onMsg = fn
}

// until waits for cond, failing after 10 s (a hang guard).
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCardFollowsRun(t *testing.T) {
	ctx := context.Background()
	ws, err := sdk.OpenWorkspace(ctx, filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{}); err != nil {
		t.Fatal(err)
	}
	store := ws.Store()
	r, err := store.NewRun(ctx, workspace.RunSpec{Experiment: "exp", Target: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Transition(ctx, r.ID, workspace.StateQueued, ""); err != nil {
		t.Fatal(err)
	}
	f := &front{}
	card := Show(ctx, f, ws, r.ID)

	// Opened as anywidget's model, with the protocol's version, and shown
	// as its view with text for front ends without widgets.
	st := f.state()
	if f.meta["version"] != "2.1.0" || st["_model_module"] != "anywidget" || st["_view_name"] != "AnyView" ||
		!strings.Contains(st["_esm"].(string), "export default") || st["state"] != "Queued" || st["run_id"] != r.ID {
		t.Fatalf("comm_open metadata %v, state %v", f.meta, st)
	}
	if len(f.shown) != 1 || f.shown[0].Data[widgetMIME].(map[string]any)["model_id"] != "card-comm" ||
		!strings.Contains(f.shown[0].Data["text/plain"].(string), "Run "+r.ID[:8]) {
		t.Fatalf("shown %+v", f.shown)
	}

	// The run goes on: state, output lines (the last ones, a line cut in
	// two shown as far as it goes) and metrics reach the card.
	for _, to := range []workspace.State{workspace.StatePreparing, workspace.StateStarting, workspace.StateRunning} {
		if err := store.Transition(ctx, r.ID, to, ""); err != nil {
			t.Fatal(err)
		}
	}
	until(t, "Running", func() bool { return f.state()["state"] == "Running" })
	dir, _ := store.RunDir(r.ID)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o700)
	var log strings.Builder
	for i := range 12 {
		log.WriteString("line " + string(rune('a'+i)) + "\n")
	}
	log.WriteString("caf\xc3")
	os.WriteFile(filepath.Join(dir, "logs", "output.log"), []byte(log.String()), 0o600)
	until(t, "the last lines", func() bool {
		ls, _ := f.state()["lines"].([]any)
		return len(ls) == lastLines && ls[0] == "line f" && ls[len(ls)-1] == "caf\uFFFD"
	})
	f2, _ := os.OpenFile(filepath.Join(dir, "logs", "output.log"), os.O_APPEND|os.O_WRONLY, 0)
	f2.WriteString("\xa9\n")
	f2.Close()
	until(t, "the line completed", func() bool {
		ls, _ := f.state()["lines"].([]any)
		return len(ls) > 0 && ls[len(ls)-1] == "café"
	})
	if err := store.LogMetrics(ctx, r.ID, []workspace.Metric{{Name: "loss", Step: 0, Value: 1}, {Name: "acc", Step: 0, Value: 0.5},
		{Name: "loss", Step: 1, Value: 0.5}}); err != nil {
		t.Fatal(err)
	}
	until(t, "metrics", func() bool {
		st := f.state()
		return st["metric"] == "loss" && reflect.DeepEqual(st["points"], []any{1.0, 0.5}) &&
			reflect.DeepEqual(st["last"], map[string]any{"loss": 0.5, "acc": 0.5})
	})

	// Only what changed is sent.
	f.mu.Lock()
	for _, m := range f.sent {
		if _, again := m["state"].(map[string]any)["experiment"]; again {
			t.Errorf("an update sent the experiment again: %v", m)
		}
	}
	f.mu.Unlock()

	// A front end that asks for the whole state (a reloaded page) gets it.
	f.mu.Lock()
	ask := f.onMsg
	n := len(f.sent)
	f.mu.Unlock()
	ask(map[string]any{"method": "request_state"})
	f.mu.Lock()
	full := f.sent[n]["state"].(map[string]any)
	f.mu.Unlock()
	if full["state"] != "Running" || full["_esm"] == nil || full["_model_module"] != "anywidget" || full["run_id"] != r.ID {
		t.Errorf("request_state answered %v", full)
	}

	// A stopped wait is said on the card; the card follows to the end,
	// with the reason of a failure, and then stops.
	card.StoppedWaiting()
	until(t, "the note", func() bool { return f.state()["note"] != nil })
	if err := store.Transition(ctx, r.ID, workspace.StateFailed, "the node died"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-card.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the card did not stop at the final state")
	}
	st = f.state()
	if st["state"] != "Failed" || st["final"] != true || st["reason"] != "the node died" || st["elapsed_ms"].(int64) <= 0 {
		t.Errorf("final state %v", st)
	}
}
