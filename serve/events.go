package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gantry/sdk/workspace"
)

// The events of GET /api/events, as server-sent events:
//
//	hello    {"seq": N}                     first: the change the stream starts after
//	change   {"seq", "run", "from", "to", "reason", "time"}   a run changed state (id: seq)
//	targets  {}                             compute targets were added, removed or changed
//	log      {"run", "offset", "text"}      the followed run's output from offset (byte offset)
//	metrics  {"run", "points": [{"seq", "name", "step", "value", "time"}]}
//
// Query parameters: since=SEQ starts after that change (a reconnecting
// EventSource sends Last-Event-ID instead), else at the latest one; run=ID
// follows a run, with log=OFFSET (its output, or with file=environment its
// environment log, from that byte offset) and
// metrics=SEQ (its metric values logged after that point).

// pingEvery is how often an idle stream sends a comment, so that proxies
// keep it open.
const pingEvery = 15 * time.Second

// changeJSON is a state change in the event stream.
type changeJSON struct {
	Seq    int64  `json:"seq"`
	Run    string `json:"run"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
	Time   millis `json:"time"`
}

// pointJSON is a metric value in the event stream.
type pointJSON struct {
	Seq   int64  `json:"seq"`
	Name  string `json:"name"`
	Step  int64  `json:"step"`
	Value num    `json:"value"`
	Time  millis `json:"time"`
}

// stream is one client's event stream.
type stream struct {
	w       http.ResponseWriter
	flusher http.Flusher
	wrote   bool
	err     error
}

// send writes one event; id, if not empty, becomes the stream's last
// event ID.
func (st *stream) send(event, id string, data any) {
	if st.err != nil {
		return
	}
	b, err := json.Marshal(data)
	if err != nil {
		st.err = err
		return
	}
	var sb strings.Builder
	if id != "" {
		sb.WriteString("id: " + id + "\n")
	}
	sb.WriteString("event: " + event + "\ndata: ")
	sb.Write(b)
	sb.WriteString("\n\n")
	_, st.err = st.w.Write([]byte(sb.String()))
	st.wrote = true
}

func (st *stream) flush() {
	if st.wrote && st.err == nil {
		st.flusher.Flush()
		st.wrote = false
	}
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("this connection cannot stream events"))
		return
	}
	store := s.WS.Store()
	q := r.URL.Query()
	since, err := intParam(r, "since", -1, 0, 1<<62)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && n >= 0 {
			since = n
		}
	}
	if since < 0 {
		if since, err = store.LastChange(ctx); err != nil {
			fail(w, err)
			return
		}
	}
	var (
		runID     string
		logPath   string
		logOff    int64 = -1
		metricSeq int64 = -1
	)
	if id := q.Get("run"); id != "" {
		d, err := store.Run(ctx, id)
		if err != nil {
			fail(w, err)
			return
		}
		runID = d.ID
		if logOff, err = intParam(r, "log", -1, 0, 1<<62); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if metricSeq, err = intParam(r, "metrics", -1, 0, 1<<62); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if logPath, err = s.logFile(r, runID); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, flusher: flusher}
	st.send("hello", "", map[string]int64{"seq": since})
	st.flush()

	poll := s.Poll
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	lastSent := time.Now()
	targets := targetsSignature(ctx, s)
	for n := 0; st.err == nil; n++ {
		cs, err := store.Changes(ctx, since, 500)
		if err != nil && ctx.Err() != nil {
			return
		}
		for _, c := range cs {
			st.send("change", strconv.FormatInt(c.Seq, 10), changeJSON{Seq: c.Seq, Run: c.RunID, From: string(c.From),
				To: string(c.To), Reason: c.Reason, Time: millis(c.Time)})
			since = c.Seq
		}
		if n%4 == 0 {
			if sig := targetsSignature(ctx, s); sig != targets {
				targets = sig
				st.send("targets", "", struct{}{})
			}
		}
		if runID != "" && logOff >= 0 {
			logOff = sendLog(st, runID, logPath, logOff)
		}
		if runID != "" && metricSeq >= 0 {
			metricSeq = sendMetrics(ctx, st, store, runID, metricSeq)
		}
		if st.wrote {
			lastSent = time.Now()
		} else if time.Since(lastSent) >= pingEvery {
			_, st.err = w.Write([]byte(": ping\n\n"))
			flusher.Flush()
			lastSent = time.Now()
		}
		st.flush()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sendLog sends the log's bytes from off, holding back a character cut in
// two at the end, and returns the offset reached.
func sendLog(st *stream, runID, path string, off int64) int64 {
	data, start, _, err := readLog(path, off, -1)
	if err != nil || len(data) == 0 {
		return off
	}
	if i := lastRuneStart(data); i >= 0 && !utf8.FullRune(data[i:]) {
		data = data[:i]
	}
	if len(data) == 0 {
		return off
	}
	st.send("log", "", map[string]any{"run": runID, "offset": start, "text": string(data)})
	return start + int64(len(data))
}

// lastRuneStart returns the index of the first byte of the last character
// in b, or -1.
func lastRuneStart(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return -1
}

// sendMetrics sends the run's metric values logged after seq and returns
// the last seq sent.
func sendMetrics(ctx context.Context, st *stream, store *workspace.Workspace, runID string, seq int64) int64 {
	ps, err := store.MetricsAfter(ctx, runID, seq, 5000)
	if err != nil || len(ps) == 0 {
		return seq
	}
	out := make([]pointJSON, len(ps))
	for i, p := range ps {
		out[i] = pointJSON{Seq: p.Seq, Name: p.Name, Step: p.Step, Value: num(p.Value), Time: millis(p.Time)}
	}
	st.send("metrics", "", map[string]any{"run": runID, "points": out})
	return ps[len(ps)-1].Seq
}

// targetsSignature changes when a target is added, removed or changed.
func targetsSignature(ctx context.Context, s *Server) string {
	ts, err := s.WS.ComputeTargets(ctx)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%s/%s/%s/%d;", t.Name, t.Kind, t.ProvisioningState, t.Updated.UnixNano())
	}
	return b.String()
}
