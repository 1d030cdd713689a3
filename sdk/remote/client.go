package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrClosed means the connection to the server is gone; the caller
// reconnects and asks again.
var ErrClosed = errors.New("remote connection closed")

// A Client sends requests to a Server; it is safe for concurrent use, and
// its requests are answered concurrently.
type Client struct {
	w   io.Writer
	wmu sync.Mutex

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan *Response
	err     error
	done    chan struct{}
}

// NewClient returns a client that writes requests to w and reads
// responses from r, until r ends.
func NewClient(r io.Reader, w io.Writer) *Client {
	c := &Client{w: w, pending: map[uint64]chan *Response{}, done: make(chan struct{})}
	go c.readLoop(r)
	return c
}

func (c *Client) readLoop(r io.Reader) {
	var err error
	for {
		var resp Response
		if err = readFrame(r, &resp); err != nil {
			break
		}
		c.mu.Lock()
		ch := c.pending[resp.ID]
		delete(c.pending, resp.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- &resp
		}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrClosed, err)
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.done)
}

// Done is closed when the connection is gone.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection is gone, or nil while it is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Call sends req and waits for its response. A response with Err set
// becomes an error.
func (c *Client) Call(ctx context.Context, req Request) (*Response, error) {
	ch := make(chan *Response, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.next++
	req.ID = c.next
	c.pending[req.ID] = ch
	c.mu.Unlock()
	c.wmu.Lock()
	n, err := writeFrame(c.w, &req)
	c.wmu.Unlock()
	if sent := sentCounter(ctx); sent != nil {
		sent.Add(int64(n))
	}
	if err != nil {
		c.mu.Lock()
		delete(c.pending, req.ID)
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: send %s: %v", ErrClosed, req.Op, err)
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, c.Err()
		}
		if resp.Err != "" {
			return resp, errors.New(resp.Err)
		}
		return resp, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, req.ID)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// PutBlob sends the blob hash, read from r, in chunks; it returns the
// bytes sent.
func (c *Client) PutBlob(ctx context.Context, hash string, r io.Reader) (int64, error) {
	buf := make([]byte, ChunkSize)
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		last := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !last {
			return off, fmt.Errorf("read blob %s: %w", hash, err)
		}
		if _, err := c.Call(ctx, Request{Op: OpPut, Hash: hash, Offset: off, Data: buf[:n], Last: last}); err != nil {
			return off, fmt.Errorf("send blob %s: %w", hash, err)
		}
		off += int64(n)
		if last {
			return off, nil
		}
	}
}
