package track

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// pngBytes is the smallest PNG-looking payload LogImage accepts.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), "rest of the image"...)

// readAll returns every record in the track file at path.
func readAll(t *testing.T, path string) []Record {
	t.Helper()
	tl := NewTailer(path, 0)
	defer tl.Close()
	var all []Record
	for {
		recs, _, err := tl.Next(context.Background())
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if len(recs) == 0 {
			return all
		}
		all = append(all, recs...)
	}
}

// strip clears the fields a test cannot predict.
func strip(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Time, r.Offset = time.Time{}, 0
		out[i] = r
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		log  func(*Run) error
		want []Record
	}{
		{"metric with step", func(r *Run) error { return r.Log("loss", 0.5, 3) },
			[]Record{{Kind: KindMetric, Name: "loss", Value: 0.5, Step: 3, HasStep: true}}},
		{"metric without step", func(r *Run) error { return r.Log("loss", -2) },
			[]Record{{Kind: KindMetric, Name: "loss", Value: -2}}},
		{"step zero is a step", func(r *Run) error { return r.Log("loss", 1, 0) },
			[]Record{{Kind: KindMetric, Name: "loss", Value: 1, Step: 0, HasStep: true}}},
		{"extreme values", func(r *Run) error {
			return errors.Join(r.Log("big", math.MaxFloat64), r.Log("tiny", 5e-324), r.Log("third", 1.0/3))
		}, []Record{
			{Kind: KindMetric, Name: "big", Value: math.MaxFloat64},
			{Kind: KindMetric, Name: "tiny", Value: 5e-324},
			{Kind: KindMetric, Name: "third", Value: 1.0 / 3},
		}},
		{"names that need escaping", func(r *Run) error {
			return errors.Join(r.Log("a\"b\\c\nd\te\x01", 1), r.Log("λ/ü 🚀", 2))
		}, []Record{
			{Kind: KindMetric, Name: "a\"b\\c\nd\te\x01", Value: 1},
			{Kind: KindMetric, Name: "λ/ü 🚀", Value: 2},
		}},
		{"list", func(r *Run) error { return r.LogList("acc", []float64{0.5, 0.75, 1}) },
			[]Record{{Kind: KindList, Name: "acc", Values: []float64{0.5, 0.75, 1}}}},
		{"empty list", func(r *Run) error { return r.LogList("acc", nil) },
			[]Record{{Kind: KindList, Name: "acc", Values: []float64{}}}},
		{"row", func(r *Run) error { return r.LogRow("table", map[string]float64{"b": 2, "a": 1.5, "c\"": -1}) },
			[]Record{{Kind: KindRow, Name: "table", Row: map[string]float64{"a": 1.5, "b": 2, "c\"": -1}}}},
		{"tag", func(r *Run) error { return r.Tag("lr", "0.01") },
			[]Record{{Kind: KindTag, Key: "lr", Val: "0.01"}}},
		{"tag with empty value", func(r *Run) error { return r.Tag("note", "") },
			[]Record{{Kind: KindTag, Key: "note", Val: ""}}},
		{"image", func(r *Run) error { return r.LogImage("plot", pngBytes) },
			[]Record{{Kind: KindImage, Name: "plot", Path: "outputs/plot.png"}}},
		{"image names do not collide", func(r *Run) error {
			return errors.Join(r.LogImage("plot", pngBytes), r.LogImage("plot", pngBytes), r.LogImage("a/../b c", pngBytes))
		}, []Record{
			{Kind: KindImage, Name: "plot", Path: "outputs/plot.png"},
			{Kind: KindImage, Name: "plot", Path: "outputs/plot-1.png"},
			{Kind: KindImage, Name: "a/../b c", Path: "outputs/a_.._b_c.png"},
		}},
		{"kinds keep their order", func(r *Run) error {
			return errors.Join(r.Tag("k", "v"), r.Log("m", 1), r.LogList("l", []float64{2}), r.Log("m", 3, 7))
		}, []Record{
			{Kind: KindTag, Key: "k", Val: "v"},
			{Kind: KindMetric, Name: "m", Value: 1},
			{Kind: KindList, Name: "l", Values: []float64{2}},
			{Kind: KindMetric, Name: "m", Value: 3, Step: 7, HasStep: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := Local(dir)
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now().Truncate(time.Microsecond)
			if err := tt.log(r); err != nil {
				t.Fatalf("log: %v", err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			after := time.Now()
			got := readAll(t, filepath.Join(dir, TrackFileName))
			for _, rec := range got {
				if rec.Time.Before(before) || rec.Time.After(after) {
					t.Errorf("record time %v not within [%v, %v]", rec.Time, before, after)
				}
				if rec.Kind == KindImage {
					data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rec.Path)))
					if err != nil || !bytes.Equal(data, pngBytes) {
						t.Errorf("image %s: %q, %v; want the PNG bytes logged", rec.Path, data, err)
					}
				}
			}
			if got := strip(got); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestLogRejects(t *testing.T) {
	tests := []struct {
		name string
		log  func(*Run) error
		want string // in the error
	}{
		{"NaN", func(r *Run) error { return r.Log("loss", math.NaN()) }, `"loss": value NaN is not a finite number`},
		{"+Inf", func(r *Run) error { return r.Log("loss", math.Inf(1), 2) }, `"loss": value +Inf`},
		{"-Inf", func(r *Run) error { return r.Log("loss", math.Inf(-1)) }, `value -Inf`},
		{"empty name", func(r *Run) error { return r.Log("", 1) }, "empty metric name"},
		{"invalid UTF-8", func(r *Run) error { return r.Log("a\xff", 1) }, "not valid UTF-8"},
		{"two steps", func(r *Run) error { return r.Log("loss", 1, 2, 3) }, "2 steps given"},
		{"negative step", func(r *Run) error { return r.Log("loss", 1, -1) }, "negative step -1"},
		{"NaN in a list", func(r *Run) error { return r.LogList("acc", []float64{1, 2, math.NaN()}) }, "values[2]"},
		{"empty list name", func(r *Run) error { return r.LogList("", []float64{1}) }, "empty list name"},
		{"row without columns", func(r *Run) error { return r.LogRow("t", nil) }, "no columns"},
		{"Inf in a row", func(r *Run) error { return r.LogRow("t", map[string]float64{"a": 1, "b": math.Inf(1)}) }, `column "b"`},
		{"empty column", func(r *Run) error { return r.LogRow("t", map[string]float64{"": 1}) }, "empty column name"},
		{"image not PNG", func(r *Run) error { return r.LogImage("plot", []byte("GIF89a")) }, "not a PNG file"},
		{"empty tag key", func(r *Run) error { return r.Tag("", "v") }, "empty tag key"},
		{"tag value not UTF-8", func(r *Run) error { return r.Tag("k", "\xfe") }, "not valid UTF-8"},
		{"after Close", func(r *Run) error { r.Close(); return r.Log("loss", 1) }, "run closed"},
		{"image after Close", func(r *Run) error { r.Close(); return r.LogImage("p", pngBytes) }, "run closed"},
		{"Flush after Close", func(r *Run) error { r.Close(); return r.Flush() }, "run closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := Local(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.log(r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(tt.want, "closed") && !errors.Is(err, ErrClosed) {
				t.Errorf("error %v is not ErrClosed", err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if recs := readAll(t, filepath.Join(dir, TrackFileName)); len(recs) != 0 {
				t.Errorf("rejected call wrote %+v", recs)
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, OutputsDirName)); len(ents) != 0 {
				t.Errorf("rejected call left files in outputs: %v", ents)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Run("not run by Gantry", func(t *testing.T) {
		t.Setenv(EnvTrackFile, "")
		r, err := FromEnv()
		if !errors.Is(err, ErrNotGantry) || !strings.Contains(err.Error(), EnvTrackFile) {
			t.Fatalf("FromEnv = %v, %v; want ErrNotGantry naming %s", r, err, EnvTrackFile)
		}
	})
	t.Run("from Environ", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, kv := range Environ("run-1", "exp", dir) {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		r, err := FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got := []string{r.RunID(), r.Experiment(), r.OutputsDir(), r.TrackFile()}
		want := []string{"run-1", "exp", filepath.Join(dir, "outputs"), filepath.Join(dir, "track.jsonl")}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("run %q, want %q", got, want)
		}
		if fi, err := os.Stat(r.OutputsDir()); err != nil || !fi.IsDir() {
			t.Errorf("outputs directory not created: %v", err)
		}
		if err := r.LogImage("p", pngBytes); err != nil {
			t.Fatal(err)
		}
		r.Close()
		recs := readAll(t, r.TrackFile())
		if len(recs) != 1 || recs[0].Path != "outputs/p.png" {
			t.Errorf("records %+v, want one image at outputs/p.png", recs)
		}
	})
	t.Run("outputs outside the run directory", func(t *testing.T) {
		dir, out := t.TempDir(), t.TempDir()
		t.Setenv(EnvTrackFile, filepath.Join(dir, "t.jsonl"))
		t.Setenv(EnvRunDir, "")
		t.Setenv(EnvOutputsDir, out)
		r, err := FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		if err := r.LogImage("p", pngBytes); err != nil {
			t.Fatal(err)
		}
		r.Close()
		recs := readAll(t, r.TrackFile())
		if want := filepath.Join(out, "p.png"); len(recs) != 1 || recs[0].Path != want {
			t.Errorf("records %+v, want one image at %s", recs, want)
		}
	})
}

// TestBackgroundFlush checks that a record reaches the file without Flush
// or Close, within a few flush intervals.
func TestBackgroundFlush(t *testing.T) {
	dir := t.TempDir()
	r, err := Local(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Log("loss", 1); err != nil {
		t.Fatal(err)
	}
	tl := NewTailer(r.TrackFile(), 0)
	defer tl.Close()
	deadline := time.Now().Add(20 * FlushInterval)
	for {
		recs, _, err := tl.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 1 {
			return
		}
		if len(recs) > 1 || time.Now().After(deadline) {
			t.Fatalf("records %+v after %v, want the one logged", recs, 20*FlushInterval)
		}
		time.Sleep(FlushInterval / 4)
	}
}

// TestConcurrentLog logs from several goroutines while a Tailer follows
// the file: every record arrives once, and no half line is ever seen.
func TestConcurrentLog(t *testing.T) {
	const workers, each = 8, 5000
	dir := t.TempDir()
	r, err := Local(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var err error
				switch i % 3 {
				case 0:
					err = r.Log(fmt.Sprint("w", w), float64(i), i)
				case 1:
					err = r.LogRow(fmt.Sprint("w", w), map[string]float64{"i": float64(i)})
				case 2:
					err = r.LogList(fmt.Sprint("w", w), []float64{float64(i)})
				}
				if err != nil {
					t.Error(err)
					return
				}
				if i%1000 == 0 {
					r.Flush()
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); r.Close(); close(done) }()

	seen := make(map[string]map[int]bool)
	tl := NewTailer(r.TrackFile(), 0)
	defer tl.Close()
	add := func(recs []Record) {
		for _, rec := range recs {
			var i float64
			switch rec.Kind {
			case KindMetric:
				i = rec.Value
			case KindRow:
				i = rec.Row["i"]
			case KindList:
				i = rec.Values[0]
			default:
				t.Fatalf("unexpected record %+v", rec)
			}
			if seen[rec.Name] == nil {
				seen[rec.Name] = make(map[int]bool)
			}
			if seen[rec.Name][int(i)] {
				t.Fatalf("%s %d seen twice", rec.Name, int(i))
			}
			seen[rec.Name][int(i)] = true
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		for {
			recs, _, err := tl.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			add(recs)
		}
		time.Sleep(time.Millisecond)
	}
	for w := range workers {
		if n := len(seen[fmt.Sprint("w", w)]); n != each {
			t.Errorf("worker %d: %d records arrived, want %d", w, n, each)
		}
	}
}

func BenchmarkLog(b *testing.B) {
	r, err := Local(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := r.Log("loss", float64(i)*0.001); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLogStep(b *testing.B) {
	r, err := Local(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := r.Log("loss", float64(i)*0.001, i); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLogParallel(b *testing.B) {
	r, err := Local(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if err := r.Log("loss", float64(i)*0.001); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
