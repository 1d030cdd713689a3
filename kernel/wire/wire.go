// Package wire implements the Jupyter messaging protocol's wire format:
// connection files, message headers, multipart framing and HMAC signing.
//
// It knows nothing about sockets or about what messages mean; package
// kernel does the dispatch. Every function here takes untrusted input and
// returns an error for anything malformed: nothing a peer sends can panic.
package wire

import (
	"container/list"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ProtocolVersion is the messaging spec version Gantry speaks.
const ProtocolVersion = "5.4"

// Delimiter separates routing identities from the signed message frames.
const Delimiter = "<IDS|MSG>"

// ConnectionInfo is the content of a Jupyter connection file.
type ConnectionInfo struct {
	Transport       string `json:"transport"`
	IP              string `json:"ip"`
	ShellPort       int    `json:"shell_port"`
	ControlPort     int    `json:"control_port"`
	IOPubPort       int    `json:"iopub_port"`
	StdinPort       int    `json:"stdin_port"`
	HBPort          int    `json:"hb_port"`
	Key             string `json:"key"`
	SignatureScheme string `json:"signature_scheme"`
	KernelName      string `json:"kernel_name,omitempty"`
}

// ReadConnectionFile reads and checks a connection file.
func ReadConnectionFile(path string) (*ConnectionInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read connection file: %w", err)
	}
	var ci ConnectionInfo
	if err := json.Unmarshal(b, &ci); err != nil {
		return nil, fmt.Errorf("parse connection file %s: %w", path, err)
	}
	if ci.Transport == "" {
		ci.Transport = "tcp"
	}
	if ci.Transport != "tcp" && ci.Transport != "ipc" {
		return nil, fmt.Errorf("connection file %s: transport %q is not supported: use tcp or ipc", path, ci.Transport)
	}
	if ci.IP == "" {
		return nil, fmt.Errorf("connection file %s: ip is empty", path)
	}
	if ci.SignatureScheme == "" {
		ci.SignatureScheme = "hmac-sha256"
	}
	if ci.Key != "" && ci.SignatureScheme != "hmac-sha256" {
		return nil, fmt.Errorf("connection file %s: signature scheme %q is not supported: use hmac-sha256", path, ci.SignatureScheme)
	}
	return &ci, nil
}

// Endpoint returns the ZeroMQ endpoint for a port of the connection: for
// tcp "tcp://IP:PORT", for ipc "ipc://IP-PORT" as Jupyter names the files.
func (ci *ConnectionInfo) Endpoint(port int) string {
	if ci.Transport == "ipc" {
		return fmt.Sprintf("ipc://%s-%d", ci.IP, port)
	}
	return fmt.Sprintf("tcp://%s:%d", ci.IP, port)
}

// Header is a message header.
type Header struct {
	MsgID    string `json:"msg_id"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// Message is a decoded Jupyter message.
type Message struct {
	Identities [][]byte
	Header     Header
	Parent     json.RawMessage // the parent header as received or to send ({} when none)
	Metadata   json.RawMessage
	Content    json.RawMessage
	Buffers    [][]byte

	Received time.Time // when the kernel read it off the socket (zero for messages it sends)
}

// ParentHeader decodes the parent header; an empty or absent parent gives
// a zero Header.
func (m *Message) ParentHeader() Header {
	var h Header
	_ = json.Unmarshal(m.Parent, &h)
	return h
}

// Signer signs and verifies messages with the connection key. An empty key
// disables signing, as the spec says. It also rejects a signature it has
// already accepted, so a captured message cannot be replayed.
type Signer struct {
	key []byte
	mu  sync.Mutex
	h   hash.Hash
	// seen holds recent accepted signatures, oldest first, bounded.
	seen    map[string]*list.Element
	order   *list.List
	maxSeen int
}

// NewSigner returns a Signer for key.
func NewSigner(key string) *Signer {
	s := &Signer{key: []byte(key), seen: map[string]*list.Element{}, order: list.New(), maxSeen: 1 << 16}
	if key != "" {
		s.h = hmac.New(sha256.New, s.key)
	}
	return s
}

// Sign returns the hex signature of the four signed frames.
func (s *Signer) Sign(frames ...[]byte) []byte {
	if s.h == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signLocked(frames)
}

func (s *Signer) signLocked(frames [][]byte) []byte {
	s.h.Reset()
	for _, f := range frames {
		s.h.Write(f)
	}
	sum := s.h.Sum(nil)
	out := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(out, sum)
	return out
}

// Errors from Decode.
var (
	ErrNoDelimiter  = errors.New("no <IDS|MSG> delimiter")
	ErrShort        = errors.New("fewer than 5 frames after the delimiter")
	ErrBadSignature = errors.New("signature does not match the connection key")
	ErrReplayed     = errors.New("signature already seen (replayed message)")
)

// Decode splits multipart frames into a Message after checking the
// signature in constant time.
func (s *Signer) Decode(frames [][]byte) (*Message, error) {
	i := 0
	for ; i < len(frames); i++ {
		if string(frames[i]) == Delimiter {
			break
		}
	}
	if i == len(frames) {
		return nil, ErrNoDelimiter
	}
	rest := frames[i+1:]
	if len(rest) < 5 {
		return nil, ErrShort
	}
	sig, signed := rest[0], rest[1:5]
	if s.h != nil {
		s.mu.Lock()
		want := s.signLocked(signed)
		ok := hmac.Equal(want, sig)
		replay := false
		if ok {
			key := string(sig)
			if _, dup := s.seen[key]; dup {
				replay = true
			} else {
				s.seen[key] = s.order.PushBack(key)
				if s.order.Len() > s.maxSeen {
					old := s.order.Remove(s.order.Front()).(string)
					delete(s.seen, old)
				}
			}
		}
		s.mu.Unlock()
		if !ok {
			return nil, ErrBadSignature
		}
		if replay {
			return nil, ErrReplayed
		}
	}
	m := &Message{
		Identities: frames[:i],
		Parent:     json.RawMessage(signed[1]),
		Metadata:   json.RawMessage(signed[2]),
		Content:    json.RawMessage(signed[3]),
		Buffers:    rest[5:],
	}
	if err := json.Unmarshal(signed[0], &m.Header); err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	if m.Header.MsgType == "" {
		return nil, errors.New("header has no msg_type")
	}
	if !json.Valid(m.Content) {
		return nil, errors.New("content is not valid JSON")
	}
	return m, nil
}

// Encode builds the multipart frames of a message, signed.
func (s *Signer) Encode(m *Message) ([][]byte, error) {
	header, err := json.Marshal(m.Header)
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	parent := orEmpty(m.Parent)
	meta := orEmpty(m.Metadata)
	content := orEmpty(m.Content)
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	frames = append(frames, []byte(Delimiter), s.Sign(header, parent, meta, content), header, parent, meta, content)
	frames = append(frames, m.Buffers...)
	return frames, nil
}

func orEmpty(b json.RawMessage) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

// NewHeader returns a header for a new message of type msgType.
func NewHeader(msgType, session, username string) Header {
	return Header{
		MsgID:    uuid.NewString(),
		Session:  session,
		Username: username,
		Date:     time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		MsgType:  msgType,
		Version:  ProtocolVersion,
	}
}
