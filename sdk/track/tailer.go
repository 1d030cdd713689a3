package track

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
)

// Limits of a Tailer.
const (
	// MaxLineBytes is the longest line a Tailer parses. A longer line is
	// returned as one invalid record, its text cut to MaxRawBytes, and
	// the rest of it is skipped.
	MaxLineBytes = 64 << 20
	// BatchBytes is about how much of the file one call of Next reads:
	// it stops at the first chunk that takes it past BatchBytes.
	BatchBytes = 4 << 20
)

// readChunk is how much a Tailer asks the file for at a time.
const readChunk = 256 << 10

// A Tailer reads the records appended to a track file. It reads whole lines
// only: a last line without its newline is left for a later call, when the
// writer has finished it. A Tailer is not safe for concurrent use.
type Tailer struct {
	path   string
	offset int64    // where the first line not yet returned starts
	f      *os.File // nil until the file exists
	pend   []byte   // the bytes read from offset on: a line not yet complete
	skip   bool     // the line at offset is too long and is being skipped

	maxLine int // MaxLineBytes, but for tests
	parser  lineParser
}

// NewTailer returns a Tailer that reads the track file at path from the
// byte offset offset: 0 for a new run, or the offset that Next last
// returned, saved, to resume after a restart.
func NewTailer(path string, offset int64) *Tailer {
	return &Tailer{path: path, offset: offset, maxLine: MaxLineBytes}
}

// Offset returns the offset just past the last line returned.
func (t *Tailer) Offset() int64 { return t.offset }

// Next returns the records of the complete lines written since the last
// call, at most about BatchBytes of them (more when a single line is
// longer), and the offset just past the last
// of those lines. It does not wait for more: poll it, and call it again at
// once while it returns records. A line that is not a valid record comes
// back as a record of kind KindInvalid; blank lines are skipped. A file
// that does not exist yet has no records.
//
// When ctx is done, or reading fails, Next returns the records it has read
// so far with their offset, and the error.
func (t *Tailer) Next(ctx context.Context) ([]Record, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, t.offset, err
	}
	if t.f == nil {
		f, err := os.Open(t.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, t.offset, nil
		}
		if err != nil {
			return nil, t.offset, fmt.Errorf("track: tail: %w", err)
		}
		t.f = f
	}
	fi, err := t.f.Stat()
	if err != nil {
		return nil, t.offset, fmt.Errorf("track: tail: %w", err)
	}
	end := t.offset + int64(len(t.pend))
	if fi.Size() < end {
		return nil, t.offset, fmt.Errorf("track: tail %s: the file shrank to %d bytes, below offset %d", t.path, fi.Size(), end)
	}
	// Room for the records of a batch of short lines, so that appending
	// rarely copies them.
	var recs []Record
	if avail := min(fi.Size()-end, BatchBytes); avail > 0 {
		recs = make([]Record, 0, avail/48+1)
	}
	for read := 0; read < BatchBytes || len(recs) == 0; {
		if err := ctx.Err(); err != nil {
			return recs, t.offset, err
		}
		if cap(t.pend)-len(t.pend) < readChunk {
			t.pend = append(t.pend, make([]byte, readChunk)...)[:len(t.pend)]
		}
		n, err := t.f.ReadAt(t.pend[len(t.pend):cap(t.pend)], t.offset+int64(len(t.pend)))
		t.pend = t.pend[:len(t.pend)+n]
		read += n
		recs = t.lines(recs)
		if err == io.EOF || n == 0 {
			break
		}
		if err != nil {
			return recs, t.offset, fmt.Errorf("track: tail %s: %w", t.path, err)
		}
	}
	if cap(t.pend) > 4*readChunk && len(t.pend) < readChunk {
		t.pend = append([]byte(nil), t.pend...) // let a long line's buffer go
	}
	return recs, t.offset, nil
}

// lines appends the records of the complete lines in t.pend to recs, and
// moves t.offset past them.
func (t *Tailer) lines(recs []Record) []Record {
	p := t.pend
	recs = slices.Grow(recs, bytes.Count(p, []byte{'\n'}))
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		line := p[:i]
		if t.skip {
			t.skip = false
		} else if !isBlank(line) {
			recs = append(recs, t.parser.parse(bytes.TrimSuffix(line, []byte{'\r'}), t.offset))
		}
		p = p[i+1:]
		t.offset += int64(i + 1)
	}
	if len(p) > t.maxLine {
		if !t.skip {
			recs = append(recs, Record{
				Kind:   KindInvalid,
				Offset: t.offset,
				Raw:    string(p[:min(len(p), MaxRawBytes)]),
				Err:    "line longer than " + strconv.Itoa(t.maxLine) + " bytes",
			})
			t.skip = true
		}
		t.offset += int64(len(p))
		p = p[len(p):]
	}
	t.pend = append(t.pend[:0], p...)
	return recs
}

// Close closes the file. The Tailer may be used again: it reopens it.
func (t *Tailer) Close() error {
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	t.pend = t.pend[:0]
	t.skip = false
	if err != nil {
		return fmt.Errorf("track: tail: %w", err)
	}
	return nil
}

// A StepAssigner numbers the records that come without a step. Each name
// counts on its own from 0: metrics and lists share one count per name
// (a list takes one step per value, its first value at its Step), rows
// have their own, and so do images. A record with a step keeps it and
// moves its name's count past it, so steps given and steps assigned never
// go back. Use one StepAssigner for all the records of a run, across calls
// of Tailer.Next. The zero value is ready to use.
type StepAssigner struct {
	next map[stepKey]int
}

type stepKey struct {
	kind string // KindMetric (for lists too), KindRow or KindImage
	name string
}

// counted returns the key under which r is counted, and how many steps it
// takes; ok is false for records without steps (tags, invalid lines).
func counted(r *Record) (k stepKey, n int, ok bool) {
	switch r.Kind {
	case KindMetric:
		return stepKey{KindMetric, r.Name}, 1, true
	case KindList:
		return stepKey{KindMetric, r.Name}, len(r.Values), true
	case KindRow, KindImage:
		return stepKey{r.Kind, r.Name}, 1, true
	}
	return stepKey{}, 0, false
}

// AssignSteps gives each record in recs that has no step the next step of
// its name, and sets HasStep.
func (a *StepAssigner) AssignSteps(recs []Record) {
	for i := range recs {
		r := &recs[i]
		k, n, ok := counted(r)
		if !ok {
			continue
		}
		if a.next == nil {
			a.next = make(map[stepKey]int)
		}
		next := a.next[k]
		if !r.HasStep {
			r.Step, r.HasStep = next, true
		}
		a.next[k] = max(next, r.Step+n)
	}
}

// SetNext sets the step the next record of kind (KindMetric or KindList,
// KindRow, KindImage) named name gets if it has none: the agent resuming a
// run gives it one past the last step it recorded.
func (a *StepAssigner) SetNext(kind, name string, step int) {
	if kind == KindList {
		kind = KindMetric
	}
	if a.next == nil {
		a.next = make(map[stepKey]int)
	}
	a.next[stepKey{kind, name}] = step
}
