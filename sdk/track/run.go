package track

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// FlushInterval is how often a Run writes what it has buffered.
const FlushInterval = 200 * time.Millisecond

// flushBytes is how much a Run buffers before it writes at once, whatever
// the time.
const flushBytes = 256 << 10

// ErrClosed is returned by the methods of a closed Run.
var ErrClosed = errors.New("run closed")

// pngSignature starts every PNG file.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// A Run writes the records of one run to its track file. Records are
// buffered and written, whole lines at a time, every FlushInterval, when
// the buffer grows large, on Flush and on Close; close a Run when done, or
// the last records are lost. A Run is safe for concurrent use.
//
// The methods that log check their arguments (names must be non-empty valid
// UTF-8, values finite) and return the first error writing met, after which
// nothing more is written.
type Run struct {
	runID, experiment string
	runDir, outDir    string
	trackPath         string
	now               func() time.Time

	mu     sync.Mutex // guards buf, err, closed
	buf    []byte
	err    error // the first write error
	closed bool

	wmu   sync.Mutex // serialises writes to f, and the buffer swaps before them
	f     *os.File
	spare []byte // the buffer last written, reused; guarded by wmu

	stop chan struct{}
	done chan struct{}
}

// FromEnv returns the Run that the Gantry agent described in the
// environment (see Environ). It fails with an error wrapping ErrNotGantry
// when the program was not started by Gantry. It creates the track file and
// the outputs directory if they do not exist.
func FromEnv() (*Run, error) {
	track := os.Getenv(EnvTrackFile)
	if track == "" {
		return nil, fmt.Errorf("track: %w: %s is not set", ErrNotGantry, EnvTrackFile)
	}
	runDir := os.Getenv(EnvRunDir)
	if runDir == "" {
		runDir = filepath.Dir(track)
	}
	outDir := os.Getenv(EnvOutputsDir)
	if outDir == "" {
		outDir = filepath.Join(runDir, OutputsDirName)
	}
	return open(os.Getenv(EnvRunID), os.Getenv(EnvExperiment), runDir, outDir, track)
}

// Local returns a Run that writes to the run directory dir, which it
// creates if need be: records to dir/track.jsonl and images to dir/outputs.
// Its RunID and Experiment are empty. It serves tests, and programs run
// outside Gantry.
func Local(dir string) (*Run, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("track: %w", err)
	}
	return open("", "", dir, filepath.Join(dir, OutputsDirName), filepath.Join(dir, TrackFileName))
}

func open(runID, experiment, runDir, outDir, track string) (*Run, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("track: outputs directory: %w", err)
	}
	f, err := os.OpenFile(track, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("track: %w", err)
	}
	r := &Run{
		runID:      runID,
		experiment: experiment,
		runDir:     runDir,
		outDir:     outDir,
		trackPath:  track,
		now:        time.Now,
		f:          f,
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	go r.flushLoop()
	return r, nil
}

// RunID returns the run's ID; it is empty for a Local run.
func (r *Run) RunID() string { return r.runID }

// Experiment returns the name of the run's experiment; it is empty for a
// Local run.
func (r *Run) Experiment() string { return r.experiment }

// OutputsDir returns the directory whose files are kept with the run.
func (r *Run) OutputsDir() string { return r.outDir }

// TrackFile returns the path of the track file.
func (r *Run) TrackFile() string { return r.trackPath }

// Log logs value as the metric name, at the given step if there is one.
// Steps are non-negative; without one, the reader numbers the values of a
// name 0, 1, 2, ...
func (r *Run) Log(name string, value float64, step ...int) error {
	if err := checkName("metric name", name); err != nil {
		return fmt.Errorf("track: log: %w", err)
	}
	if err := checkValue(name, value); err != nil {
		return fmt.Errorf("track: log: %w", err)
	}
	if len(step) > 1 {
		return fmt.Errorf("track: log %q: %d steps given, want at most 1", name, len(step))
	}
	if len(step) == 1 && step[0] < 0 {
		return fmt.Errorf("track: log %q: negative step %d", name, step[0])
	}
	t := r.now()
	return r.add(func(b []byte) []byte {
		b = appendHead(b, KindMetric, name)
		b = append(b, `,"value":`...)
		b = appendFloat(b, value)
		if len(step) == 1 {
			b = append(b, `,"step":`...)
			b = strconv.AppendInt(b, int64(step[0]), 10)
		}
		return appendTail(b, t)
	})
}

// LogList logs values, which may be empty, as the series name in one
// record.
func (r *Run) LogList(name string, values []float64) error {
	if err := checkName("list name", name); err != nil {
		return fmt.Errorf("track: log list: %w", err)
	}
	for i, v := range values {
		if err := checkValue(name, v); err != nil {
			return fmt.Errorf("track: log list: values[%d]: %w", i, err)
		}
	}
	t := r.now()
	return r.add(func(b []byte) []byte {
		b = appendHead(b, KindList, name)
		b = append(b, `,"values":[`...)
		for i, v := range values {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, v)
		}
		b = append(b, ']')
		return appendTail(b, t)
	})
}

// LogRow logs one row of the table name: a value for each of at least one
// column.
func (r *Run) LogRow(name string, values map[string]float64) error {
	if err := checkName("row name", name); err != nil {
		return fmt.Errorf("track: log row: %w", err)
	}
	if len(values) == 0 {
		return fmt.Errorf("track: log row %q: no columns", name)
	}
	cols := make([]string, 0, len(values))
	for c, v := range values {
		if err := checkName("column name", c); err != nil {
			return fmt.Errorf("track: log row %q: %w", name, err)
		}
		if err := checkValue(c, v); err != nil {
			return fmt.Errorf("track: log row %q: column %w", name, err)
		}
		cols = append(cols, c)
	}
	slices.Sort(cols)
	t := r.now()
	return r.add(func(b []byte) []byte {
		b = appendHead(b, KindRow, name)
		b = append(b, `,"values":{`...)
		for i, c := range cols {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c)
			b = append(b, ':')
			b = appendFloat(b, values[c])
		}
		b = append(b, '}')
		return appendTail(b, t)
	})
}

// LogImage saves png, the bytes of a PNG file, in the outputs directory
// under a file name made from name (plot.png, then plot-1.png, ... if that
// is taken) and logs it as the image name.
func (r *Run) LogImage(name string, png []byte) error {
	if err := checkName("image name", name); err != nil {
		return fmt.Errorf("track: log image: %w", err)
	}
	if !bytes.HasPrefix(png, pngSignature) {
		return fmt.Errorf("track: log image %q: not a PNG file", name)
	}
	if err := r.usable(); err != nil {
		return fmt.Errorf("track: log image %q: %w", name, err)
	}
	path, err := writeNew(r.outDir, fileStem(name), ".png", png)
	if err != nil {
		return fmt.Errorf("track: log image %q: %w", name, err)
	}
	rel := recordPath(r.runDir, path)
	t := r.now()
	return r.add(func(b []byte) []byte {
		b = appendHead(b, KindImage, name)
		b = append(b, `,"path":`...)
		b = appendString(b, rel)
		return appendTail(b, t)
	})
}

// Tag sets the run's tag key to value.
func (r *Run) Tag(key, value string) error {
	if err := checkName("tag key", key); err != nil {
		return fmt.Errorf("track: tag: %w", err)
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("track: tag %q: value %q is not valid UTF-8", key, value)
	}
	t := r.now()
	return r.add(func(b []byte) []byte {
		b = append(b, `{"k":"tag","key":`...)
		b = appendString(b, key)
		b = append(b, `,"value":`...)
		b = appendString(b, value)
		return appendTail(b, t)
	})
}

// add appends the record that enc appends to the buffer, and writes the
// buffer if it has grown large.
func (r *Run) add(enc func([]byte) []byte) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return fmt.Errorf("track: %w", ErrClosed)
	}
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return err
	}
	r.buf = enc(r.buf)
	full := len(r.buf) >= flushBytes
	r.mu.Unlock()
	if full {
		return r.flush()
	}
	return nil
}

// usable returns the error that add would return before it adds.
func (r *Run) usable() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	return r.err
}

// Flush writes the records buffered so far to the track file.
func (r *Run) Flush() error {
	if err := r.usable(); errors.Is(err, ErrClosed) {
		return fmt.Errorf("track: flush: %w", err)
	}
	return r.flush()
}

// flush writes the buffer. Swapping the buffer and writing it both happen
// under wmu, so records reach the file in the order they were added.
func (r *Run) flush() error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return err
	}
	buf := r.buf
	r.buf = r.spare[:0]
	r.mu.Unlock()
	r.spare = nil
	if len(buf) == 0 {
		r.spare = buf
		return nil
	}
	// One write of whole lines: O_APPEND puts it at the end of the file
	// even when other processes append too.
	_, err := r.f.Write(buf)
	if cap(buf) <= 4*flushBytes {
		r.spare = buf[:0]
	}
	if err != nil {
		err = fmt.Errorf("track: write %s: %w", r.trackPath, err)
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return err
}

func (r *Run) flushLoop() {
	defer close(r.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.flush() // an error is kept, and returned by the next call
		}
	}
}

// Close writes what is buffered and closes the track file. Closing a
// closed Run does nothing.
func (r *Run) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.done
	err := r.flush()
	if cerr := r.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("track: close %s: %w", r.trackPath, cerr)
	}
	return err
}

// fileStem makes a file name, without extension, from an image name.
func fileStem(name string) string {
	var b strings.Builder
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if s == "" {
		s = "image"
	}
	return s
}

// writeNew writes data to a new file in dir named stem+ext, or
// stem-1+ext, stem-2+ext, ... when that exists, and returns its path.
func writeNew(dir, stem, ext string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for i := 0; i < 100000; i++ {
		name := stem + ext
		if i > 0 {
			name = stem + "-" + strconv.Itoa(i) + ext
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return "", err
		}
		return path, nil
	}
	return "", fmt.Errorf("no free file name for %s%s in %s", stem, ext, dir)
}

// recordPath returns path as a record names it: relative to runDir, with
// forward slashes, if it lies inside it, else absolute.
func recordPath(runDir, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if d, err := filepath.Abs(runDir); err == nil {
		if rel, err := filepath.Rel(d, abs); err == nil && filepath.IsLocal(rel) {
			return filepath.ToSlash(rel)
		}
	}
	return abs
}
