package kernel

import (
	"context"
	"encoding/json"
	"time"

	"gantry/kernel/frame"
	"gantry/kernel/wire"
)

// errCrashed wraps the reason an executor ended during a request.
type errCrashed struct{ reason string }

func (e errCrashed) Error() string {
	return e.reason + ". Interpreter state was reset: a new executor is ready, re-run the cells you need."
}

// runInExecutor sends req for the client request m and waits for its
// reply, publishing what the executor sends meanwhile. If the executor
// ends, it returns an error that says why, and starts a new one.
func (k *Kernel) runInExecutor(ctx context.Context, m *wire.Message, req *frame.Frame) (*frame.Frame, error) {
	p, err := k.executor(ctx)
	if err != nil {
		return nil, err
	}
	interrupt := make(chan struct{}, 1)
	done := make(chan struct{})
	k.runMu.Lock()
	k.running, k.interrupt, k.runDone = m, interrupt, done
	k.runMu.Unlock()
	defer func() {
		k.runMu.Lock()
		k.running, k.interrupt, k.runDone = nil, nil, nil
		k.runMu.Unlock()
		close(done)
	}()
	// Forget sync notes of earlier requests.
	for len(k.syncs) > 0 {
		<-k.syncs
	}
	if err := p.send(req); err != nil {
		return nil, k.crashed(ctx, p)
	}
	var kill <-chan time.Time
	for {
		select {
		case f, ok := <-p.replies:
			if !ok {
				return nil, k.crashed(ctx, p)
			}
			if f.ID == req.ID {
				k.waitSync(f.Sync, p)
				if f.Restarted {
					p.kill()
					<-p.dead
					go k.replaceExecutor(context.WithoutCancel(ctx), p)
				}
				return f, nil
			}
		case <-interrupt:
			_ = p.send(&frame.Frame{Kind: frame.KindInterrupt})
			if kill == nil {
				kill = time.After(killGrace)
			}
		case <-kill:
			p.kill()
		}
	}
}

// crashed waits for a dead executor's output to drain, starts a new
// executor and returns why the old one ended.
func (k *Kernel) crashed(ctx context.Context, p *proc) error {
	select {
	case <-p.dead:
	case <-time.After(5 * time.Second):
		p.kill()
		<-p.dead
	}
	reason := p.crashReason(k.cfg.MemLimit)
	k.replaceExecutor(context.WithoutCancel(ctx), p)
	return errCrashed{reason}
}

// waitSync waits until both output streams have passed the request's
// sync token, so that all its output is published before the reply.
func (k *Kernel) waitSync(token string, p *proc) {
	if token == "" {
		return
	}
	seen := map[string]bool{}
	timeout := time.After(2 * time.Second)
	for !seen["stdout"] || !seen["stderr"] {
		select {
		case n := <-k.syncs:
			if n.token == token {
				seen[n.stream] = true
			}
		case <-timeout:
			k.log.Printf("output sync %s: gave up waiting (a cell may have replaced os.Stdout or os.Stderr)", token)
			return
		case <-p.dead:
			return
		}
	}
}

// fromExecutor handles a frame that is not the awaited reply.
func (k *Kernel) fromExecutor(ctx context.Context, p *proc, f *frame.Frame) {
	parent := k.currentParent()
	switch f.Kind {
	case frame.KindDisplay:
		if f.Display == nil {
			return
		}
		typ := "display_data"
		if f.Update {
			typ = "update_display_data"
		}
		k.publish(typ, parent, map[string]any{"data": f.Display.Data, "metadata": orMap(f.Display.Metadata),
			"transient": orMap(f.Display.Transient)})
	case frame.KindClearOutput:
		k.publish("clear_output", parent, map[string]any{"wait": f.Wait})
	case frame.KindInputRequest:
		go k.input(p, f)
	case frame.KindComm:
		k.commToClient(parent, f.Comm)
	case frame.KindExiting, frame.KindReply:
		// Exit codes are read from the process; stray replies are dropped.
	}
}

func (k *Kernel) commToClient(parent *wire.Message, c *frame.Comm) {
	if c == nil {
		return
	}
	content := map[string]any{"comm_id": c.CommID, "data": orMap(c.Data)}
	k.commMu.Lock()
	switch c.Type {
	case "open":
		k.comms[c.CommID] = c.TargetName
		content["target_name"] = c.TargetName
	case "msg":
		if q, ok := k.asked[c.CommID]; ok {
			parent = q
			delete(k.asked, c.CommID)
		}
	case "close":
		delete(k.comms, c.CommID)
		delete(k.asked, c.CommID)
	}
	k.commMu.Unlock()
	m := k.newMessage("comm_"+c.Type, parent, content)
	if len(c.Metadata) > 0 {
		// A widget's comm_open carries its protocol version here.
		m.Metadata, _ = json.Marshal(c.Metadata)
	}
	k.publishMessage(m)
}

// input asks the client for a line on the stdin socket and hands the
// answer to the executor.
func (k *Kernel) input(p *proc, f *frame.Frame) {
	k.runMu.Lock()
	m, interrupt, done := k.running, k.interrupt, k.runDone
	k.runMu.Unlock()
	if m == nil {
		_ = p.send(&frame.Frame{Kind: frame.KindInputReply, Status: "error", Value: "no request is waiting for input"})
		return
	}
	for len(k.inputs) > 0 {
		<-k.inputs
	}
	k.reply(k.stdin, m, "input_request", map[string]any{"prompt": f.Prompt, "password": f.Password})
	select {
	case r := <-k.inputs:
		var c struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(r.Content, &c); err != nil {
			_ = p.send(&frame.Frame{Kind: frame.KindInputReply, Status: "error", Value: "input_reply is malformed: " + err.Error()})
			return
		}
		_ = p.send(&frame.Frame{Kind: frame.KindInputReply, Status: "ok", Value: c.Value})
	case <-interrupt:
		_ = p.send(&frame.Frame{Kind: frame.KindInputReply, Status: "error", Value: "interrupted while waiting for input"})
		_ = p.send(&frame.Frame{Kind: frame.KindInterrupt})
	case <-done:
	case <-p.dead:
	}
}
