package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry/sdk"
	"gantry/sdk/workspace"
)

// fakeRun records a run directly in the workspace, as an agent would,
// without running anything: the API only reads the record.
func fakeRun(t *testing.T, ts *testServer, exp string, states ...workspace.State) string {
	t.Helper()
	ctx := context.Background()
	store := ts.WS.Store()
	r, err := store.NewRun(ctx, workspace.RunSpec{Experiment: exp, Target: "local"})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if err := store.Transition(ctx, r.ID, st, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return r.ID
}

func TestRunsAPI(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	if err := ts.WS.CreateLocalCompute(ctx, "local", sdk.LocalCompute{}); err != nil {
		t.Fatal(err)
	}
	store := ts.WS.Store()
	done := fakeRun(t, ts, "exp", workspace.StateQueued, workspace.StatePreparing, workspace.StateStarting,
		workspace.StateRunning, workspace.StateFinalizing, workspace.StateCompleted)
	var ids []string
	for range 5 {
		ids = append(ids, fakeRun(t, ts, "other", workspace.StateQueued))
	}
	if err := store.LogMetrics(ctx, done, []workspace.Metric{{Name: "loss", Step: 1, Value: 0.5}, {Name: "loss", Step: 2, Value: 0.25},
		{Name: "nan", Step: 1, Value: math.NaN()}}); err != nil {
		t.Fatal(err)
	}
	dir, _ := store.RunDir(done)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o700)
	os.MkdirAll(filepath.Join(dir, "outputs", "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "logs", "output.log"), []byte("line one\nline two\nline three\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "outputs", "sub", "model.txt"), []byte("weights"), 0o600)
	os.WriteFile(filepath.Join(dir, "job.json"), []byte("{}"), 0o600)

	// Pages of the list, newest first, and the filters.
	var seen []string
	next := ""
	for page := 0; page < 5; page++ {
		code, body := ts.do(t, "GET", "/api/runs?limit=4&before="+next, nil)
		if code != 200 {
			t.Fatalf("list = %d %v", code, body)
		}
		for _, r := range body["runs"].([]any) {
			seen = append(seen, r.(map[string]any)["id"].(string))
		}
		if next = body["next"].(string); next == "" {
			break
		}
	}
	if len(seen) != 6 || seen[0] != ids[4] || seen[5] != done {
		t.Errorf("paged list = %v; want the 6 runs newest first", seen)
	}
	_, body := ts.do(t, "GET", "/api/runs?experiment=exp", nil)
	runs := body["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("experiment filter: %v", runs)
	}
	r := runs[0].(map[string]any)
	if r["state"] != "Completed" || r["target"] != "local" || r["final"] != true || r["prepared"] == nil ||
		r["metrics"].(map[string]any)["loss"] != 0.25 || r["metrics"].(map[string]any)["nan"] != nil {
		t.Errorf("run = %v; want Completed on local, prepared, last loss 0.25, nan as null", r)
	}
	if _, body := ts.do(t, "GET", "/api/runs?state=Queued&target=LOCAL", nil); len(body["runs"].([]any)) != 5 {
		t.Errorf("state and target filter: %d runs, want 5", len(body["runs"].([]any)))
	}
	if _, body := ts.do(t, "GET", "/api/experiments", nil); fmt.Sprint(body["experiments"]) != "[exp other]" {
		t.Errorf("experiments = %v", body["experiments"])
	}

	// One run: events, files.
	_, body = ts.do(t, "GET", "/api/runs/"+done, nil)
	evs := body["events"].([]any)
	if len(evs) != 7 || evs[6].(map[string]any)["to"] != "Completed" {
		t.Errorf("events = %v; want creation and 6 transitions", evs)
	}
	if fmt.Sprint(body["files"]) != "[logs/output.log outputs/sub/model.txt]" {
		t.Errorf("files = %v", body["files"])
	}

	// Logs from an offset, and the tail from a line's start.
	logs := func(q string) (string, http.Header) {
		req, _ := http.NewRequest("GET", ts.URL+"/api/runs/"+done+"/logs"+q, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.Header
	}
	if text, h := logs("?offset=9"); text != "line two\nline three\n" || h.Get("Gantry-Log-Next") != "29" || h.Get("Gantry-Log-Offset") != "9" {
		t.Errorf("logs from 9 = %q (next %s)", text, h.Get("Gantry-Log-Next"))
	}
	if text, h := logs("?tail=15"); text != "line three\n" || h.Get("Gantry-Log-Offset") != "18" {
		t.Errorf("tail 15 = %q from %s; want the last whole line", text, h.Get("Gantry-Log-Offset"))
	}
	if text, _ := logs("?offset=100"); text != "" {
		t.Errorf("logs past the end = %q", text)
	}
	if code, body := ts.do(t, "GET", "/api/runs/"+done+"/logs?file=secrets", nil); code != 400 {
		t.Errorf("unknown log = %d %v", code, body)
	}

	// Downloads: outputs and logs only, never out of the run directory.
	for path, want := range map[string]int{
		"outputs/sub/model.txt": 200, "logs/output.log": 200, "job.json": 400, "outputs/../job.json": 400,
		"outputs/missing": 404, "outputs/sub": 404, "../../workspace.db": 400,
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/runs/"+done+"/files/"+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// The client cleans "..": the server sees another path, and must
		// still serve nothing outside outputs/ and logs/.
		if resp.StatusCode != want && !(want == 400 && resp.StatusCode == 404) {
			t.Errorf("download %s = %d, want %d (%s)", path, resp.StatusCode, want, b)
		}
		if want == 200 && path == "outputs/sub/model.txt" && string(b) != "weights" {
			t.Errorf("download = %q", b)
		}
	}

	// Metrics, thinned to max_points with the last kept.
	var many []workspace.Metric
	for i := range 100 {
		many = append(many, workspace.Metric{Name: "acc", Step: int64(i), Value: float64(i)})
	}
	if err := store.LogMetrics(ctx, done, many); err != nil {
		t.Fatal(err)
	}
	_, body = ts.do(t, "GET", "/api/runs/"+done+"/metrics?max_points=10", nil)
	acc := body["series"].(map[string]any)["acc"].(map[string]any)
	steps := acc["steps"].([]any)
	if len(steps) > 11 || steps[len(steps)-1] != 99.0 || body["seq"].(float64) <= 0 {
		t.Errorf("thinned series = %v (seq %v); want at most 11 points ending at step 99", steps, body["seq"])
	}

	// Models: a registered model names its run.
	run, err := ts.WS.Run(ctx, done)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.RegisterModel(ctx, "tiny", "sub/model.txt", map[string]string{"acc": "0.9"}); err != nil {
		t.Fatal(err)
	}
	_, body = ts.do(t, "GET", "/api/models", nil)
	models := body["models"].([]any)
	if len(models) != 1 {
		t.Fatalf("models = %v", models)
	}
	if m := models[0].(map[string]any); m["name"] != "tiny" || m["version"] != 1.0 || m["run_id"] != done || m["path"] != "sub/model.txt" {
		t.Errorf("model = %v", m)
	}

	// Cancel: a Queued run stops; a final one cannot.
	if code, body := ts.do(t, "POST", "/api/runs/"+ids[0]+"/cancel", nil); code != 200 {
		t.Errorf("cancel queued = %d %v", code, body)
	}
	if d, _ := store.Run(ctx, ids[0]); d.State != workspace.StateCancelRequested {
		t.Errorf("after cancel, state %s", d.State)
	}
	code, body := ts.do(t, "POST", "/api/runs/"+done+"/cancel", nil)
	if code != 409 || !strings.Contains(body["error"].(string), "is Completed: there is nothing to cancel") {
		t.Errorf("cancel completed = %d %v", code, body)
	}
}

// sse reads server-sent events.
type sse struct {
	r    *bufio.Reader
	body io.Closer
}

func openEvents(t *testing.T, ts *testServer, query string) *sse {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+"/api/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("events = %d %s", resp.StatusCode, b)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sse{r: bufio.NewReader(resp.Body), body: resp.Body}
}

// next returns the next event's name and data, failing the test after 10
// s (a hang guard).
func (s *sse) next(t *testing.T) (string, map[string]any) {
	t.Helper()
	type ev struct {
		name string
		data map[string]any
		err  error
	}
	c := make(chan ev, 1)
	go func() {
		var e ev
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				c <- ev{err: err}
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				e.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				e.err = json.Unmarshal([]byte(line[len("data: "):]), &e.data)
			case line == "" && e.name != "":
				c <- e
				return
			}
		}
	}()
	select {
	case e := <-c:
		if e.err != nil {
			t.Fatal(e.err)
		}
		return e.name, e.data
	case <-time.After(10 * time.Second):
		s.body.Close()
		t.Fatal("no event within 10 s")
	}
	return "", nil
}

// until reads events until one named name comes, and returns its data.
func (s *sse) until(t *testing.T, name string) map[string]any {
	t.Helper()
	for {
		if n, d := s.next(t); n == name {
			return d
		}
	}
}

func TestEvents(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	if err := ts.WS.CreateLocalCompute(ctx, "local", sdk.LocalCompute{}); err != nil {
		t.Fatal(err)
	}
	store := ts.WS.Store()
	id := fakeRun(t, ts, "exp")
	dir, _ := store.RunDir(id)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o700)
	logPath := filepath.Join(dir, "logs", "output.log")
	os.WriteFile(logPath, []byte("before\n"), 0o600)

	ev := openEvents(t, ts, "?run="+id+"&log=0&metrics=0")
	if name, data := ev.next(t); name != "hello" || data["seq"].(float64) <= 0 {
		t.Fatalf("first event %s %v; want hello with the current seq", name, data)
	}
	if d := ev.until(t, "log"); d["text"] != "before\n" || d["offset"] != 0.0 {
		t.Errorf("first log event %v", d)
	}
	if err := store.Transition(ctx, id, workspace.StateQueued, "submitted"); err != nil {
		t.Fatal(err)
	}
	if d := ev.until(t, "change"); d["run"] != id || d["to"] != "Queued" || d["from"] != "NotStarted" {
		t.Errorf("change event %v", d)
	}
	// A character cut in two waits for its second half.
	f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("caf\xc3"))
	time.Sleep(200 * time.Millisecond)
	f.Write([]byte("\xa9 done\n"))
	f.Close()
	text := ""
	for text != "café done\n" {
		d := ev.until(t, "log")
		if strings.ContainsRune(d["text"].(string), '\uFFFD') {
			t.Fatalf("log event split a character: %q", d["text"])
		}
		text += d["text"].(string)
	}
	if err := store.LogMetrics(ctx, id, []workspace.Metric{{Name: "loss", Step: 3, Value: 0.125}}); err != nil {
		t.Fatal(err)
	}
	d := ev.until(t, "metrics")
	p := d["points"].([]any)[0].(map[string]any)
	if p["name"] != "loss" || p["step"] != 3.0 || p["value"] != 0.125 {
		t.Errorf("metrics event %v", d)
	}
	if err := ts.WS.CreateLocalCompute(ctx, "second", sdk.LocalCompute{}); err != nil {
		t.Fatal(err)
	}
	ev.until(t, "targets")

	// A stream resumed after a change sees the ones after it, once.
	store.Transition(ctx, id, workspace.StatePreparing, "")
	store.Transition(ctx, id, workspace.StateFailed, "broke")
	changes, _ := store.Changes(ctx, 0, 0)
	mark := changes[len(changes)-2].Seq
	again := openEvents(t, ts, fmt.Sprintf("?since=%d", mark))
	again.until(t, "hello")
	if d := again.until(t, "change"); d["to"] != "Failed" || d["reason"] != "broke" {
		t.Errorf("resumed stream: %v; want the Failed change only", d)
	}
	if code, body := ts.do(t, "GET", "/api/events?run=nope", nil); code != 400 {
		t.Errorf("events of a bad run = %d %v", code, body)
	}
}

// TestResubmitRealRun runs a script on the local target, resubmits it
// through the API and follows the new run to completion by its events.
func TestResubmitRealRun(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	if code, body := ts.do(t, "POST", "/api/targets", map[string]any{"kind": "local", "name": "local"}); code != 201 {
		t.Fatalf("create local: %d %v", code, body)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "train.py"), []byte("import gantry_run\nprint('hello from the run')\ngantry_run.log('loss', 0.5)\n"), 0o644)
	run, err := ts.WS.Experiment("api").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: sdk.RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, err := run.WaitForCompletion(ctx, sdk.WaitOptions{RaiseOnError: true}); err != nil {
		t.Fatalf("%s: %v", st, err)
	}
	ev := openEvents(t, ts, "")
	ev.until(t, "hello")
	code, body := ts.do(t, "POST", "/api/runs/"+run.ID+"/resubmit", nil)
	if code != 201 {
		t.Fatalf("resubmit = %d %v", code, body)
	}
	id := body["run"].(map[string]any)["id"].(string)
	var states []string
	for len(states) == 0 || states[len(states)-1] != "Completed" {
		d := ev.until(t, "change")
		if d["run"] == id {
			states = append(states, d["to"].(string))
		}
		if len(states) > 10 {
			break
		}
	}
	if strings.Join(states, " ") != "NotStarted Queued Preparing Starting Running Finalizing Completed" {
		t.Errorf("resubmitted run went %v", states)
	}
	_, body = ts.do(t, "GET", "/api/runs/"+id, nil)
	r := body["run"].(map[string]any)
	if r["metrics"].(map[string]any)["loss"] != 0.5 || r["elapsed_ms"].(float64) < r["preparing_ms"].(float64) || r["exit_code"] != 0.0 {
		t.Errorf("resubmitted run = %v", r)
	}
}
