package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gantry/sdk/workspace"
)

// sampleEntries returns one entry of each type, with metrics that are NaN
// and infinite.
func sampleEntries() []Entry {
	return []Entry{
		{Type: TypeState, Time: 1, State: string(workspace.StatePreparing), Reason: "preparing"},
		{Type: TypeExit, Time: 2, Code: 3},
		{Type: TypeTag, Time: 3, Key: "lr", Value: "0.1"},
		{Type: TypeMetrics, Time: 4, Metrics: []Metric{
			{Name: "loss", Step: 1, Value: 0.5, Time: 10},
			{Name: "nan", Step: 2, Value: math.NaN(), Time: 11},
			{Name: "inf", Step: 3, Value: math.Inf(1), Time: 12},
			{Name: "-inf", Step: 4, Value: math.Inf(-1), Time: 13},
		}},
		{Type: "from-a-newer-agent", Time: 5},
	}
}

func encodeAll(t testing.TB, es []Entry) (data []byte, ends []int) {
	t.Helper()
	for _, e := range es {
		var err error
		data, err = Append(data, e)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, len(data))
	}
	return data, ends
}

// sameEntries compares entries, taking NaN to equal NaN.
func sameEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if len(x.Metrics) != len(y.Metrics) {
			return false
		}
		for j := range x.Metrics {
			mx, my := x.Metrics[j], y.Metrics[j]
			if mx.Name != my.Name || mx.Step != my.Step || mx.Time != my.Time {
				return false
			}
			if !(mx.Value == my.Value || math.IsNaN(mx.Value) && math.IsNaN(my.Value)) {
				return false
			}
		}
		x.Metrics, y.Metrics = nil, nil
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

func TestAppendDecodeRoundTrip(t *testing.T) {
	want := sampleEntries()
	data, _ := encodeAll(t, want)
	got, n, err := Decode(data)
	if err != nil || n != len(data) {
		t.Fatalf("Decode = %d bytes, %v; want %d, nil", n, err, len(data))
	}
	if !sameEntries(got, want) {
		t.Errorf("Decode = %+v\nwant %+v", got, want)
	}
	m := got[3].Metrics
	if !math.IsNaN(m[1].Value) || !math.IsInf(m[2].Value, 1) || !math.IsInf(m[3].Value, -1) {
		t.Errorf("special values did not survive: %v %v %v", m[1].Value, m[2].Value, m[3].Value)
	}
}

func TestDecodeTornTail(t *testing.T) {
	all := sampleEntries()
	data, ends := encodeAll(t, all)
	for cut := 0; cut <= len(data); cut++ {
		// The complete entries before cut.
		k, wantN := 0, 0
		for k < len(ends) && ends[k] <= cut {
			wantN = ends[k]
			k++
		}
		got, n, err := Decode(data[:cut])
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if n != wantN || !sameEntries(got, all[:k]) {
			t.Fatalf("cut at %d: Decode = %d entries, %d bytes; want %d, %d", cut, len(got), n, k, wantN)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good, _ := encodeAll(t, sampleEntries()[:2])
	tests := []struct {
		name   string
		data   []byte
		wantN  int
		wantEs int
		want   string
	}{
		{"huge length first", binary.BigEndian.AppendUint32(nil, maxEntry+1), 0, 0, "claims"},
		{"huge length after good entries", binary.BigEndian.AppendUint32(bytes.Clone(good), 0xffffffff), len(good), 2, "corrupt"},
		{"garbage body", append(bytes.Clone(good), 0, 0, 0, 1, 0xc1), len(good), 2, "offset"},
	}
	for _, tt := range tests {
		es, n, err := Decode(tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Decode error = %v, want one containing %q", tt.name, err, tt.want)
		}
		if n != tt.wantN || len(es) != tt.wantEs {
			t.Errorf("%s: Decode = %d entries, %d bytes; want the entries before the corruption (%d bytes)", tt.name, len(es), n, tt.wantN)
		}
	}
}

func readJournal(t *testing.T, dir string) []Entry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	es, n, err := Decode(b)
	if err != nil || n != len(b) {
		t.Fatalf("journal: %d of %d bytes decoded, %v", n, len(b), err)
	}
	return es
}

func states(es []Entry) []string {
	var s []string
	for _, e := range es {
		if e.Type == TypeState {
			s = append(s, e.State)
		}
	}
	return s
}

func TestWriterTransitions(t *testing.T) {
	type step struct {
		to     workspace.State
		cancel bool // create the cancel file before this step
		ok     bool
	}
	tests := []struct {
		name  string
		steps []step
		final workspace.State
	}{
		{"normal life", []step{
			{workspace.StatePreparing, false, true},
			{workspace.StateStarting, false, true},
			{workspace.StateRunning, false, true},
			{workspace.StateFinalizing, false, true},
			{workspace.StateCompleted, false, true},
		}, workspace.StateCompleted},
		{"skip a state", []step{
			{workspace.StateRunning, false, false},
			{workspace.StatePreparing, false, true},
		}, workspace.StatePreparing},
		{"final is final", []step{
			{workspace.StateFailed, false, true},
			{workspace.StatePreparing, false, false},
			{workspace.StateCanceled, false, false},
		}, workspace.StateFailed},
		{"cancel while preparing", []step{
			{workspace.StatePreparing, false, true},
			{workspace.StateStarting, true, false}, // CancelRequested -> Starting
			{workspace.StateCancelRequested, false, false},
			{workspace.StateFinalizing, false, true},
			{workspace.StateCanceled, false, true},
		}, workspace.StateCanceled},
		{"cancel straight to Canceled", []step{
			{workspace.StatePreparing, true, false},
			{workspace.StateCanceled, false, true},
		}, workspace.StateCanceled},
		// A cancel that arrives as the script exits by itself: the run
		// leaves CancelRequested for Finalizing and may then complete, as
		// it may in the workspace.
		{"cancel as the script ends", []step{
			{workspace.StatePreparing, false, true},
			{workspace.StateStarting, false, true},
			{workspace.StateRunning, false, true},
			{workspace.StateFinalizing, true, true},
			{workspace.StateCompleted, false, true},
		}, workspace.StateCompleted},
	}
	ctx := t.Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Create(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if w.State() != workspace.StateQueued {
				t.Fatalf("new journal starts at %s, want Queued", w.State())
			}
			var want []string
			for i, s := range tt.steps {
				if s.cancel {
					if err := os.WriteFile(filepath.Join(dir, CancelFile), nil, 0o600); err != nil {
						t.Fatal(err)
					}
					if !w.CancelRequested(ctx, "r") {
						t.Fatalf("CancelRequested is false with the cancel file present")
					}
				}
				err := w.Transition(ctx, "r", s.to, "step")
				if s.ok != (err == nil) {
					t.Fatalf("step %d: Transition(%s) = %v, want ok=%v", i, s.to, err, s.ok)
				}
				if !s.ok && !errors.Is(err, workspace.ErrIllegalTransition) {
					t.Fatalf("step %d: Transition(%s) = %v, want ErrIllegalTransition", i, s.to, err)
				}
				if s.ok {
					want = append(want, string(s.to))
				}
			}
			if w.State() != tt.final {
				t.Errorf("State = %s, want %s", w.State(), tt.final)
			}
			if got := states(readJournal(t, dir)); !reflect.DeepEqual(got, want) {
				t.Errorf("journal states = %v, want %v", got, want)
			}
		})
	}
}

func TestWriterRecords(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.CancelRequested(ctx, "r") {
		t.Error("CancelRequested without a cancel file")
	}
	at := time.Unix(100, 5)
	steps := []error{
		w.SetExitCode(ctx, "r", 7),
		w.SetTag(ctx, "r", "k", "v"),
		w.LogMetrics(ctx, "r", []workspace.Metric{{Name: "a", Step: 1, Value: 2, Time: at}, {Name: "b", Step: 2, Value: math.Inf(-1)}}),
		w.Heartbeat(ctx, "r"),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, HeartbeatFile)); err != nil {
		t.Errorf("Heartbeat left no file: %v", err)
	}
	es := readJournal(t, dir)
	if len(es) != 3 {
		t.Fatalf("journal has %d entries, want 3: %+v", len(es), es)
	}
	if e := es[0]; e.Type != TypeExit || e.Code != 7 || e.Time == 0 {
		t.Errorf("exit entry = %+v", e)
	}
	if e := es[1]; e.Type != TypeTag || e.Key != "k" || e.Value != "v" {
		t.Errorf("tag entry = %+v", e)
	}
	m := es[2].Metrics
	if es[2].Type != TypeMetrics || len(m) != 2 || m[0] != (Metric{Name: "a", Step: 1, Value: 2, Time: at.UnixNano()}) ||
		m[1].Name != "b" || !math.IsInf(m[1].Value, -1) || m[1].Time == 0 {
		t.Errorf("metrics entry = %+v", es[2])
	}
}

func TestCreateResumes(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []workspace.State{workspace.StatePreparing, workspace.StateStarting, workspace.StateRunning} {
		if err := w.Transition(ctx, "r", s, ""); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	path := filepath.Join(dir, FileName)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A torn entry at the end: the start of one more.
	torn, _ := Append(nil, Entry{Type: TypeState, State: string(workspace.StateFinalizing)})
	if err := os.WriteFile(path, append(bytes.Clone(good), torn[:len(torn)-2]...), 0o600); err != nil {
		t.Fatal(err)
	}

	w, err = Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.State() != workspace.StateRunning {
		t.Errorf("resumed State = %s, want Running", w.State())
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, good) {
		t.Errorf("torn entry not cut off: %d bytes, want %d", len(b), len(good))
	}
	if err := w.Transition(ctx, "r", workspace.StatePreparing, ""); !errors.Is(err, workspace.ErrIllegalTransition) {
		t.Errorf("Running -> Preparing after resume = %v, want ErrIllegalTransition", err)
	}
	if err := w.Transition(ctx, "r", workspace.StateFinalizing, ""); err != nil {
		t.Fatal(err)
	}
	want := []string{"Preparing", "Starting", "Running", "Finalizing"}
	if got := states(readJournal(t, dir)); !reflect.DeepEqual(got, want) {
		t.Errorf("journal states = %v, want %v", got, want)
	}
}

func TestCreateCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), binary.BigEndian.AppendUint32(nil, 0xffffffff), 0o600); err != nil {
		t.Fatal(err)
	}
	if w, err := Create(dir); err == nil {
		w.Close()
		t.Error("Create on a corrupt journal succeeded")
	}
}

func newRun(t *testing.T) (*workspace.Workspace, string) {
	t.Helper()
	ctx := t.Context()
	ws, err := workspace.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.CreateTarget(ctx, workspace.Target{Name: "box", Kind: workspace.KindSSH}); err != nil {
		t.Fatal(err)
	}
	r, err := ws.NewRun(ctx, workspace.RunSpec{Experiment: "exp", Target: "box"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Transition(ctx, r.ID, workspace.StateQueued, "submitted"); err != nil {
		t.Fatal(err)
	}
	return ws, r.ID
}

// lifeJournal is the journal of a run that completes with metrics, a tag
// and an exit code.
func lifeJournal(t testing.TB) []byte {
	t.Helper()
	es := []Entry{
		{Type: TypeState, State: "Preparing"},
		{Type: TypeState, State: "Starting"},
		{Type: TypeState, State: "Running"},
		{Type: TypeMetrics, Metrics: []Metric{{Name: "loss", Step: 1, Value: 1, Time: 1e9}, {Name: "loss", Step: 2, Value: 0.5, Time: 2e9}}},
		{Type: TypeTag, Key: "best", Value: "yes"},
		{Type: TypeMetrics, Metrics: []Metric{{Name: "nan", Step: 1, Value: math.NaN(), Time: 3e9}, {Name: "inf", Step: 1, Value: math.Inf(1), Time: 3e9}}},
		{Type: "from-a-newer-agent"},
		{Type: TypeExit, Code: 0},
		{Type: TypeState, State: "Finalizing"},
		{Type: TypeState, State: "Completed"},
	}
	data, _ := encodeAll(t, es)
	return data
}

type outcome struct {
	State    workspace.State
	ExitCode *int
	Tags     map[string]string
	Series   map[string]int // values per metric
	Loss     float64
	Events   []workspace.State
}

func outcomeOf(t *testing.T, ws *workspace.Workspace, id string) outcome {
	t.Helper()
	ctx := t.Context()
	r, err := ws.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ws.Metrics(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	es, err := ws.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	o := outcome{State: r.State, ExitCode: r.ExitCode, Tags: r.Tags, Series: map[string]int{}, Loss: m.Scalars["loss"]}
	for k, v := range m.Series {
		o.Series[k] = len(v)
	}
	for _, e := range es {
		o.Events = append(o.Events, e.To)
	}
	return o
}

func checkLife(t *testing.T, ws *workspace.Workspace, id string) outcome {
	t.Helper()
	o := outcomeOf(t, ws, id)
	if o.State != workspace.StateCompleted {
		t.Errorf("state = %s, want Completed", o.State)
	}
	if o.ExitCode == nil || *o.ExitCode != 0 {
		t.Errorf("exit code = %v, want 0", o.ExitCode)
	}
	if o.Tags["best"] != "yes" {
		t.Errorf("tags = %v", o.Tags)
	}
	if want := map[string]int{"loss": 2, "nan": 1, "inf": 1}; !reflect.DeepEqual(o.Series, want) {
		t.Errorf("metric counts = %v, want %v", o.Series, want)
	}
	if o.Loss != 0.5 {
		t.Errorf("last loss = %v, want 0.5", o.Loss)
	}
	m, _ := ws.Metrics(t.Context(), id)
	if !math.IsNaN(m.Scalars["nan"]) || !math.IsInf(m.Scalars["inf"], 1) {
		t.Errorf("special values = %v, %v", m.Scalars["nan"], m.Scalars["inf"])
	}
	return o
}

func TestApplyTwice(t *testing.T) {
	ctx := t.Context()
	ws, id := newRun(t)
	data := lifeJournal(t)
	for i := range 2 {
		off, err := Apply(ctx, ws, id, "journal", 0, data)
		if err != nil || off != int64(len(data)) {
			t.Fatalf("Apply #%d = %d, %v; want %d, nil", i+1, off, err, len(data))
		}
	}
	if c, err := ws.Cursor(ctx, id, "journal"); err != nil || c != int64(len(data)) {
		t.Errorf("Cursor = %d, %v; want %d", c, err, len(data))
	}
	checkLife(t, ws, id)
}

// applyInChunks feeds data to Apply size bytes at a time, as a follower
// reading a growing file would, and returns the final offset.
func applyInChunks(t *testing.T, ws *workspace.Workspace, id string, data []byte, size int) int64 {
	t.Helper()
	var off int64
	var buf []byte
	for i := 0; i < len(data); i += size {
		buf = append(buf, data[i:min(i+size, len(data))]...)
		next, err := Apply(t.Context(), ws, id, "journal", off, buf)
		if err != nil {
			t.Fatalf("Apply at %d with %d bytes: %v", off, len(buf), err)
		}
		if next < off || next > off+int64(len(buf)) {
			t.Fatalf("Apply at %d with %d bytes returned %d", off, len(buf), next)
		}
		buf = buf[next-off:]
		off = next
	}
	return off
}

func TestApplySplits(t *testing.T) {
	data := lifeJournal(t)
	wsOne, idOne := newRun(t)
	if _, err := Apply(t.Context(), wsOne, idOne, "journal", 0, data); err != nil {
		t.Fatal(err)
	}
	want := checkLife(t, wsOne, idOne)
	for _, size := range []int{1, 3, 7, 64} {
		ws, id := newRun(t)
		if off := applyInChunks(t, ws, id, data, size); off != int64(len(data)) {
			t.Errorf("chunks of %d: ended at %d, want %d", size, off, len(data))
		}
		got := checkLife(t, ws, id)
		if !reflect.DeepEqual(got.Events, want.Events) {
			t.Errorf("chunks of %d: events %v, want %v", size, got.Events, want.Events)
		}
	}
}

func TestApplyCorruptAndEmpty(t *testing.T) {
	ctx := t.Context()
	ws, id := newRun(t)
	if off, err := Apply(ctx, ws, id, "journal", 0, nil); err != nil || off != 0 {
		t.Errorf("Apply of nothing = %d, %v", off, err)
	}
	one, _ := Append(nil, Entry{Type: TypeTag, Key: "a", Value: "b"})
	if off, err := Apply(ctx, ws, id, "journal", 0, one[:len(one)-1]); err != nil || off != 0 {
		t.Errorf("Apply of a torn entry = %d, %v; want 0, nil", off, err)
	}
	bad := binary.BigEndian.AppendUint32(bytes.Clone(one), 0xffffffff)
	off, err := Apply(ctx, ws, id, "journal", 0, bad)
	if err != nil || off != int64(len(one)) {
		t.Errorf("Apply of an entry then corruption = %d, %v; want %d, nil", off, err, len(one))
	}
	if _, err := Apply(ctx, ws, id, "journal", off, bad[len(one):]); err == nil {
		t.Error("Apply of a corrupt length succeeded")
	}
	if c, _ := ws.Cursor(ctx, id, "journal"); c != int64(len(one)) {
		t.Errorf("cursor = %d, want %d", c, len(one))
	}
}

// stateJournal encodes state entries.
func stateJournal(t testing.TB, ss ...workspace.State) []byte {
	var es []Entry
	for _, s := range ss {
		es = append(es, Entry{Type: TypeState, State: string(s), Reason: "agent"})
	}
	data, _ := encodeAll(t, es)
	return data
}

func TestApplyStates(t *testing.T) {
	S := func(ss ...workspace.State) []workspace.State { return ss }
	tests := []struct {
		name   string
		before []workspace.State // journal applied first
		local  []workspace.State // then local transitions
		after  []workspace.State // then this journal
		want   workspace.State
		exit   *int
	}{
		{"not responding, then completed",
			S(workspace.StatePreparing, workspace.StateStarting, workspace.StateRunning),
			S(workspace.StateNotResponding),
			S(workspace.StateFinalizing, workspace.StateCompleted),
			workspace.StateCompleted, nil},
		{"not responding, then running",
			S(workspace.StatePreparing, workspace.StateStarting, workspace.StateRunning),
			S(workspace.StateNotResponding),
			S(workspace.StateRunning),
			workspace.StateRunning, nil},
		{"not responding, then failed",
			S(workspace.StatePreparing, workspace.StateStarting, workspace.StateRunning),
			S(workspace.StateNotResponding),
			S(workspace.StateFinalizing, workspace.StateFailed),
			workspace.StateFailed, nil},
		{"cancel requested, agent still starts, then canceled",
			S(workspace.StatePreparing, workspace.StateStarting),
			S(workspace.StateCancelRequested),
			S(workspace.StateRunning, workspace.StateFinalizing, workspace.StateCanceled),
			workspace.StateCanceled, nil},
		{"cancel requested, run completes anyway",
			S(workspace.StatePreparing, workspace.StateStarting, workspace.StateRunning),
			S(workspace.StateCancelRequested),
			S(workspace.StateFinalizing, workspace.StateCompleted),
			workspace.StateCompleted, nil},
		{"failed locally stays failed",
			S(workspace.StatePreparing),
			S(workspace.StateFailed),
			S(workspace.StateStarting, workspace.StateRunning, workspace.StateFinalizing, workspace.StateCompleted),
			workspace.StateFailed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			ws, id := newRun(t)
			first := stateJournal(t, tt.before...)
			off, err := Apply(ctx, ws, id, "journal", 0, first)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.local {
				if err := ws.Transition(ctx, id, s, "local"); err != nil {
					t.Fatal(err)
				}
			}
			second := stateJournal(t, tt.after...)
			second, _ = Append(second, Entry{Type: TypeExit, Code: 143})
			end, err := Apply(ctx, ws, id, "journal", off, second)
			if err != nil || end != off+int64(len(second)) {
				t.Fatalf("Apply = %d, %v; want %d, nil", end, err, off+int64(len(second)))
			}
			r, err := ws.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != tt.want {
				t.Errorf("state = %s, want %s", r.State, tt.want)
			}
			if r.ExitCode == nil || *r.ExitCode != 143 {
				t.Errorf("exit code = %v, want 143", r.ExitCode)
			}
		})
	}
}

// TestApplyWriterJournal applies what a Writer wrote, cancel included.
func TestApplyWriterJournal(t *testing.T) {
	ctx := context.Background()
	ws, id := newRun(t)
	dir := t.TempDir()
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, s := range []workspace.State{workspace.StatePreparing, workspace.StateStarting, workspace.StateRunning} {
		if err := w.Transition(ctx, id, s, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.LogMetrics(ctx, id, []workspace.Metric{{Name: "m", Step: 1, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	// The SDK asks for a cancel: locally and through the cancel file.
	if err := ws.Transition(ctx, id, workspace.StateCancelRequested, "user"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CancelFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range []workspace.State{workspace.StateFinalizing, workspace.StateCanceled} {
		if err := w.Transition(ctx, id, s, ""); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if off := applyInChunks(t, ws, id, data, 5); off != int64(len(data)) {
		t.Errorf("applied to %d, want %d", off, len(data))
	}
	o := outcomeOf(t, ws, id)
	if o.State != workspace.StateCanceled || o.Series["m"] != 1 {
		t.Errorf("outcome = %+v, want Canceled with 1 metric", o)
	}
}
