package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// openTemp opens a Store in a fresh directory, nested to exercise the
// creation of parent directories, and closes it when the test ends.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "a", "b", "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// cell is one Add call.
type cell struct {
	line           int
	source, output string
}

// fill starts a session and adds cells to it.
func fill(t *testing.T, s *Store, cells ...cell) int64 {
	t.Helper()
	ctx := t.Context()
	id, err := s.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if err := s.Add(ctx, id, c.line, c.source, c.output); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// sources returns "session/line:source" for each entry, a compact form for
// comparisons.
func sources(es []Entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, fmt.Sprintf("%d/%d:%s", e.Session, e.Line, e.Source))
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	s := openTemp(t)
	id := fill(t, s,
		cell{1, "x := 1", ""},
		cell{2, "x + 1", "2"},
		cell{3, "fmt.Println(\"a\nb\")", ""},
	)
	got, err := s.Range(t.Context(), id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Session: id, Line: 1, Source: "x := 1"},
		{Session: id, Line: 2, Source: "x + 1", Output: "2", HasOutput: true},
		{Session: id, Line: 3, Source: "fmt.Println(\"a\nb\")"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Range = %+v\nwant %+v", got, want)
	}
}

func TestAddAgain(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	id := fill(t, s, cell{1, "a", "out a"})
	for _, c := range []cell{{1, "b", ""}, {2, "c", "out c"}, {2, "d", "out d"}} {
		if err := s.Add(ctx, id, c.line, c.source, c.output); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Range(ctx, id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Session: id, Line: 1, Source: "b", Output: "out a", HasOutput: true},
		{Session: id, Line: 2, Source: "d", Output: "out d", HasOutput: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Range = %+v\nwant %+v", got, want)
	}
	if err := s.Add(ctx, id+100, 1, "x", ""); err == nil {
		t.Error("Add to a session that does not exist succeeded")
	}
}

func TestRestart(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "history.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	first := fill(t, s, cell{1, "a", "1"}, cell{2, "b", ""})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	second := fill(t, s, cell{1, "c", ""})
	if second <= first {
		t.Errorf("session after restart = %d, want > %d", second, first)
	}
	got, err := s.Tail(ctx, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("%d/1:a", first),
		fmt.Sprintf("%d/2:b", first),
		fmt.Sprintf("%d/1:c", second),
	}
	if !reflect.DeepEqual(sources(got), want) {
		t.Errorf("Tail after restart = %q, want %q", sources(got), want)
	}
	if !got[0].HasOutput || got[0].Output != "1" {
		t.Errorf("output lost across restart: %+v", got[0])
	}

	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != len(migrations()) {
		t.Errorf("user_version = %d, want %d", version, len(migrations()))
	}
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("mode of %s = %v, want %v", p, fi.Mode(), want)
		}
	}
}

func TestNewerSchema(t *testing.T) {
	s := openTemp(t)
	if _, err := s.db.ExecContext(t.Context(), "PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), s.Path())
	if err == nil || !strings.Contains(err.Error(), "999") {
		t.Errorf("Open of a newer schema: err = %v, want one naming version 999", err)
	}
}

func TestTail(t *testing.T) {
	s := openTemp(t)
	a := fill(t, s, cell{1, "x", ""}, cell{2, "y", ""}, cell{3, "x", ""})
	b := fill(t, s, cell{1, "z", ""}, cell{2, "y", ""}, cell{3, "x", "out"})
	tests := []struct {
		n      int
		unique bool
		want   []string
	}{
		{2, false, []string{fmt.Sprintf("%d/2:y", b), fmt.Sprintf("%d/3:x", b)}},
		{4, false, []string{
			fmt.Sprintf("%d/3:x", a), fmt.Sprintf("%d/1:z", b),
			fmt.Sprintf("%d/2:y", b), fmt.Sprintf("%d/3:x", b),
		}},
		{2, true, []string{fmt.Sprintf("%d/2:y", b), fmt.Sprintf("%d/3:x", b)}},
		{10, true, []string{
			fmt.Sprintf("%d/1:z", b), fmt.Sprintf("%d/2:y", b), fmt.Sprintf("%d/3:x", b),
		}},
		{100, false, []string{
			fmt.Sprintf("%d/1:x", a), fmt.Sprintf("%d/2:y", a), fmt.Sprintf("%d/3:x", a),
			fmt.Sprintf("%d/1:z", b), fmt.Sprintf("%d/2:y", b), fmt.Sprintf("%d/3:x", b),
		}},
		{0, false, []string{}},
		{-1, true, []string{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d,unique=%v", tt.n, tt.unique), func(t *testing.T) {
			got, err := s.Tail(t.Context(), tt.n, tt.unique)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sources(got), tt.want) {
				t.Errorf("Tail = %q, want %q", sources(got), tt.want)
			}
		})
	}
}

func TestRange(t *testing.T) {
	s := openTemp(t)
	a := fill(t, s, cell{1, "a1", ""}, cell{2, "a2", ""})
	b := fill(t, s, cell{1, "b1", ""}, cell{2, "b2", ""}, cell{3, "b3", ""})
	c := fill(t, s, cell{1, "c1", ""}, cell{2, "c2", ""}, cell{3, "c3", ""}, cell{4, "c4", ""})
	tests := []struct {
		name        string
		session     int64
		start, stop int
		want        []string
	}{
		{"latest by number", c, 2, 4, []string{fmt.Sprintf("%d/2:c2", c), fmt.Sprintf("%d/3:c3", c)}},
		{"stop 0 is open", c, 3, 0, []string{fmt.Sprintf("%d/3:c3", c), fmt.Sprintf("%d/4:c4", c)}},
		{"previous", -1, 1, 0, []string{fmt.Sprintf("%d/1:b1", b), fmt.Sprintf("%d/2:b2", b), fmt.Sprintf("%d/3:b3", b)}},
		{"two back", -2, 2, 3, []string{fmt.Sprintf("%d/2:a2", a)}},
		{"before the first", -3, 1, 0, []string{}},
		{"unknown session", c + 10, 1, 0, []string{}},
		{"empty range", b, 2, 2, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Range(t.Context(), tt.session, tt.start, tt.stop)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sources(got), tt.want) {
				t.Errorf("Range(%d, %d, %d) = %q, want %q", tt.session, tt.start, tt.stop, sources(got), tt.want)
			}
		})
	}
	if _, err := s.Range(t.Context(), 0, 1, 0); err == nil {
		t.Error("Range of session 0 succeeded; want an error asking the caller to resolve it")
	}
}

func TestSearch(t *testing.T) {
	s := openTemp(t)
	a := fill(t, s,
		cell{1, "fmt.Println(1)", ""},
		cell{2, "x := 1", ""},
		cell{3, "y := 22", ""},
		cell{4, "fmt.Println(x)", ""},
	)
	b := fill(t, s,
		cell{1, "fmt.Println(1)", ""},
		cell{2, "X := 3", ""},
		cell{3, "for {\n\tbreak\n}", ""},
	)
	tests := []struct {
		pattern string
		n       int
		unique  bool
		want    []string
	}{
		{"fmt.*", 0, false, []string{
			fmt.Sprintf("%d/1:fmt.Println(1)", a), fmt.Sprintf("%d/4:fmt.Println(x)", a),
			fmt.Sprintf("%d/1:fmt.Println(1)", b),
		}},
		{"fmt.*", 0, true, []string{
			fmt.Sprintf("%d/4:fmt.Println(x)", a), fmt.Sprintf("%d/1:fmt.Println(1)", b),
		}},
		{"fmt.*", 1, false, []string{fmt.Sprintf("%d/1:fmt.Println(1)", b)}},
		{"fmt.*", 2, false, []string{
			fmt.Sprintf("%d/4:fmt.Println(x)", a), fmt.Sprintf("%d/1:fmt.Println(1)", b),
		}},
		{"? := ?", 0, false, []string{fmt.Sprintf("%d/2:x := 1", a), fmt.Sprintf("%d/2:X := 3", b)}},
		{"x := ?", 0, false, []string{fmt.Sprintf("%d/2:x := 1", a)}}, // case-sensitive
		{"? := ??", 0, false, []string{fmt.Sprintf("%d/3:y := 22", a)}},
		{"*break*", 0, false, []string{fmt.Sprintf("%d/3:for {\n\tbreak\n}", b)}},
		{"*(?)", 0, true, []string{fmt.Sprintf("%d/4:fmt.Println(x)", a), fmt.Sprintf("%d/1:fmt.Println(1)", b)}},
		{"[xy]*", 0, false, []string{fmt.Sprintf("%d/2:x := 1", a), fmt.Sprintf("%d/3:y := 22", a)}},
		{"Println", 0, false, []string{}}, // whole-source match
		{"", 2, false, []string{fmt.Sprintf("%d/2:X := 3", b), fmt.Sprintf("%d/3:for {\n\tbreak\n}", b)}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q,n=%d,unique=%v", tt.pattern, tt.n, tt.unique), func(t *testing.T) {
			got, err := s.Search(t.Context(), tt.pattern, tt.n, tt.unique)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sources(got), tt.want) {
				t.Errorf("Search = %q, want %q", sources(got), tt.want)
			}
		})
	}
}

// TestConcurrentStores has two Stores, as two kernels would, open one new
// file at once and write to it from several goroutines each.
func TestConcurrentStores(t *testing.T) {
	const (
		stores  = 2
		workers = 4 // goroutines per store, each with its own session
		lines   = 50
	)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "history.db")

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		opened [stores]*Store
	)
	record := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for i := range stores {
		wg.Go(func() {
			s, err := Open(ctx, path)
			if err != nil {
				record(err)
				return
			}
			opened[i] = s
		})
	}
	wg.Wait()
	for _, s := range opened {
		if s != nil {
			defer s.Close()
		}
	}
	if len(errs) > 0 {
		t.Fatalf("concurrent Open: %v", errs)
	}

	for _, s := range opened {
		for range workers {
			wg.Go(func() {
				id, err := s.NewSession(ctx)
				if err != nil {
					record(err)
					return
				}
				for line := 1; line <= lines; line++ {
					if err := s.Add(ctx, id, line, fmt.Sprintf("s%d l%d", id, line), "out"); err != nil {
						record(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}

	got, err := opened[0].Tail(ctx, stores*workers*lines+10, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != stores*workers*lines {
		t.Errorf("Tail found %d entries, want %d", len(got), stores*workers*lines)
	}
	got, err = opened[0].Search(ctx, "s* l1", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != stores*workers {
		t.Errorf("%d sessions have a line 1, want %d", len(got), stores*workers)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       []string // substrings of the error
	}{
		{"parent is a file", filepath.Join(file, "history.db"), []string{"open history", file, "not a directory"}},
		{"path is a directory", dir, []string{"open history", dir}},
		{"empty path", "", []string{"open history", "empty path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tt.path)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open(%q) error %q does not mention %q", tt.path, err, w)
				}
			}
		})
	}
}

func TestOpenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "history.db"))
	if err == nil {
		s.Close()
		t.Fatal("Open with a canceled context succeeded")
	}
}

func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name, history, xdg string
		want               string
	}{
		{"explicit", "/x/h.db", "/data", "/x/h.db"},
		{"xdg", "", "/data", "/data/gantry/history.db"},
		{"relative xdg ignored", "", "data", filepath.Join(home, ".local/share/gantry/history.db")},
		{"home", "", "", filepath.Join(home, ".local/share/gantry/history.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv("GANTRY_HISTORY", tt.history)
			t.Setenv("XDG_DATA_HOME", tt.xdg)
			got, err := DefaultPath()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("DefaultPath() = %q, want %q", got, tt.want)
			}
		})
	}
}
