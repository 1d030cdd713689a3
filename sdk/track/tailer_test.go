package track

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// appendFile appends s to the file at path.
func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// next calls tl.Next and fails the test on an error.
func next(t *testing.T, tl *Tailer) ([]Record, int64) {
	t.Helper()
	recs, off, err := tl.Next(context.Background())
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return recs, off
}

func TestParseLine(t *testing.T) {
	tm := time.UnixMicro(1754000000123456)
	tests := []struct {
		line string
		want Record // Offset aside; Raw is the line for an invalid one
	}{
		{`{"k":"metric","name":"loss","value":0.5,"step":3,"t":1754000000.123456}`,
			Record{Kind: KindMetric, Name: "loss", Value: 0.5, Step: 3, HasStep: true, Time: tm}},
		{`{"k":"metric","name":"loss","value":7,"t":1754000000.123456}`,
			Record{Kind: KindMetric, Name: "loss", Value: 7, Time: tm}},
		{`{"t":1754000000.123456,"value":1e-3,"name":"x","k":"metric","extra":[1]}`,
			Record{Kind: KindMetric, Name: "x", Value: 0.001, Time: tm}},
		{`{"k":"metric","name":"no time","value":1}`,
			Record{Kind: KindMetric, Name: "no time", Value: 1}},
		{`{"k":"list","name":"acc","values":[1,2.5],"t":1754000000.123456}`,
			Record{Kind: KindList, Name: "acc", Values: []float64{1, 2.5}, Time: tm}},
		{`{"k":"row","name":"tab","values":{"a":1,"b":-2},"t":1754000000.123456}`,
			Record{Kind: KindRow, Name: "tab", Row: map[string]float64{"a": 1, "b": -2}, Time: tm}},
		{`{"k":"image","name":"plot","path":"outputs/plot.png","t":1754000000.123456}`,
			Record{Kind: KindImage, Name: "plot", Path: "outputs/plot.png", Time: tm}},
		{`{"k":"tag","key":"k","value":"v","t":1754000000.123456}`,
			Record{Kind: KindTag, Key: "k", Val: "v", Time: tm}},
		{`{"k":"metric","name":"\u03bb","value":1,"t":1754000000.123456}`,
			Record{Kind: KindMetric, Name: "λ", Value: 1, Time: tm}},

		{`{"k":"metric","name":"a b","value":-0,"step":0,"t":1754000000.123456}`,
			Record{Kind: KindMetric, Name: "a b", Value: 0, Step: 0, HasStep: true, Time: tm}},
		{`{"k":"metric","name":"e","value":-1.5E+2,"step":999999999,"t":1754000000.123456}`,
			Record{Kind: KindMetric, Name: "e", Value: -150, Step: 999999999, HasStep: true, Time: tm}},
		{`{"k":"metric","name":"a\u0062","value":1,"t":1754000000.123456}`,
			Record{Kind: KindMetric, Name: "ab", Value: 1, Time: tm}},
		{`{"k":"metric","name":"x","value":1,"step":2147483648}`,
			Record{Kind: KindInvalid, Err: "out of range"}},

		{`not json`, Record{Kind: KindInvalid, Err: "invalid character"}},
		{`{"k":"metric","name":"x","value":1`, Record{Kind: KindInvalid, Err: "unexpected end"}},
		{`{"k":"metric","name":"x","value":NaN}`, Record{Kind: KindInvalid, Err: "invalid character"}},
		{`{"k":"metric","name":"x"}`, Record{Kind: KindInvalid, Err: `without a "value"`}},
		{`{"k":"metric","name":"x","value":null}`, Record{Kind: KindInvalid, Err: `without a "value"`}},
		{`{"k":"metric","name":"x","value":"1"}`, Record{Kind: KindInvalid, Err: `"value"`}},
		{`{"k":"metric","value":1}`, Record{Kind: KindInvalid, Err: "without a name"}},
		{`{"k":"metric","name":"x","value":1e999}`, Record{Kind: KindInvalid, Err: "cannot unmarshal number 1e999"}},
		{`{"k":"metric","name":"x","value":1,"step":-1}`, Record{Kind: KindInvalid, Err: "step -1 out of range"}},
		{`{"k":"metric","name":"x","value":1,"step":1.5}`, Record{Kind: KindInvalid, Err: "step"}},
		{`{"k":"list","name":"x","values":[1,null]}`, Record{Kind: KindInvalid, Err: "values[1] is null"}},
		{`{"k":"list","name":"x"}`, Record{Kind: KindInvalid, Err: `without "values"`}},
		{`{"k":"list","name":"x","values":{"a":1}}`, Record{Kind: KindInvalid, Err: `"values"`}},
		{`{"k":"row","name":"x","values":{"a":null}}`, Record{Kind: KindInvalid, Err: `column "a" is null`}},
		{`{"k":"row","name":"x","values":[1]}`, Record{Kind: KindInvalid, Err: `"values"`}},
		{`{"k":"image","name":"x"}`, Record{Kind: KindInvalid, Err: `without a "path"`}},
		{`{"k":"tag","key":"k","value":3}`, Record{Kind: KindInvalid, Err: `"value"`}},
		{`{"k":"tag","value":"v"}`, Record{Kind: KindInvalid, Err: `without a "key"`}},
		{`{"k":"metrics","name":"x","value":1}`, Record{Kind: KindInvalid, Err: `unknown kind "metrics"`}},
		{`{"name":"x","value":1}`, Record{Kind: KindInvalid, Err: "no kind"}},
		{`[1,2]`, Record{Kind: KindInvalid, Err: "cannot unmarshal array"}},
		{`{"k":"metric","name":"x","value":01,"t":1}`, Record{Kind: KindInvalid, Err: "invalid character"}},
		{`{"k":"metric","name":"x","value":1.,"t":1}`, Record{Kind: KindInvalid, Err: "invalid character"}},
		{`{"k":"metric","name":"x","value":1,"step":01,"t":1}`, Record{Kind: KindInvalid, Err: "invalid character"}},
		{`{"k":"metric","name":"x","value":1,"t":1}x`, Record{Kind: KindInvalid, Err: "invalid character"}},
		{`{"k":"metric","name":"x","value":Infinity,"t":1}`, Record{Kind: KindInvalid, Err: "invalid character"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got := new(lineParser).parse([]byte(tt.line), 42)
			if got.Offset != 42 {
				t.Errorf("Offset = %d, want 42", got.Offset)
			}
			got.Offset = 0
			if fast, ok := new(lineParser).fastMetric([]byte(tt.line)); ok && !reflect.DeepEqual(fast, got) {
				t.Errorf("fast path: %+v, general path: %+v", fast, got)
			}
			if tt.want.Kind == KindInvalid {
				if got.Kind != KindInvalid || got.Raw != tt.line || !strings.Contains(got.Err, tt.want.Err) {
					t.Errorf("got %+v, want an invalid record with Raw %q and an Err containing %q", got, tt.line, tt.want.Err)
				}
				return
			}
			if !got.Time.Equal(tt.want.Time) {
				t.Errorf("Time = %v, want %v", got.Time, tt.want.Time)
			}
			got.Time, tt.want.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseLine checks that the fast path for metric lines agrees with
// encoding/json on every line it accepts.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"k":"metric","name":"loss","value":0.5,"step":3,"t":1754000000.123456}`,
		`{"k":"metric","name":"loss","value":-1e-7,"t":1754000000.1234567}`,
		`{"k":"metric","name":"λ","value":0,"step":0,"t":0}`,
		`{"k":"metric","name":"x","value":1,"step":12345678901,"t":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fast, ok := new(lineParser).fastMetric(line)
		if !ok {
			return
		}
		slow, err := decodeRecord(line)
		if err != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", line, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", line, fast, slow)
		}
	})
}

// TestTailerMalformedLines checks that bad lines come back as invalid
// records, in place, and that reading goes on after them.
func TestTailerMalformedLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "track.jsonl")
	lines := []string{
		`{"k":"metric","name":"a","value":1}`,
		`garbage`,
		``,
		`   `,
		`{"k":"metric","name":"b","value":2}` + "\r",
		`{"k":"metric","name":"c","value":"x"}`,
		`{"k":"tag","key":"k","value":"v"}`,
	}
	appendFile(t, path, strings.Join(lines, "\n")+"\n")
	recs, off := next(t, NewTailer(path, 0))
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind+":"+r.Name+r.Key)
	}
	want := []string{"metric:a", "invalid:", "metric:b", "invalid:", "tag:k"}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("records %q, want %q", kinds, want)
	}
	if recs[1].Raw != "garbage" || recs[1].Offset != int64(len(lines[0])+1) {
		t.Errorf("invalid record %+v, want Raw \"garbage\" at offset %d", recs[1], len(lines[0])+1)
	}
	if fi, _ := os.Stat(path); off != fi.Size() {
		t.Errorf("offset %d, want the file size %d", off, fi.Size())
	}
}

// TestTailerPartialLine checks that a line is returned only once its
// newline is written, however the writes split it.
func TestTailerPartialLine(t *testing.T) {
	const l1 = `{"k":"metric","name":"a","value":1}` + "\n"
	const l2 = `{"k":"metric","name":"b","value":2}` + "\n"
	const l3 = `{"k":"tag","key":"c","value":"3"}` + "\n"
	tests := []struct {
		name   string
		writes []string
		want   [][]string // the names (or keys) each Next returns, after each write
	}{
		{"whole lines", []string{l1, l2 + l3}, [][]string{{"a"}, {"b", "c"}}},
		{"split in the middle", []string{l1[:10], l1[10:]}, [][]string{nil, {"a"}}},
		{"split before the newline", []string{l1[:len(l1)-1], "\n"}, [][]string{nil, {"a"}}},
		{"line and a half", []string{l1 + l2[:5], l2[5:20], l2[20:] + l3[:1], l3[1:]},
			[][]string{{"a"}, nil, {"b"}, {"c"}}},
		{"byte by byte", strings.Split(l1, ""), append(make([][]string, len(l1)-1), []string{"a"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "track.jsonl")
			tl := NewTailer(path, 0)
			defer tl.Close()
			written := 0
			for i, w := range tt.writes {
				appendFile(t, path, w)
				written += len(w)
				recs, off := next(t, tl)
				var got []string
				for _, r := range recs {
					if r.Kind == KindInvalid {
						t.Fatalf("write %d: invalid record %+v", i, r)
					}
					got = append(got, r.Name+r.Key)
				}
				if !reflect.DeepEqual(got, tt.want[i]) {
					t.Fatalf("after write %d: records %q, want %q", i, got, tt.want[i])
				}
				// The offset is the end of the last complete line.
				data, _ := os.ReadFile(path)
				if wantOff := int64(strings.LastIndexByte(string(data), '\n') + 1); off != wantOff {
					t.Fatalf("after write %d: offset %d, want %d", i, off, wantOff)
				}
			}
		})
	}
}

func TestTailerResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "track.jsonl")
	tl := NewTailer(path, 0)
	if recs, off := next(t, tl); len(recs) != 0 || off != 0 {
		t.Fatalf("missing file: %+v at %d, want nothing at 0", recs, off)
	}
	appendFile(t, path, `{"k":"metric","name":"a","value":1}`+"\n"+`{"k":"metric","name":"b","value":2}`+"\n"+`{"k":"met`)
	recs, off := next(t, tl)
	tl.Close()
	if len(recs) != 2 {
		t.Fatalf("records %+v, want 2", recs)
	}
	appendFile(t, path, `ric","name":"c","value":3}`+"\n")
	// A new Tailer at the saved offset reads only what follows it.
	tl = NewTailer(path, off)
	defer tl.Close()
	recs, _ = next(t, tl)
	if len(recs) != 1 || recs[0].Name != "c" || recs[0].Offset != off {
		t.Fatalf("resumed at %d: records %+v, want c alone at %d", off, recs, off)
	}
}

func TestTailerErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "track.jsonl")
	appendFile(t, path, `{"k":"metric","name":"a","value":1}`+"\n")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, off, err := NewTailer(path, 0).Next(ctx); !errors.Is(err, context.Canceled) || off != 0 {
		t.Errorf("canceled Next: offset %d, error %v; want 0, context.Canceled", off, err)
	}

	tl := NewTailer(path, 0)
	defer tl.Close()
	next(t, tl)
	if err := os.Truncate(path, 3); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tl.Next(context.Background()); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Errorf("Next after truncation: %v, want an error saying the file shrank", err)
	}
}

// TestTailerLongLine checks that a line over the limit is reported once and
// skipped, and that the lines after it are read.
func TestTailerLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "track.jsonl")
	tl := NewTailer(path, 0)
	tl.maxLine = 100
	defer tl.Close()
	long := `{"k":"metric","name":"` + strings.Repeat("x", 300)
	appendFile(t, path, `{"k":"metric","name":"a","value":1}`+"\n"+long)
	recs, _ := next(t, tl)
	if len(recs) != 2 || recs[0].Name != "a" || recs[1].Kind != KindInvalid || !strings.Contains(recs[1].Err, "longer than 100") {
		t.Fatalf("records %+v, want a, then an invalid record for the long line", recs)
	}
	appendFile(t, path, strings.Repeat("y", 300))
	if recs, _ := next(t, tl); len(recs) != 0 {
		t.Fatalf("more of the long line: records %+v, want none", recs)
	}
	appendFile(t, path, `","value":1}`+"\n"+`{"k":"metric","name":"b","value":2}`+"\n")
	recs, off := next(t, tl)
	if len(recs) != 1 || recs[0].Name != "b" {
		t.Fatalf("after the long line: records %+v, want b", recs)
	}
	if fi, _ := os.Stat(path); off != fi.Size() {
		t.Errorf("offset %d, want %d", off, fi.Size())
	}
}

// TestTailerBatches checks that a large backlog comes in several batches
// that together hold every line once.
func TestTailerBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "track.jsonl")
	line := `{"k":"metric","name":"` + strings.Repeat("n", 1000) + `","value":1}` + "\n"
	n := 3*BatchBytes/len(line) + 7
	appendFile(t, path, strings.Repeat(line, n))
	tl := NewTailer(path, 0)
	defer tl.Close()
	calls, total := 0, 0
	for {
		recs, _ := next(t, tl)
		if len(recs) == 0 {
			break
		}
		calls++
		total += len(recs)
		for _, r := range recs {
			if r.Kind != KindMetric {
				t.Fatalf("record %+v", r)
			}
		}
	}
	if total != n || calls < 3 {
		t.Errorf("%d records in %d calls, want %d in at least 3", total, calls, n)
	}
}

func TestStepAssigner(t *testing.T) {
	m := func(name string, step ...int) Record {
		r := Record{Kind: KindMetric, Name: name}
		if len(step) > 0 {
			r.Step, r.HasStep = step[0], true
		}
		return r
	}
	list := func(name string, n int) Record { return Record{Kind: KindList, Name: name, Values: make([]float64, n)} }
	tests := []struct {
		name  string
		calls [][]Record
		want  []int // the step of every record, in order; -1 for none
	}{
		{"counts per name", [][]Record{{m("a"), m("b"), m("a"), m("a"), m("b")}}, []int{0, 0, 1, 2, 1}},
		{"across calls", [][]Record{{m("a"), m("a")}, {m("a")}, {}, {m("a")}}, []int{0, 1, 2, 3}},
		{"given steps kept, count moves past them", [][]Record{{m("a"), m("a", 10), m("a"), m("a", 5), m("a")}},
			[]int{0, 10, 11, 5, 12}},
		{"lists take a step per value", [][]Record{{m("a"), list("a", 3), m("a"), list("a", 0), m("a")}},
			[]int{0, 1, 4, 5, 5}},
		{"rows and images count apart from metrics", [][]Record{{
			m("a"), {Kind: KindRow, Name: "a"}, {Kind: KindImage, Name: "a"}, {Kind: KindRow, Name: "a"}, m("a"),
		}}, []int{0, 0, 0, 1, 1}},
		{"tags and invalid lines have no steps", [][]Record{{
			{Kind: KindTag, Key: "a"}, {Kind: KindInvalid}, m("a"),
		}}, []int{-1, -1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a StepAssigner
			var got []int
			for _, recs := range tt.calls {
				a.AssignSteps(recs)
				for _, r := range recs {
					if !r.HasStep {
						got = append(got, -1)
					} else {
						got = append(got, r.Step)
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("steps %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("SetNext", func(t *testing.T) {
		var a StepAssigner
		a.SetNext(KindList, "a", 7)
		recs := []Record{m("a"), list("a", 2), m("a")}
		a.AssignSteps(recs)
		if recs[0].Step != 7 || recs[1].Step != 8 || recs[2].Step != 10 {
			t.Errorf("steps %d %d %d, want 7 8 10", recs[0].Step, recs[1].Step, recs[2].Step)
		}
	})
}

func BenchmarkTailer(b *testing.B) {
	path := filepath.Join(b.TempDir(), "track.jsonl")
	r, err := Local(filepath.Dir(path))
	if err != nil {
		b.Fatal(err)
	}
	const n = 100000
	for i := range n {
		r.Log("loss", float64(i)*0.001, i)
	}
	r.Close()
	b.ReportAllocs()
	for b.Loop() {
		tl := NewTailer(r.TrackFile(), 0)
		total := 0
		for {
			recs, _, err := tl.Next(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			total += len(recs)
		}
		tl.Close()
		if total != n {
			b.Fatalf("%d records, want %d", total, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
