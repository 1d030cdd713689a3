// Package kernel is the protocol side of the Gantry Jupyter kernel: it binds
// the five sockets a connection file names, checks the signature of every
// message, answers the requests a Jupyter client sends, and runs cells in an
// executor child process (package kernel/executor) that it restarts
// whenever a cell ends it.
//
// Requests on the shell socket are handled one at a time, in order;
// the control socket (interrupt, shutdown, kernel_info) is served while a
// cell runs. Every request is bracketed by status busy and idle on iopub.
package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/google/uuid"

	"gantry/kernel/frame"
	"gantry/kernel/history"
	"gantry/kernel/wire"
)

// Version is the Gantry version reported in kernel_info_reply.
const Version = "0.1.0"

// Config holds what a kernel needs to start.
type Config struct {
	ConnectionFile string
	Executable     string   // the gantry binary, started as `Executable executor`
	ExecutorEnv    []string // environment of the executor; nil for os.Environ()
	HistoryPath    string   // "" for history.DefaultPath(); "-" disables history
	MemLimit       string   // the executor's memory limit, as shown in messages
	Log            *log.Logger
	// WatchParent makes the kernel shut down when the process that
	// started it goes away (it is re-parented), as ipykernel does when
	// JPY_PARENT_PID is set: a client killed with its terminal leaves no
	// kernel behind.
	WatchParent bool
}

// Kernel serves one connection file.
type Kernel struct {
	cfg     Config
	conn    *wire.ConnectionInfo
	signer  *wire.Signer
	session string
	log     *log.Logger

	shell, control, stdin, iopub, hb zmq4.Socket
	iopubMu                          sync.Mutex

	hist     *history.Store
	histSess int64

	execMu    sync.Mutex
	exec      *proc
	execCount int

	// parent of stream output and of messages from the executor.
	parentMu sync.Mutex
	parent   *wire.Message
	syncs    chan syncNote

	// the request running in the executor, for interrupts and input.
	runMu     sync.Mutex
	running   *wire.Message
	interrupt chan struct{}
	runDone   chan struct{} // closed when the running request ends
	inputs    chan *wire.Message

	commMu sync.Mutex
	comms  map[string]string // open comm id -> target name
	// asked holds, by comm id, the client's last comm_msg not answered
	// yet: the kernel's next message on that comm is its answer and takes
	// it as parent (a widget manager matches request_state's answer so).
	asked map[string]*wire.Message

	shutdown chan bool // restart flag
}

type syncNote struct{ stream, token string }

// New reads the connection file and prepares a kernel.
func New(cfg Config) (*Kernel, error) {
	ci, err := wire.ReadConnectionFile(cfg.ConnectionFile)
	if err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = log.New(os.Stderr, "gantry kernel: ", log.LstdFlags)
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the gantry binary: %w", err)
		}
		cfg.Executable = exe
	}
	if cfg.MemLimit == "" {
		cfg.MemLimit = "its memory limit"
	}
	return &Kernel{
		cfg:      cfg,
		conn:     ci,
		signer:   wire.NewSigner(ci.Key),
		session:  uuid.NewString(),
		log:      cfg.Log,
		syncs:    make(chan syncNote, 16),
		inputs:   make(chan *wire.Message, 1),
		comms:    map[string]string{},
		asked:    map[string]*wire.Message{},
		shutdown: make(chan bool, 1),
	}, nil
}

// Run binds the sockets and serves until a shutdown request or ctx ends.
func (k *Kernel) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []zmq4.Option{zmq4.WithTimeout(10 * time.Second)}
	k.shell = zmq4.NewRouter(ctx, opts...)
	k.control = zmq4.NewRouter(ctx, opts...)
	k.stdin = zmq4.NewRouter(ctx, opts...)
	k.iopub = zmq4.NewPub(ctx, opts...)
	k.hb = zmq4.NewRep(ctx, opts...)
	socks := []struct {
		s    zmq4.Socket
		port int
		name string
	}{{k.shell, k.conn.ShellPort, "shell"}, {k.control, k.conn.ControlPort, "control"},
		{k.stdin, k.conn.StdinPort, "stdin"}, {k.iopub, k.conn.IOPubPort, "iopub"}, {k.hb, k.conn.HBPort, "heartbeat"}}
	for _, s := range socks {
		if err := s.s.Listen(k.conn.Endpoint(s.port)); err != nil {
			return fmt.Errorf("bind %s socket: %w", s.name, err)
		}
		defer s.s.Close()
	}

	// The executor starts while the client connects.
	k.startExecutor(ctx)
	defer k.stopExecutor()

	if k.cfg.HistoryPath != "-" {
		go k.openHistory(ctx)
	}

	go k.heartbeat()
	parentGone := make(chan struct{})
	if k.cfg.WatchParent {
		go watchParent(ctx, os.Getppid(), parentGone)
	}
	shellReqs := make(chan *wire.Message, 64)
	go k.recvLoop(ctx, k.shell, "shell", func(m *wire.Message) { shellReqs <- m })
	go k.recvLoop(ctx, k.control, "control", func(m *wire.Message) { k.handleControl(ctx, m) })
	go k.recvLoop(ctx, k.stdin, "stdin", func(m *wire.Message) {
		if m.Header.MsgType == "input_reply" {
			select {
			case k.inputs <- m:
			default:
			}
		}
	})

	// SIGINT interrupts the running cell, as interrupt_request does; it is
	// served on its own goroutine because the shell loop is busy then.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case <-sigs:
				k.interruptRunning()
			case <-ctx.Done():
				return
			}
		}
	}()

	k.publish("status", nil, map[string]any{"execution_state": "starting"})
	// As in the executor: freed memory goes back to the system once the
	// kernel has been idle a moment (a flood of output leaves garbage).
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	for {
		select {
		case <-idle.C:
			debug.FreeOSMemory()
		case <-ctx.Done():
			return ctx.Err()
		case <-k.shutdown:
			return nil
		case <-parentGone:
			k.log.Printf("the process that started the kernel has gone: shutting down")
			return nil
		case m := <-shellReqs:
			if k.handleShell(ctx, m) {
				k.abortQueued(ctx, shellReqs, time.Now())
			}
			idle.Reset(500 * time.Millisecond)
		}
	}
}

// parentPoll is how often the kernel looks whether its parent lives.
const parentPoll = time.Second

// watchParent closes gone when this process's parent is no longer ppid:
// the parent died and the process was re-parented (to init or a
// subreaper).
func watchParent(ctx context.Context, ppid int, gone chan<- struct{}) {
	t := time.NewTicker(parentPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != ppid {
				close(gone)
				return
			}
		}
	}
}

// abortQueued answers the execute requests that arrived before a cell
// failed with stop_on_error (so were sent without knowing of the failure),
// as ipykernel does: "Run All" stops at the first error. Requests sent
// after the failure was reported, and other requests, are served as usual.
func (k *Kernel) abortQueued(ctx context.Context, queue chan *wire.Message, failedAt time.Time) {
	for {
		select {
		case m := <-queue:
			if m.Header.MsgType != "execute_request" || m.Received.After(failedAt) {
				if k.handleShell(ctx, m) {
					failedAt = time.Now()
				}
				continue
			}
			k.publish("status", m, map[string]any{"execution_state": "busy"})
			k.reply(k.shell, m, "execute_reply", map[string]any{"status": "aborted", "execution_count": k.execCount})
			k.publish("status", m, map[string]any{"execution_state": "idle"})
		default:
			return
		}
	}
}

func (k *Kernel) openHistory(ctx context.Context) {
	path := k.cfg.HistoryPath
	if path == "" {
		p, err := history.DefaultPath()
		if err != nil {
			k.log.Printf("history disabled: %v", err)
			return
		}
		path = p
	}
	st, err := history.Open(ctx, path)
	if err != nil {
		k.log.Printf("history disabled: %v", err)
		return
	}
	sess, err := st.NewSession(ctx)
	if err != nil {
		k.log.Printf("history disabled: %v", err)
		st.Close()
		return
	}
	k.execMu.Lock()
	k.hist, k.histSess = st, sess
	k.execMu.Unlock()
}

func (k *Kernel) history() (*history.Store, int64) {
	k.execMu.Lock()
	defer k.execMu.Unlock()
	return k.hist, k.histSess
}

// recvLoop reads one socket, drops what does not verify, and hands the
// rest to handle.
func (k *Kernel) recvLoop(ctx context.Context, s zmq4.Socket, name string, handle func(*wire.Message)) {
	for {
		raw, err := s.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			k.log.Printf("%s: receive: %v", name, err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m, err := k.signer.Decode(raw.Frames)
		if err != nil {
			k.log.Printf("%s: dropped a message: %v", name, err)
			continue
		}
		m.Received = time.Now()
		handle(m)
	}
}

func (k *Kernel) heartbeat() {
	for {
		m, err := k.hb.Recv()
		if err != nil {
			return
		}
		if err := k.hb.Send(m); err != nil {
			return
		}
	}
}

// reply signs and sends a message on a ROUTER socket back to the sender
// of parent.
func (k *Kernel) reply(s zmq4.Socket, parent *wire.Message, msgType string, content any) {
	m := k.newMessage(msgType, parent, content)
	m.Identities = parent.Identities
	frames, err := k.signer.Encode(m)
	if err != nil {
		k.log.Printf("encode %s: %v", msgType, err)
		return
	}
	if err := s.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		k.log.Printf("send %s: %v", msgType, err)
	}
}

// publish sends a message on iopub.
func (k *Kernel) publish(msgType string, parent *wire.Message, content any) {
	k.publishMessage(k.newMessage(msgType, parent, content))
}

// publishMessage sends m on iopub.
func (k *Kernel) publishMessage(m *wire.Message) {
	msgType := m.Header.MsgType
	m.Identities = [][]byte{[]byte("kernel." + k.session[:8] + "." + msgType)} // the PUB topic
	frames, err := k.signer.Encode(m)
	if err != nil {
		k.log.Printf("encode %s: %v", msgType, err)
		return
	}
	k.iopubMu.Lock()
	defer k.iopubMu.Unlock()
	if err := k.iopub.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		k.log.Printf("publish %s: %v", msgType, err)
	}
}

func (k *Kernel) newMessage(msgType string, parent *wire.Message, content any) *wire.Message {
	m := &wire.Message{Header: wire.NewHeader(msgType, k.session, "gantry")}
	if parent != nil {
		hdr, _ := json.Marshal(parent.Header)
		m.Parent = hdr
		m.Header.Username = parent.Header.Username
	}
	if content == nil {
		content = map[string]any{}
	}
	b, err := json.Marshal(content)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"status": "error", "ename": "EncodeError", "evalue": err.Error(), "traceback": []string{}})
	}
	m.Content = b
	return m
}

// setParent makes m the parent of output that arrives from now on.
func (k *Kernel) setParent(m *wire.Message) {
	k.parentMu.Lock()
	k.parent = m
	k.parentMu.Unlock()
}

func (k *Kernel) currentParent() *wire.Message {
	k.parentMu.Lock()
	defer k.parentMu.Unlock()
	return k.parent
}

// stream and synced make the kernel the sink of executor output.
func (k *Kernel) stream(name, text string) {
	k.publish("stream", k.currentParent(), map[string]any{"name": name, "text": text})
}

func (k *Kernel) synced(name, token string) {
	select {
	case k.syncs <- syncNote{name, token}:
	default:
	}
}

// startExecutor starts a new executor process.
func (k *Kernel) startExecutor(ctx context.Context) {
	env := k.cfg.ExecutorEnv
	if env == nil {
		env = os.Environ()
	}
	// Crashes of the interpreter say what happened in one line; the
	// goroutine dumps of yaegi's internals would bury it. GANTRY_TRACEBACK
	// brings them back for debugging Gantry itself.
	tb := os.Getenv("GANTRY_TRACEBACK")
	if tb == "" {
		tb = "none"
	}
	env = append(env[:len(env):len(env)], "GOTRACEBACK="+tb)
	p, err := startProc(ctx, k.cfg.Executable, env, k)
	k.execMu.Lock()
	defer k.execMu.Unlock()
	if err != nil {
		k.log.Printf("%v", err)
		k.exec = nil
		return
	}
	k.exec = p
	go k.watch(ctx, p)
	go k.pump(ctx, p)
}

// pump handles every frame an executor sends, whether or not a request is
// running (a goroutine may display, a comm may answer between cells), and
// passes replies on to the request waiting for them.
func (k *Kernel) pump(ctx context.Context, p *proc) {
	defer close(p.replies)
	for f := range p.frames {
		if f.Kind == frame.KindReply {
			p.replies <- f
			continue
		}
		k.fromExecutor(ctx, p, f)
	}
}

// replaceExecutor starts a new executor if old is still the current one;
// it returns at once if another caller already replaced it.
func (k *Kernel) replaceExecutor(ctx context.Context, old *proc) {
	k.execMu.Lock()
	current := k.exec == old
	k.execMu.Unlock()
	if current {
		k.startExecutor(ctx)
	}
}

// watch reports an executor that ends while no request runs (a goroutine
// a cell started panicked after the cell finished, say) and replaces it,
// so the next cell is not blamed and finds a fresh interpreter.
func (k *Kernel) watch(ctx context.Context, p *proc) {
	select {
	case <-p.dead:
	case <-ctx.Done():
		return
	}
	k.runMu.Lock()
	busy := k.running != nil
	k.runMu.Unlock()
	k.execMu.Lock()
	current := k.exec == p
	k.execMu.Unlock()
	if busy || !current || ctx.Err() != nil {
		return // the request in flight reports it, or it was replaced on purpose
	}
	if parent := k.currentParent(); parent != nil {
		k.publish("stream", parent, map[string]any{"name": "stderr",
			"text": "\n[gantry] The interpreter ended after the cell finished: " + p.crashReason(k.cfg.MemLimit) +
				". Interpreter state was reset: re-run the cells you need.\n"})
	}
	k.replaceExecutor(ctx, p)
}

func (k *Kernel) stopExecutor() {
	k.execMu.Lock()
	p := k.exec
	k.execMu.Unlock()
	if p == nil {
		return
	}
	_ = p.send(&frame.Frame{Kind: frame.KindShutdown})
	select {
	case <-p.dead:
	case <-time.After(2 * time.Second):
		p.kill()
	}
}

// executor returns a ready executor, starting one if the last has gone.
func (k *Kernel) executor(ctx context.Context) (*proc, error) {
	k.execMu.Lock()
	p := k.exec
	k.execMu.Unlock()
	if p == nil || !p.alive() {
		if p == nil {
			k.startExecutor(ctx)
		} else {
			k.replaceExecutor(ctx, p)
		}
		k.execMu.Lock()
		p = k.exec
		k.execMu.Unlock()
		if p == nil {
			return nil, fmt.Errorf("start executor %s: %w", k.cfg.Executable, errExecutorGone)
		}
	}
	select {
	case <-p.ready:
		return p, nil
	case <-p.dead:
		return nil, fmt.Errorf("the executor ended while starting: %s", p.crashReason(k.cfg.MemLimit))
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, errors.New("the executor did not start within 60s")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
