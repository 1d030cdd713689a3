package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"time"

	"gantry/kernel/cell"
	"gantry/kernel/frame"
	"gantry/kernel/history"
	"gantry/kernel/wire"
)

// handleShell answers one shell request between status busy and idle. It
// reports whether the request was an execute that failed and asked the
// kernel to stop on error.
func (k *Kernel) handleShell(ctx context.Context, m *wire.Message) (abort bool) {
	k.publish("status", m, map[string]any{"execution_state": "busy"})
	defer k.publish("status", m, map[string]any{"execution_state": "idle"})
	switch m.Header.MsgType {
	case "kernel_info_request":
		k.reply(k.shell, m, "kernel_info_reply", k.kernelInfo())
	case "execute_request":
		return k.execute(ctx, m)
	case "is_complete_request":
		var c struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(m.Content, &c)
		status, indent := cell.IsComplete(c.Code)
		content := map[string]any{"status": status}
		if status == "incomplete" {
			content["indent"] = indent
		}
		k.reply(k.shell, m, "is_complete_reply", content)
	case "complete_request":
		k.complete(ctx, m)
	case "inspect_request":
		k.inspect(ctx, m)
	case "history_request":
		k.historyReply(ctx, m)
	case "comm_info_request":
		k.commInfo(m)
	case "comm_open", "comm_msg", "comm_close":
		k.commFromClient(ctx, m)
	case "shutdown_request":
		k.handleShutdown(m, k.shell)
	default:
		k.log.Printf("shell: ignored unknown message type %q", m.Header.MsgType)
	}
	return false
}

// handleControl answers control requests; they are served while a cell runs.
func (k *Kernel) handleControl(ctx context.Context, m *wire.Message) {
	k.publish("status", m, map[string]any{"execution_state": "busy"})
	defer k.publish("status", m, map[string]any{"execution_state": "idle"})
	switch m.Header.MsgType {
	case "kernel_info_request":
		k.reply(k.control, m, "kernel_info_reply", k.kernelInfo())
	case "interrupt_request":
		k.interruptRunning()
		k.reply(k.control, m, "interrupt_reply", map[string]any{"status": "ok"})
	case "shutdown_request":
		k.handleShutdown(m, k.control)
	default:
		k.log.Printf("control: ignored unknown message type %q", m.Header.MsgType)
	}
}

func (k *Kernel) handleShutdown(m *wire.Message, s interface{}) {
	var c struct {
		Restart bool `json:"restart"`
	}
	_ = json.Unmarshal(m.Content, &c)
	if s == k.control {
		k.reply(k.control, m, "shutdown_reply", map[string]any{"status": "ok", "restart": c.Restart})
	} else {
		k.reply(k.shell, m, "shutdown_reply", map[string]any{"status": "ok", "restart": c.Restart})
	}
	k.interruptRunning()
	select {
	case k.shutdown <- c.Restart:
	default:
	}
}

func (k *Kernel) kernelInfo() map[string]any {
	goVersion := strings.TrimPrefix(runtime.Version(), "go")
	return map[string]any{
		"status":                 "ok",
		"protocol_version":       wire.ProtocolVersion,
		"implementation":         "gantry",
		"implementation_version": Version,
		"language_info": map[string]any{
			"name":               "go",
			"version":            goVersion,
			"mimetype":           "text/x-go",
			"file_extension":     ".go",
			"pygments_lexer":     "go",
			"codemirror_mode":    "go",
			"nbconvert_exporter": "script",
		},
		"banner": "Gantry " + Version + ": Go " + goVersion + " interpreted by yaegi.\n" +
			"Values and declarations persist between cells. %lsmagic lists the magics; ?name shows Go documentation.",
		"help_links": []map[string]string{
			{"text": "Go documentation", "url": "https://go.dev/doc/"},
			{"text": "Go standard library", "url": "https://pkg.go.dev/std"},
			{"text": "yaegi", "url": "https://github.com/traefik/yaegi"},
		},
		"supported_features": []string{},
		"debugger":           false,
	}
}

type executeRequest struct {
	Code         string `json:"code"`
	Silent       bool   `json:"silent"`
	StoreHistory *bool  `json:"store_history"`
	AllowStdin   bool   `json:"allow_stdin"`
	StopOnError  bool   `json:"stop_on_error"`
}

func (k *Kernel) execute(ctx context.Context, m *wire.Message) (abort bool) {
	req := executeRequest{StopOnError: true}
	if err := json.Unmarshal(m.Content, &req); err != nil {
		k.reply(k.shell, m, "execute_reply", errorContent(k.execCount, "BadRequest", "execute_request content is not valid: "+err.Error()))
		return false
	}
	store := !req.Silent && (req.StoreHistory == nil || *req.StoreHistory)
	if store {
		k.execCount++
	}
	n := k.execCount
	k.setParent(m)
	if !req.Silent {
		k.publish("execute_input", m, map[string]any{"code": req.Code, "execution_count": n})
	}
	if h, sess := k.history(); h != nil && store {
		// Off the cell's critical path; line numbers keep the order.
		go func() {
			if err := h.Add(context.WithoutCancel(ctx), sess, n, req.Code, ""); err != nil {
				k.log.Printf("history: %v", err)
			}
		}()
	}
	f := &frame.Frame{Kind: frame.KindExecute, ID: m.Header.MsgID, Code: req.Code, Silent: req.Silent,
		AllowStdin: req.AllowStdin, ExecutionNum: n}
	rep, err := k.runInExecutor(ctx, m, f)
	if err != nil {
		content := errorContent(n, "ExecutorError", err.Error())
		k.publish("error", m, errorOutput(content))
		k.reply(k.shell, m, "execute_reply", content)
		return req.StopOnError
	}
	if rep.Status != "ok" && rep.Error != nil {
		content := errorContent(n, rep.Error.Name, rep.Error.Value)
		content["traceback"] = rep.Error.Traceback
		if rep.Error.Traceback == nil {
			content["traceback"] = []string{}
		}
		// An error without a traceback (a wait the user stopped, which
		// the cell's output already explains) is not shown in red.
		if !req.Silent && len(rep.Error.Traceback) > 0 {
			k.publish("error", m, errorOutput(content))
		}
		k.reply(k.shell, m, "execute_reply", content)
		return req.StopOnError
	}
	if rep.Result != nil && !req.Silent {
		k.publish("execute_result", m, map[string]any{
			"execution_count": n, "data": rep.Result.Data, "metadata": orMap(rep.Result.Metadata),
		})
	}
	payload := rep.Payload
	if payload == nil {
		payload = []map[string]any{}
	}
	k.reply(k.shell, m, "execute_reply", map[string]any{
		"status": "ok", "execution_count": n, "payload": payload, "user_expressions": map[string]any{},
	})
	return false
}

func errorContent(n int, ename, evalue string) map[string]any {
	return map[string]any{"status": "error", "execution_count": n, "ename": ename, "evalue": evalue,
		"traceback": []string{ename + ": " + evalue}}
}

func errorOutput(c map[string]any) map[string]any {
	return map[string]any{"ename": c["ename"], "evalue": c["evalue"], "traceback": c["traceback"]}
}

func orMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (k *Kernel) complete(ctx context.Context, m *wire.Message) {
	var c struct {
		Code      string `json:"code"`
		CursorPos int    `json:"cursor_pos"`
	}
	_ = json.Unmarshal(m.Content, &c)
	rep, err := k.runInExecutor(ctx, m, &frame.Frame{Kind: frame.KindComplete, ID: m.Header.MsgID, Code: c.Code, CursorPos: c.CursorPos})
	if err != nil || rep.Status != "ok" {
		k.reply(k.shell, m, "complete_reply", map[string]any{"status": "ok", "matches": []string{},
			"cursor_start": c.CursorPos, "cursor_end": c.CursorPos, "metadata": map[string]any{}})
		return
	}
	matches := rep.Matches
	if matches == nil {
		matches = []string{}
	}
	k.reply(k.shell, m, "complete_reply", map[string]any{"status": "ok", "matches": matches,
		"cursor_start": rep.CursorBeg, "cursor_end": rep.CursorEnd, "metadata": orMap(rep.Metadata)})
}

func (k *Kernel) inspect(ctx context.Context, m *wire.Message) {
	var c struct {
		Code        string `json:"code"`
		CursorPos   int    `json:"cursor_pos"`
		DetailLevel int    `json:"detail_level"`
	}
	_ = json.Unmarshal(m.Content, &c)
	rep, err := k.runInExecutor(ctx, m, &frame.Frame{Kind: frame.KindInspect, ID: m.Header.MsgID, Code: c.Code, CursorPos: c.CursorPos, DetailLevel: c.DetailLevel})
	content := map[string]any{"status": "ok", "found": false, "data": map[string]any{}, "metadata": map[string]any{}}
	if err == nil && rep.Found && rep.Result != nil {
		content["found"] = true
		content["data"] = rep.Result.Data
	}
	k.reply(k.shell, m, "inspect_reply", content)
}

func (k *Kernel) historyReply(ctx context.Context, m *wire.Message) {
	var c struct {
		Output         bool   `json:"output"`
		Raw            bool   `json:"raw"`
		HistAccessType string `json:"hist_access_type"`
		Session        int64  `json:"session"`
		Start          int    `json:"start"`
		Stop           int    `json:"stop"`
		N              int    `json:"n"`
		Pattern        string `json:"pattern"`
		Unique         bool   `json:"unique"`
	}
	_ = json.Unmarshal(m.Content, &c)
	h, sess := k.history()
	if h == nil {
		k.reply(k.shell, m, "history_reply", map[string]any{"status": "ok", "history": []any{}})
		return
	}
	var entries []history.Entry
	var err error
	switch c.HistAccessType {
	case "tail":
		n := c.N
		if n <= 0 {
			n = 10
		}
		entries, err = h.Tail(ctx, n, c.Unique)
	case "range":
		s := c.Session // negative counts back from the newest session
		if s == 0 {
			s = sess
		}
		entries, err = h.Range(ctx, s, c.Start, c.Stop)
	case "search":
		entries, err = h.Search(ctx, c.Pattern, c.N, c.Unique)
	default:
		err = fmt.Errorf("hist_access_type %q is not one of tail, range, search", c.HistAccessType)
	}
	if err != nil {
		k.reply(k.shell, m, "history_reply", map[string]any{"status": "error", "ename": "HistoryError", "evalue": err.Error(), "traceback": []string{}, "history": []any{}})
		return
	}
	out := make([]any, 0, len(entries))
	for _, e := range entries {
		if c.Output {
			var o any
			if e.HasOutput {
				o = e.Output
			}
			out = append(out, []any{e.Session, e.Line, []any{e.Source, o}})
		} else {
			out = append(out, []any{e.Session, e.Line, e.Source})
		}
	}
	k.reply(k.shell, m, "history_reply", map[string]any{"status": "ok", "history": out})
}

func (k *Kernel) commInfo(m *wire.Message) {
	var c struct {
		TargetName string `json:"target_name"`
	}
	_ = json.Unmarshal(m.Content, &c)
	k.commMu.Lock()
	comms := map[string]any{}
	for id, t := range k.comms {
		if c.TargetName == "" || c.TargetName == t {
			comms[id] = map[string]string{"target_name": t}
		}
	}
	k.commMu.Unlock()
	k.reply(k.shell, m, "comm_info_reply", map[string]any{"status": "ok", "comms": comms})
}

func (k *Kernel) commFromClient(ctx context.Context, m *wire.Message) {
	var c struct {
		CommID     string         `json:"comm_id"`
		TargetName string         `json:"target_name"`
		Data       map[string]any `json:"data"`
	}
	if err := json.Unmarshal(m.Content, &c); err != nil || c.CommID == "" {
		k.log.Printf("%s: dropped: no comm_id", m.Header.MsgType)
		return
	}
	kind := strings.TrimPrefix(m.Header.MsgType, "comm_")
	k.commMu.Lock()
	switch kind {
	case "open":
		k.comms[c.CommID] = c.TargetName
	case "msg":
		k.asked[c.CommID] = m
	case "close":
		delete(k.comms, c.CommID)
		delete(k.asked, c.CommID)
	}
	k.commMu.Unlock()
	p, err := k.executor(ctx)
	if err != nil {
		k.log.Printf("comm: %v", err)
		return
	}
	k.setParent(m)
	_ = p.send(&frame.Frame{Kind: frame.KindComm, Comm: &frame.Comm{Type: kind, CommID: c.CommID, TargetName: c.TargetName, Data: c.Data}})
}

// interruptRunning interrupts the request running in the executor, and
// kills the executor if the request has not ended within a grace period.
func (k *Kernel) interruptRunning() {
	k.runMu.Lock()
	defer k.runMu.Unlock()
	if k.interrupt != nil {
		select {
		case k.interrupt <- struct{}{}:
		default:
		}
	}
}

// killGrace is how long the kernel waits after an interrupt before it
// replaces an executor that has not answered; the executor itself gives
// up on a stuck cell sooner.
const killGrace = 5 * time.Second
