// Package comm lets notebook cells talk to front-end code over Jupyter
// comms: named two-way channels between the kernel and the client.
//
// In a cell:
//
//	import "gantry/comm"
//
//	comm.RegisterTarget("counter", func(c *comm.Comm, data map[string]any) {
//		n := 0
//		c.OnMsg(func(data map[string]any) {
//			n++
//			c.Send(map[string]any{"count": n})
//		})
//	})
//
// A client that opens a comm to target "counter" then gets a reply for each
// message it sends. comm.Open starts a comm from the kernel side.
//
// Handlers run one at a time, in the order messages arrive, on a goroutine
// of their own: they may run while a cell is running.
package comm

import (
	"fmt"
	"sort"
	"sync"

	"github.com/google/uuid"
)

// Sender delivers comm messages to the client; the executor provides it.
// metadata is the message's metadata (nil for none).
type Sender interface {
	SendComm(kind, commID, target string, data, metadata map[string]any)
}

// Manager tracks the comm targets and open comms of one interpreter.
type Manager struct {
	send Sender

	mu      sync.Mutex
	targets map[string]func(*Comm, map[string]any)
	open    map[string]*Comm
	queue   chan func()
}

// NewManager returns a Manager that sends through s. Its handler goroutine
// runs until Close.
func NewManager(s Sender) *Manager {
	m := &Manager{send: s, targets: map[string]func(*Comm, map[string]any){}, open: map[string]*Comm{}, queue: make(chan func(), 256)}
	go func() {
		for f := range m.queue {
			runHandler(f)
		}
	}()
	return m
}

// runHandler runs f, reporting a panic instead of ending the process.
func runHandler(f func()) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Printf("comm handler panicked: %v\n", r)
		}
	}()
	f()
}

// Close stops the handler goroutine.
func (m *Manager) Close() { close(m.queue) }

// RegisterTarget makes target openable by the client; onOpen runs for each
// comm the client opens to it, with the data of its comm_open.
func (m *Manager) RegisterTarget(target string, onOpen func(c *Comm, data map[string]any)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.targets[target] = onOpen
}

// UnregisterTarget removes a target; comms already open stay open.
func (m *Manager) UnregisterTarget(target string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.targets, target)
}

// Targets returns the registered target names, sorted.
func (m *Manager) Targets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.targets))
	for t := range m.targets {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Open starts a comm to a client-side target.
func (m *Manager) Open(target string, data map[string]any) *Comm {
	return m.OpenWith(target, data, nil)
}

// OpenWith starts a comm to a client-side target with metadata on its
// comm_open message, such as the protocol version a Jupyter widget's
// comm_open must carry ({"version": "2.1.0"}).
func (m *Manager) OpenWith(target string, data, metadata map[string]any) *Comm {
	c := &Comm{m: m, id: uuid.NewString(), target: target}
	m.mu.Lock()
	m.open[c.id] = c
	m.mu.Unlock()
	m.send.SendComm("open", c.id, target, data, metadata)
	return c
}

// Deliver handles a comm message from the client: kind is "open", "msg"
// or "close". It reports false for an open to an unknown target, after
// telling the client the comm is closed.
func (m *Manager) Deliver(kind, commID, target string, data map[string]any) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch kind {
	case "open":
		onOpen, ok := m.targets[target]
		if !ok {
			m.send.SendComm("close", commID, target, map[string]any{"error": fmt.Sprintf("no comm target %q is registered in the kernel", target)}, nil)
			return false
		}
		c := &Comm{m: m, id: commID, target: target}
		m.open[commID] = c
		m.queue <- func() { onOpen(c, data) }
	case "msg":
		c, ok := m.open[commID]
		if !ok {
			return false
		}
		m.queue <- func() {
			if h := c.msgHandler(); h != nil {
				h(data)
			}
		}
	case "close":
		c, ok := m.open[commID]
		if !ok {
			return false
		}
		delete(m.open, commID)
		m.queue <- func() {
			if h := c.closeHandler(); h != nil {
				h(data)
			}
		}
	}
	return true
}

// Comm is one open comm.
type Comm struct {
	m      *Manager
	id     string
	target string

	mu      sync.Mutex
	onMsg   func(map[string]any)
	onClose func(map[string]any)
	closed  bool
}

// ID returns the comm's id.
func (c *Comm) ID() string { return c.id }

// Target returns the name of the comm's target.
func (c *Comm) Target() string { return c.target }

// Send sends data to the client side of the comm.
func (c *Comm) Send(data map[string]any) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		c.m.send.SendComm("msg", c.id, c.target, data, nil)
	}
}

// Close closes the comm from the kernel side.
func (c *Comm) Close(data map[string]any) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.m.mu.Lock()
	delete(c.m.open, c.id)
	c.m.mu.Unlock()
	c.m.send.SendComm("close", c.id, c.target, data, nil)
}

// OnMsg sets the handler for messages from the client.
func (c *Comm) OnMsg(f func(data map[string]any)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onMsg = f
}

// OnClose sets the handler for the client closing the comm.
func (c *Comm) OnClose(f func(data map[string]any)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onClose = f
}

func (c *Comm) msgHandler() func(map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.onMsg
}

func (c *Comm) closeHandler() func(map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.onClose
}
