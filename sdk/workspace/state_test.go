package workspace

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

var allStates = []State{
	StateNotStarted, StateQueued, StatePreparing, StateStarting, StateRunning, StateFinalizing,
	StateCompleted, StateFailed, StateCanceled, StateCancelRequested, StateNotResponding,
}

// TestCanTransition checks every pair of states against the list of legal
// transitions, written out by hand.
func TestCanTransition(t *testing.T) {
	legal := map[[2]State]bool{}
	add := func(from State, tos ...State) {
		for _, to := range tos {
			legal[[2]State{from, to}] = true
		}
	}
	add(StateNotStarted, StateQueued)
	add(StateQueued, StatePreparing)
	add(StatePreparing, StateStarting, StateQueued)
	add(StateStarting, StateRunning, StateQueued)
	add(StateRunning, StateFinalizing, StateNotResponding, StateQueued)
	add(StateNotResponding, StateRunning, StateFinalizing, StateQueued)
	add(StateFinalizing, StateCompleted)
	add(StateCancelRequested, StateFinalizing)
	for _, s := range allStates {
		if !s.Final() {
			add(s, StateFailed, StateCanceled)
			if s != StateCancelRequested {
				add(s, StateCancelRequested)
			}
		}
	}
	for _, from := range append(allStates, "Bogus") {
		for _, to := range append(allStates, "Bogus") {
			want := legal[[2]State{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestTransitionLifecycle(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	w := openTemp(t, options{now: c.now})
	id := mustRun(t, w, RunSpec{Experiment: "e"}).ID
	path := []State{StateQueued, StatePreparing, StateStarting, StateRunning, StateFinalizing, StateCompleted}
	var times []time.Time
	for _, s := range path {
		c.advance(time.Second)
		times = append(times, c.now())
		if err := w.Transition(ctx, id, s, "to "+string(s)); err != nil {
			t.Fatalf("Transition to %s: %v", s, err)
		}
	}
	r, err := w.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != StateCompleted || !r.Started.Equal(times[3]) || !r.Ended.Equal(times[5]) || !r.Heartbeat.Equal(times[3]) {
		t.Errorf("after the lifecycle, run = %+v; want Completed, started %v, ended %v", r, times[3], times[5])
	}
	es, err := w.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(path)+1 {
		t.Fatalf("%d events, want %d", len(es), len(path)+1)
	}
	from := StateNotStarted
	for i, s := range path {
		e := es[i+1]
		if e.From != from || e.To != s || e.Reason != "to "+string(s) || !e.Time.Equal(times[i]) {
			t.Errorf("event %d = %+v, want %s -> %s at %v", i+1, e, from, s, times[i])
		}
		from = s
	}

	// A final state is final, and a refused transition records nothing.
	for _, to := range allStates {
		err := w.Transition(ctx, id, to, "")
		if !errors.Is(err, ErrIllegalTransition) {
			t.Errorf("Transition from Completed to %s = %v, want ErrIllegalTransition", to, err)
		}
	}
	if es2, _ := w.Events(ctx, id); len(es2) != len(es) {
		t.Errorf("refused transitions recorded events: %d, want %d", len(es2), len(es))
	}
}

func TestCancel(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	tests := []struct {
		name  string
		steps []State
		fail  State // a transition that must then be refused
	}{
		{"cancel while queued", []State{StateQueued, StateCancelRequested, StateCanceled}, StateRunning},
		{"cancel, finalize", []State{StateQueued, StateCancelRequested, StateFinalizing, StateCompleted}, StateCanceled},
		{"fail from not started", []State{StateFailed}, StateQueued},
		{"requeue", []State{StateQueued, StatePreparing, StateStarting, StateRunning, StateQueued, StatePreparing}, StateRunning},
	}
	for _, tt := range tests {
		id := mustRun(t, w, RunSpec{Experiment: "e"}).ID
		for _, s := range tt.steps {
			if err := w.Transition(ctx, id, s, ""); err != nil {
				t.Fatalf("%s: Transition to %s: %v", tt.name, s, err)
			}
		}
		if err := w.Transition(ctx, id, tt.fail, ""); !errors.Is(err, ErrIllegalTransition) {
			t.Errorf("%s: then Transition to %s = %v, want ErrIllegalTransition", tt.name, tt.fail, err)
		}
		r, _ := w.Run(ctx, id)
		if want := tt.steps[len(tt.steps)-1]; r.State != want || r.Ended.IsZero() != !want.Final() {
			t.Errorf("%s: run state %s, ended %v; want %s", tt.name, r.State, r.Ended, want)
		}
	}
}

func TestHeartbeatAndStale(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	w := openTemp(t, options{now: c.now})
	running := func() string {
		id := mustRun(t, w, RunSpec{Experiment: "e"}).ID
		for _, s := range []State{StateQueued, StatePreparing, StateStarting, StateRunning} {
			if err := w.Transition(ctx, id, s, ""); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	a, b := running(), running()
	queued := mustRun(t, w, RunSpec{Experiment: "e"}).ID

	c.advance(time.Minute)
	if err := w.Heartbeat(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := w.Heartbeat(ctx, queued); err != nil {
		t.Errorf("Heartbeat of a run not yet running: %v", err)
	}
	c.advance(30 * time.Second)
	// a last beat 90s ago, b 30s ago.
	stale, err := w.MarkStale(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stale, []string{a}) {
		t.Errorf("MarkStale = %v, want [%s]", stale, a)
	}
	if again, err := w.MarkStale(ctx, time.Minute); err != nil || len(again) != 0 {
		t.Errorf("MarkStale again = %v, %v; want none", again, err)
	}
	r, _ := w.Run(ctx, a)
	if r.State != StateNotResponding {
		t.Errorf("stale run is %s, want NotResponding", r.State)
	}
	if r, _ := w.Run(ctx, queued); r.State != StateNotStarted {
		t.Errorf("MarkStale moved a run that was not Running to %s", r.State)
	}

	c.advance(time.Second)
	if err := w.Heartbeat(ctx, a); err != nil {
		t.Fatal(err)
	}
	r, _ = w.Run(ctx, a)
	if r.State != StateRunning || !r.Heartbeat.Equal(c.now()) {
		t.Errorf("after a new heartbeat, run = %s at %v, want Running at %v", r.State, r.Heartbeat, c.now())
	}
	es, _ := w.Events(ctx, a)
	tail := es[len(es)-2:]
	if tail[0].To != StateNotResponding || tail[0].Reason != "no heartbeat since 2026-11-03T09:00:00Z" ||
		tail[1].From != StateNotResponding || tail[1].To != StateRunning || tail[1].Reason != "heartbeat resumed" {
		t.Errorf("last events = %+v", tail)
	}

	if err := w.Transition(ctx, b, StateFailed, "oom"); err != nil {
		t.Fatal(err)
	}
	if err := w.Heartbeat(ctx, b); !errors.Is(err, ErrIllegalTransition) {
		t.Errorf("Heartbeat of a Failed run = %v, want ErrIllegalTransition", err)
	}
}

// TestTransitionRace has two workspaces on one directory race to end the
// same run: exactly one wins.
func TestTransitionRace(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	w1, w2 := openDir(t, dir, options{}), openDir(t, dir, options{})
	for range 20 {
		id := mustRun(t, w1, RunSpec{Experiment: "e"}).ID
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, w := range []*Workspace{w1, w2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				to := []State{StateFailed, StateCanceled}[i]
				errs[i] = w.Transition(ctx, id, to, "")
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("both or neither transition succeeded: %v, %v", errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, ErrIllegalTransition) {
				t.Fatalf("losing transition: %v, want ErrIllegalTransition", err)
			}
		}
		if es, _ := w1.Events(ctx, id); len(es) != 2 {
			t.Fatalf("%d events, want 2", len(es))
		}
	}
}
