package nbrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/google/uuid"

	"gantry/kernel/wire"
)

// Kernel is a kernel process this program started and the client side of
// its sockets: shell and control (DEALER) and iopub (SUB). Every message
// is signed with the connection's key and every message received is
// checked against it.
type Kernel struct {
	spec    *Spec
	cmd     *exec.Cmd
	dir     string // the connection file's directory, removed at Close
	conn    wire.ConnectionInfo
	signer  *wire.Signer
	session string

	cancel           context.CancelFunc
	shell, control   zmq4.Socket
	iopub            zmq4.Socket
	shellIn, iopubIn chan *wire.Message
	controlIn        chan *wire.Message

	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	exited    chan struct{} // closed when the process has exited
	exitErr   error         // how, once exited is closed
	output    *tail         // the kernel's own stdout and stderr, last bytes

	ready bool       // it answered: it can be asked to shut down
	Info  KernelInfo // from kernel_info_reply
}

// KernelInfo is what a kernel says of itself.
type KernelInfo struct {
	Implementation string `json:"implementation"`
	LanguageInfo   struct {
		Name          string `json:"name"`
		FileExtension string `json:"file_extension"`
	} `json:"language_info"`
}

// Start launches spec's kernel in dir with env (nil: this process's) and
// waits, within ctx, until it answers on shell and publishes on iopub.
func Start(ctx context.Context, spec *Spec, dir string, env []string) (*Kernel, error) {
	var last error
	// The ports are picked free, then bound by the kernel: another
	// process may take one meanwhile, so a kernel that exits at once is
	// tried again with new ports.
	for try := 0; try < 3; try++ {
		k, err := start(ctx, spec, dir, env)
		if err == nil {
			return k, nil
		}
		last = err
		if !errors.Is(err, errExitedEarly) || !strings.Contains(strings.ToLower(err.Error()), "in use") || ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

var errExitedEarly = errors.New("exited while starting")

func start(ctx context.Context, spec *Spec, dir string, env []string) (*Kernel, error) {
	tmp, err := os.MkdirTemp("", "gantry-nbrun-")
	if err != nil {
		return nil, fmt.Errorf("start kernel %s: %w", spec.Name, err)
	}
	k := &Kernel{spec: spec, dir: tmp, session: uuid.NewString(), exited: make(chan struct{}), closed: make(chan struct{}),
		output:  &tail{max: 16 << 10},
		shellIn: make(chan *wire.Message, 16), iopubIn: make(chan *wire.Message, 256), controlIn: make(chan *wire.Message, 4)}
	ok := false
	defer func() {
		if !ok {
			k.Close()
		}
	}()
	ports, err := freePorts(5)
	if err != nil {
		return nil, fmt.Errorf("start kernel %s: %w", spec.Name, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	k.conn = wire.ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", ShellPort: ports[0], ControlPort: ports[1],
		IOPubPort: ports[2], StdinPort: ports[3], HBPort: ports[4], Key: hex.EncodeToString(key),
		SignatureScheme: "hmac-sha256", KernelName: spec.Name}
	k.signer = wire.NewSigner(k.conn.Key)
	connFile := filepath.Join(tmp, "kernel.json")
	b, _ := json.Marshal(k.conn)
	if err := os.WriteFile(connFile, b, 0o600); err != nil {
		return nil, fmt.Errorf("start kernel %s: %w", spec.Name, err)
	}
	argv := make([]string, len(spec.Argv))
	for i, a := range spec.Argv {
		a = strings.ReplaceAll(a, "{connection_file}", connFile)
		argv[i] = strings.ReplaceAll(a, "{resource_dir}", spec.Dir)
	}
	if env == nil {
		env = os.Environ()
	}
	env = append([]string(nil), env...)
	for name, v := range spec.Env {
		env = append(env, name+"="+v)
	}
	// Jupyter's launchers say who started the kernel; ipykernel and Gantry
	// end with that process.
	env = append(env, "JPY_PARENT_PID="+strconv.Itoa(os.Getpid()))
	k.cmd = exec.Command(argv[0], argv[1:]...)
	k.cmd.Dir, k.cmd.Env = dir, env
	k.cmd.Stdout, k.cmd.Stderr = k.output, k.output
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kernel %s (%s): %w", spec.Name, argv[0], err)
	}
	go func() {
		k.exitErr = k.cmd.Wait()
		close(k.exited)
	}()

	sctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	go func() {
		select {
		case <-k.exited:
			cancel() // stops dialing a kernel that is gone
		case <-sctx.Done():
		}
	}()
	opts := []zmq4.Option{zmq4.WithDialerRetry(50 * time.Millisecond), zmq4.WithDialerMaxRetries(-1),
		zmq4.WithTimeout(10 * time.Second)}
	k.shell = zmq4.NewDealer(sctx, append(opts, zmq4.WithID(zmq4.SocketIdentity(k.session)))...)
	k.control = zmq4.NewDealer(sctx, opts...)
	k.iopub = zmq4.NewSub(sctx, opts...)
	dialed := make(chan error, 1)
	go func() {
		for _, s := range []struct {
			s    zmq4.Socket
			port int
		}{{k.shell, k.conn.ShellPort}, {k.control, k.conn.ControlPort}, {k.iopub, k.conn.IOPubPort}} {
			if err := s.s.Dial(k.conn.Endpoint(s.port)); err != nil {
				dialed <- err
				return
			}
		}
		dialed <- k.iopub.SetOption(zmq4.OptionSubscribe, "")
	}()
	select {
	case err := <-dialed:
		if err != nil {
			return nil, k.died(fmt.Errorf("connect to kernel %s: %w", spec.Name, err))
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("kernel %s did not start: %w", spec.Name, ctx.Err())
	}
	go k.receive(k.shell, k.shellIn)
	go k.receive(k.control, k.controlIn)
	go k.receive(k.iopub, k.iopubIn)
	if err := k.waitReady(ctx); err != nil {
		return nil, err
	}
	ok = true
	return k, nil
}

// died is err, or, if the kernel has exited, what it said as it went.
func (k *Kernel) died(err error) error {
	select {
	case <-k.exited:
	case <-time.After(100 * time.Millisecond):
		return err
	}
	return fmt.Errorf("kernel %s %w (%v)%s", k.spec.Name, errExitedEarly, k.exitErr, k.lastWords())
}

// lastWords is the end of the kernel's own output, for an error.
func (k *Kernel) lastWords() string {
	out := strings.TrimSpace(k.output.String())
	if out == "" {
		return ""
	}
	return "; its last output:\n" + out
}

// receive decodes what s receives onto ch; messages that do not verify
// are dropped.
func (k *Kernel) receive(s zmq4.Socket, ch chan<- *wire.Message) {
	for {
		raw, err := s.Recv()
		if err != nil {
			select {
			case <-k.exited:
				return
			case <-k.closed:
				return
			case <-time.After(10 * time.Millisecond):
				continue
			}
		}
		m, err := k.signer.Decode(raw.Frames)
		if err != nil {
			continue
		}
		select {
		case ch <- m:
		case <-k.closed:
			return
		}
	}
}

// send signs and sends a request on s; it returns the request's ID.
func (k *Kernel) send(s zmq4.Socket, msgType string, content any) (string, error) {
	c, err := json.Marshal(content)
	if err != nil {
		return "", err
	}
	m := &wire.Message{Header: wire.NewHeader(msgType, k.session, "gantry-nbrun"), Content: c}
	frames, err := k.signer.Encode(m)
	if err != nil {
		return "", err
	}
	if err := s.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		return "", fmt.Errorf("send %s to kernel %s: %w", msgType, k.spec.Name, err)
	}
	return m.Header.MsgID, nil
}

// waitReady asks for kernel info until the kernel replies and one of its
// iopub messages arrives, which also tells that the subscription is in
// place (a SUB socket misses what is published before).
func (k *Kernel) waitReady(ctx context.Context) error {
	asked := map[string]bool{}
	replied, published := false, false
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	ask := func() error {
		id, err := k.send(k.shell, "kernel_info_request", map[string]any{})
		asked[id] = true
		return err
	}
	if err := ask(); err != nil {
		return k.died(err)
	}
	defer func() { k.ready = replied }()
	for !replied || !published {
		select {
		case m := <-k.shellIn:
			if asked[m.ParentHeader().MsgID] && m.Header.MsgType == "kernel_info_reply" {
				replied = true
				_ = json.Unmarshal(m.Content, &k.Info)
			}
		case m := <-k.iopubIn:
			if asked[m.ParentHeader().MsgID] {
				published = true
			}
		case <-tick.C:
			if !published {
				if err := ask(); err != nil {
					return k.died(err)
				}
			}
		case <-k.exited:
			return k.died(errors.New("the kernel exited"))
		case <-ctx.Done():
			return fmt.Errorf("kernel %s did not answer: %w%s", k.spec.Name, ctx.Err(), k.lastWords())
		}
	}
	return nil
}

// Reply is an execute_reply.
type Reply struct {
	Status         string   `json:"status"` // ok, error or aborted
	ExecutionCount int      `json:"execution_count"`
	EName          string   `json:"ename"`
	EValue         string   `json:"evalue"`
	Traceback      []string `json:"traceback"`
}

// Execute runs code and calls on with each iopub message it causes, in
// order, until the kernel is idle again and has replied. When ctx ends
// first, the kernel is interrupted and Execute returns ctx's error once
// the kernel has replied (or after a grace of 10 s).
func (k *Kernel) Execute(ctx context.Context, code string, on func(*wire.Message)) (*Reply, error) {
	id, err := k.send(k.shell, "execute_request", map[string]any{"code": code, "silent": false,
		"store_history": true, "user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true})
	if err != nil {
		return nil, err
	}
	var reply *Reply
	idle := false
	done := ctx.Done()
	var grace <-chan time.Time
	var stopped error
	for reply == nil || !idle {
		select {
		case m := <-k.iopubIn:
			if m.ParentHeader().MsgID != id {
				continue
			}
			if m.Header.MsgType == "status" {
				var st struct {
					State string `json:"execution_state"`
				}
				_ = json.Unmarshal(m.Content, &st)
				idle = idle || st.State == "idle"
				continue
			}
			on(m)
		case m := <-k.shellIn:
			if m.ParentHeader().MsgID == id && m.Header.MsgType == "execute_reply" {
				reply = &Reply{}
				if err := json.Unmarshal(m.Content, reply); err != nil {
					return nil, fmt.Errorf("kernel %s: bad execute_reply: %w", k.spec.Name, err)
				}
			}
		case <-k.exited:
			return nil, fmt.Errorf("the kernel %s died (%v) while it ran the cell%s", k.spec.Name, k.exitErr, k.lastWords())
		case <-done:
			stopped, done = ctx.Err(), nil
			k.Interrupt()
			grace = time.After(10 * time.Second)
		case <-grace:
			return reply, stopped
		}
	}
	return reply, stopped
}

// Interrupt interrupts the running cell, as the kernelspec says: a
// message on control, or SIGINT.
func (k *Kernel) Interrupt() {
	if k.spec.InterruptMode == "message" {
		_, _ = k.send(k.control, "interrupt_request", map[string]any{})
		return
	}
	_ = k.cmd.Process.Signal(syscall.SIGINT)
}

// Close shuts the kernel down (shutdown_request, then SIGTERM and SIGKILL
// for one that does not go) and removes its connection file.
func (k *Kernel) Close() error {
	var err error
	k.closeOnce.Do(func() { err = k.close() })
	return err
}

func (k *Kernel) close() error {
	if k.cmd != nil && k.cmd.Process != nil {
		select {
		case <-k.exited:
		default:
			// A kernel that answered is asked to shut down and given 5 s;
			// then SIGTERM, and SIGKILL 3 s later.
			first := time.Duration(0)
			if k.ready {
				_, _ = k.send(k.control, "shutdown_request", map[string]any{"restart": false})
				first = 5 * time.Second
			}
			for _, step := range []struct {
				wait time.Duration
				sig  syscall.Signal
			}{{first, syscall.SIGTERM}, {3 * time.Second, syscall.SIGKILL}} {
				select {
				case <-k.exited:
				case <-time.After(step.wait):
					_ = k.cmd.Process.Signal(step.sig)
					continue
				}
				break
			}
			<-k.exited
		}
	}
	close(k.closed)
	if k.cancel != nil {
		k.cancel()
	}
	for _, s := range []zmq4.Socket{k.shell, k.control, k.iopub} {
		if s != nil {
			s.Close()
		}
	}
	return os.RemoveAll(k.dir)
}

// freePorts returns n TCP ports on 127.0.0.1 free at the moment.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var _ io.Writer = (*tail)(nil)
