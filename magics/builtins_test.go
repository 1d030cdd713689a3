package magics

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry/display/runcard"
	"gantry/kernel/frame"
)

// fakeSession records what magics do to the session.
type fakeSession struct {
	evals   []string
	evalErr error
	result  *frame.Bundle
	resets  int
	docs    map[string]string
	shown   []*frame.Bundle
	pages   []string
	gopath  string
	comms   []*fakeComm
	exits   int
	inScope map[string]bool
}

func (f *fakeSession) Eval(_ context.Context, code string) (*frame.Bundle, error) {
	f.evals = append(f.evals, code)
	return f.result, f.evalErr
}
func (f *fakeSession) Reset(context.Context) error { f.resets++; return nil }
func (f *fakeSession) Doc(name string) (string, bool) {
	d, ok := f.docs[name]
	return d, ok
}
func (f *fakeSession) InScope(name string) bool { return f.inScope[name] }
func (f *fakeSession) Display(b *frame.Bundle)  { f.shown = append(f.shown, b) }
func (f *fakeSession) DisplayID(id string, b *frame.Bundle, update bool) {
	f.shown = append(f.shown, b)
}
func (f *fakeSession) Page(text string) { f.pages = append(f.pages, text) }
func (f *fakeSession) AskExit()         { f.exits++ }
func (f *fakeSession) GoPath() string   { return f.gopath }
func (f *fakeSession) Ask(prompt string, password bool) (string, error) {
	return "", errors.New("no input in tests")
}
func (f *fakeSession) OpenComm(target string, data, metadata map[string]any) runcard.Comm {
	f.comms = append(f.comms, &fakeComm{target: target, data: data, metadata: metadata})
	return f.comms[len(f.comms)-1]
}

// fakeComm records what is sent on a comm.
type fakeComm struct {
	target         string
	data, metadata map[string]any
	mu             sync.Mutex
	sent           []map[string]any
}

func (c *fakeComm) ID() string { return "comm-" + c.target }
func (c *fakeComm) Send(data map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, data)
}
func (c *fakeComm) OnMsg(func(map[string]any)) {}

// harness is a registry of the builtins and a fake session.
type harness struct {
	r        *Registry
	s        *fakeSession
	out, err bytes.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{r: new(Registry), s: &fakeSession{}}
	if err := RegisterBuiltins(h.r, nil); err != nil {
		t.Fatal(err)
	}
	return h
}

// line runs "%name args".
func (h *harness) line(name, args string) error {
	h.out.Reset()
	return h.r.Run(context.Background(), &Call{Name: name, Args: args, Stdout: &h.out, Stderr: &h.err, S: h.s})
}

// cell runs "%%name args" with body.
func (h *harness) cell(name, args, body string) error {
	h.out.Reset()
	return h.r.Run(context.Background(), &Call{Name: name, Args: args, Body: body, Cell: true, Stdout: &h.out, Stderr: &h.err, S: h.s})
}

// chdir moves to dir for the rest of the test.
func chdir(t *testing.T, dir string) {
	t.Helper()
	old, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(old) })
}

func TestWritefile(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	tests := []struct {
		name, args, body string
		wantOut, wantErr string
		file, content    string
	}{
		{"new", "a.txt", "one", "Writing a.txt\n", "", "a.txt", "one\n"},
		{"overwrite", "a.txt", "two\n", "Overwriting a.txt\n", "", "a.txt", "two\n"},
		{"append", "-a a.txt", "three", "Appending to a.txt\n", "", "a.txt", "two\nthree\n"},
		{"append to a new file", "-a b.txt", "b", "Writing b.txt\n", "", "b.txt", "b\n"},
		{"quoted path", `"my notes.txt"`, "n", "Writing my notes.txt\n", "", "my notes.txt", "n\n"},
		{"missing parent", "nope/c.txt", "x", "", "directory nope does not exist", "", ""},
		{"no path", "-a", "x", "", "needs exactly one PATH", "", ""},
		{"two paths", "a b", "x", "", "needs exactly one PATH, got 2", "", ""},
		{"unknown flag", "-x a", "x", "", "unknown option -x", "", ""},
	}
	h := newHarness(t)
	for _, tt := range tests {
		err := h.cell("writefile", tt.args, tt.body)
		if !matchErr(err, tt.wantErr) {
			t.Errorf("%s: %%%%writefile %s: error %v, want %q", tt.name, tt.args, err, tt.wantErr)
			continue
		}
		if h.out.String() != tt.wantOut {
			t.Errorf("%s: output %q, want %q", tt.name, h.out.String(), tt.wantOut)
		}
		if tt.file != "" {
			b, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil || string(b) != tt.content {
				t.Errorf("%s: %s holds %q (%v), want %q", tt.name, tt.file, b, err, tt.content)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%%%%writefile created the missing parent directory")
	}
}

// matchErr reports whether err is nil when want is empty, or contains want.
func matchErr(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

func TestCd(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	a, _ = filepath.EvalSymlinks(a)
	b, _ = filepath.EvalSymlinks(b)
	home := t.TempDir()
	home, _ = filepath.EvalSymlinks(home)
	t.Setenv("HOME", home)
	if err := os.Mkdir(filepath.Join(b, "with space"), 0o755); err != nil {
		t.Fatal(err)
	}
	chdir(t, a)
	h := newHarness(t)
	if err := h.line("cd", "-"); err == nil {
		t.Errorf("%%cd - with no previous directory succeeded")
	}
	steps := []struct {
		args, wantDir, wantErr string
	}{
		{b, b, ""},
		{"-", a, ""},
		{"-", b, ""},
		{`"with space"`, filepath.Join(b, "with space"), ""},
		{"", home, ""},
		{"-", filepath.Join(b, "with space"), ""},
		{filepath.Join(a, "missing"), filepath.Join(b, "with space"), "directory " + filepath.Join(a, "missing") + " does not exist"},
		{"$GANTRY_TEST_CD_DIR", a, ""},
		{"${GANTRY_TEST_CD_DIR}/../" + filepath.Base(b), b, ""},
		{"$GANTRY_TEST_CD_UNSET/x", b, "$GANTRY_TEST_CD_UNSET is not set"},
		{"~", home, ""},
	}
	t.Setenv("GANTRY_TEST_CD_DIR", a)
	for _, st := range steps {
		err := h.line("cd", st.args)
		if !matchErr(err, st.wantErr) {
			t.Fatalf("%%cd %s: error %v, want %q", st.args, err, st.wantErr)
		}
		wd, _ := os.Getwd()
		if wd != st.wantDir {
			t.Fatalf("%%cd %s: in %s, want %s", st.args, wd, st.wantDir)
		}
		if st.wantErr == "" && h.out.String() != st.wantDir+"\n" {
			t.Errorf("%%cd %s printed %q, want the new directory", st.args, h.out.String())
		}
	}
	if err := h.line("pwd", ""); err != nil || h.out.String() != home+"\n" {
		t.Errorf("%%pwd = %q, %v; want %s", h.out.String(), err, home)
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("GANTRY_TEST_PLAIN", "visible")
	t.Setenv("GANTRY_TEST_API_TOKEN", "s3cret")
	t.Setenv("GANTRY_SET_A", "")
	t.Setenv("GANTRY_SET_B", "")
	h := newHarness(t)
	tests := []struct {
		args, wantOut, wantErr string
	}{
		{"GANTRY_TEST_PLAIN", "visible\n", ""},
		{"GANTRY_TEST_API_TOKEN", "s3cret\n", ""}, // asked for by name: shown
		{"GANTRY_SET_A=one two", "env: GANTRY_SET_A=one two\n", ""},
		{"GANTRY_SET_A", "one two\n", ""},
		{"GANTRY_SET_B  x=y", "env: GANTRY_SET_B=x=y\n", ""},
		{"GANTRY_SET_B", "x=y\n", ""},
		{"GANTRY_TEST_PASSWORD=p", "env: GANTRY_TEST_PASSWORD=<hidden>\n", ""},
		{"GANTRY_NOT_SET_ANYWHERE", "", "GANTRY_NOT_SET_ANYWHERE is not set"},
		{"=x", "", "not a variable name"},
	}
	t.Cleanup(func() { os.Unsetenv("GANTRY_TEST_PASSWORD") })
	for _, tt := range tests {
		err := h.line("env", tt.args)
		if !matchErr(err, tt.wantErr) || h.out.String() != tt.wantOut {
			t.Errorf("%%env %s = %q, %v; want %q, error %q", tt.args, h.out.String(), err, tt.wantOut, tt.wantErr)
		}
	}
	if err := h.line("env", ""); err != nil {
		t.Fatal(err)
	}
	list := h.out.String()
	for _, want := range []string{"GANTRY_TEST_PLAIN=visible\n", "GANTRY_TEST_API_TOKEN=<hidden>\n", "GANTRY_SET_A=one two\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("%%env lists no %q", want)
		}
	}
	if strings.Contains(list, "s3cret") {
		t.Errorf("%%env shows a token's value")
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i-1] > lines[i] {
			t.Errorf("%%env is not sorted: %q before %q", lines[i-1], lines[i])
			break
		}
	}
}

func TestTime(t *testing.T) {
	wall := regexp.MustCompile(`^Wall time: [0-9.]+ (ns|µs|ms|s)\n$`)
	result := &frame.Bundle{Data: map[string]any{"text/plain": "3"}}

	h := newHarness(t)
	h.s.result = result
	if err := h.line("time", "x := f()"); err != nil {
		t.Fatal(err)
	}
	if !wall.MatchString(h.out.String()) {
		t.Errorf("%%time printed %q", h.out.String())
	}
	if err := h.cell("time", "", "a()\nb()\n"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"x := f()", "a()\nb()\n"}; strings.Join(h.s.evals, "|") != strings.Join(want, "|") {
		t.Errorf("evaluated %q, want %q", h.s.evals, want)
	}
	if len(h.s.shown) != 2 || h.s.shown[0] != result {
		t.Errorf("displayed %v, want the result bundle twice", h.s.shown)
	}

	h.s.evalErr = errors.New("boom")
	if err := h.line("time", "panic(1)"); !errors.Is(err, h.s.evalErr) {
		t.Errorf("%%time with a failing statement: error %v, want boom", err)
	}
	if err := h.line("time", ""); err == nil {
		t.Errorf("%%time with no statement succeeded")
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{999, "999 ns"},
		{1234, "1.23 µs"},
		{12345, "12.3 µs"},
		{1234567, "1.23 ms"},
		{123456789, "123 ms"},
		{1500 * time.Millisecond, "1.50 s"},
		{125 * time.Second, "125 s"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v ns) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestReset(t *testing.T) {
	h := newHarness(t)
	for _, args := range []string{"", "-f"} {
		if err := h.line("reset", args); err != nil || h.out.String() != "Interpreter state reset.\n" {
			t.Errorf("%%reset %s = %q, %v", args, h.out.String(), err)
		}
	}
	if h.s.resets != 2 {
		t.Errorf("Reset called %d times, want 2", h.s.resets)
	}
	if err := h.line("reset", "-x"); err == nil || h.s.resets != 2 {
		t.Errorf("%%reset -x: error %v, %d resets; want an error and no reset", err, h.s.resets)
	}
}

func TestLsmagicAndHelp(t *testing.T) {
	h := newHarness(t)
	if err := h.line("lsmagic", ""); err != nil {
		t.Fatal(err)
	}
	out := h.out.String()
	line, cell, _ := strings.Cut(out, "Cell magics:")
	for _, name := range []string{"%cd", "%env", "%time", "%require", "%help"} {
		if !strings.Contains(line, name+" ") && !strings.Contains(line, name+"\n") {
			t.Errorf("%%lsmagic line magics lack %s:\n%s", name, out)
		}
	}
	for _, name := range []string{"%%writefile", "%%time"} {
		if !strings.Contains(cell, name) {
			t.Errorf("%%lsmagic cell magics lack %s:\n%s", name, out)
		}
	}
	if strings.Contains(line, "%writefile") {
		t.Errorf("%%lsmagic lists writefile as a line magic")
	}

	h.s.docs = map[string]string{"fmt.Println": "func Println(a ...any)"}
	tests := []struct {
		name     string
		wantPage string // a substring
		wantErr  string
	}{
		{"", "?name", ""},
		{"fmt.Println", "func Println", ""},
		{"%writefile", "%%writefile [-a] PATH", ""},
		{"%%time", "%time STATEMENT", ""},
		{"cd", "%cd [DIR]", ""},
		{"nosuch.Thing", "", "no documentation for nosuch.Thing"},
		{"%nosuch", "", "no documentation for %nosuch"},
	}
	for _, tt := range tests {
		h.s.pages = nil
		err := Help(h.r, h.s, tt.name, 1)
		if !matchErr(err, tt.wantErr) {
			t.Errorf("Help(%q): error %v, want %q", tt.name, err, tt.wantErr)
			continue
		}
		if tt.wantErr == "" && (len(h.s.pages) != 1 || !strings.Contains(h.s.pages[0], tt.wantPage)) {
			t.Errorf("Help(%q) paged %q, want one page containing %q", tt.name, h.s.pages, tt.wantPage)
		}
	}
	h.s.pages = nil
	if err := h.line("help", "env"); err != nil || len(h.s.pages) != 1 || !strings.Contains(h.s.pages[0], "%env") {
		t.Errorf("%%help env paged %q, %v", h.s.pages, err)
	}
}

func TestRunErrors(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		cell bool
		want string
	}{
		{"nosuch", false, "unknown magic %nosuch: %lsmagic lists the magics there are"},
		{"nosuch", true, "unknown magic %%nosuch: %lsmagic lists the magics there are"},
		{"writefile", false, "%writefile is a cell magic: start the cell with %%writefile"},
		{"cd", true, "%%cd is not a cell magic"},
		{"%time", false, "%%time must be the first line of its cell"},
		{"", false, "a magic needs a name after %"},
	}
	for _, tt := range tests {
		var err error
		if tt.cell {
			err = h.cell(tt.name, "", "")
		} else {
			err = h.line(tt.name, "")
		}
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("run %q (cell %v): error %v, want it to start %q", tt.name, tt.cell, err, tt.want)
		}
	}
}

// TestExit: exit asks the client to end the session, unless a cell
// declared the name, which then runs as Go.
func TestExit(t *testing.T) {
	for _, cell := range []string{"exit", "quit()", "%exit", "%quit"} {
		h := newHarness(t)
		for _, seg := range Split(cell) {
			if err := h.r.Run(context.Background(), &Call{Name: seg.Name, Args: seg.Args, Stdout: &h.out, Stderr: &h.err, S: h.s}); err != nil {
				t.Fatalf("%s: %v", cell, err)
			}
		}
		if h.s.exits != 1 || len(h.s.evals) != 0 {
			t.Errorf("%s: %d exits, evals %q; want 1 exit", cell, h.s.exits, h.s.evals)
		}
	}
	h := newHarness(t)
	h.s.docs = map[string]string{"exit": "func exit()"}
	seg := Split("exit()")[0]
	if err := h.r.Run(context.Background(), &Call{Name: seg.Name, Args: seg.Args, Stdout: &h.out, S: h.s}); err != nil {
		t.Fatal(err)
	}
	if h.s.exits != 0 || len(h.s.evals) != 1 || h.s.evals[0] != "exit()" {
		t.Errorf("a declared exit: %d exits, evals %q; want it run as Go", h.s.exits, h.s.evals)
	}
	if err := newHarness(t).line("exit", "now"); err == nil || !strings.Contains(err.Error(), "takes no arguments") {
		t.Errorf("%%exit now: %v", err)
	}
}

// TestHelpPrefersMagicsToPackagesNotImported: %help metrics is the magic
// until a cell imports runtime/metrics; the page points to the package.
func TestHelpPrefersMagicsToPackagesNotImported(t *testing.T) {
	h := newHarness(t)
	h.s.docs = map[string]string{
		"metrics": "package metrics // import \"runtime/metrics\"\n\nPackage metrics provides a stable interface...",
		"time":    "package time // import \"time\"\n\nPackage time provides functionality for measuring and displaying time.",
	}
	for _, tt := range []struct {
		name     string
		inScope  bool
		want     []string
		dontWant string
	}{
		{"metrics", false, []string{"%metrics ID [ID ...]", "For Go's package runtime/metrics, ask for ?runtime/metrics."}, "stable interface"},
		{"metrics", true, []string{"stable interface"}, "%metrics ID"},
		{"time", false, []string{"%time STATEMENT", "For Go's package time, import it in a cell; ?time then shows it."}, "measuring"},
		{"time", true, []string{"measuring"}, "%time"},
	} {
		h.s.inScope = map[string]bool{tt.name: tt.inScope}
		if err := Help(h.r, h.s, tt.name, 1); err != nil {
			t.Fatal(err)
		}
		page := h.s.pages[len(h.s.pages)-1]
		for _, w := range tt.want {
			if !strings.Contains(strings.Join(strings.Fields(page), " "), w) {
				t.Errorf("%s (in scope %v): page lacks %q:\n%s", tt.name, tt.inScope, w, page)
			}
		}
		if strings.Contains(page, tt.dontWant) {
			t.Errorf("%s (in scope %v): page has %q:\n%s", tt.name, tt.inScope, tt.dontWant, page)
		}
	}
}
