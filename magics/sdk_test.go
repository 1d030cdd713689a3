package magics

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSubmit(t *testing.T) {
	cases := []struct {
		args string
		want submitArgs
	}{
		{"train.py", submitArgs{experiment: "default", script: "train.py"}},
		{"--target gpu --experiment=mnist --no-wait dir/train.py --lr 0.1 -v",
			submitArgs{target: "gpu", experiment: "mnist", noWait: true, script: "dir/train.py", args: []string{"--lr", "0.1", "-v"}}},
		{"train.py -- --epochs 3", submitArgs{experiment: "default", script: "train.py", args: []string{"--epochs", "3"}}},
		{"--env env.yml --source src -- train.py a 'b c'",
			submitArgs{env: "env.yml", source: "src", experiment: "default", script: "train.py", args: []string{"a", "b c"}}},
		{`"my script.py"`, submitArgs{experiment: "default", script: "my script.py"}},
		{"--gpus 2 --submit-key k1 train.py", submitArgs{experiment: "default", gpus: 2, submitKey: "k1", script: "train.py"}},
	}
	for _, c := range cases {
		got, err := parseSubmit(c.args)
		if err != nil {
			t.Errorf("parseSubmit(%q): %v", c.args, err)
			continue
		}
		if len(got.args) == 0 {
			got.args = nil
		}
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("parseSubmit(%q) = %+v, want %+v", c.args, *got, c.want)
		}
	}
}

func TestParseSubmitErrors(t *testing.T) {
	cases := map[string]string{
		"":                      "needs a SCRIPT",
		"--target":              "--target needs a value",
		"--bogus train.py":      "unknown option --bogus",
		"--no-wait=1 train.py":  "takes no value",
		"--target a --target b": "given twice",
		"--gpus two train.py":   "give a number of GPUs",
		"--gpus -1 train.py":    "give a number of GPUs",
		"'unclosed":             "unterminated",
	}
	for args, want := range cases {
		_, err := parseSubmit(args)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseSubmit(%q) error = %v, want one containing %q", args, err, want)
		}
	}
}

func TestParseArgsPositional(t *testing.T) {
	p, err := parseArgs("compute", "create local gpu1 --max-concurrent-runs 2", flagSpec{"--max-concurrent-runs": true}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.pos, []string{"create", "local", "gpu1"}) || p.opts["--max-concurrent-runs"] != "2" {
		t.Errorf("got pos %q opts %v", p.pos, p.opts)
	}
	if _, err := intOpt("compute", &parsedArgs{opts: map[string]string{"--n": "x"}}, "--n", 0); err == nil ||
		!strings.Contains(err.Error(), "whole number") {
		t.Errorf("intOpt of x: %v", err)
	}
}

func TestMatchID(t *testing.T) {
	ids := []string{
		"0f8fad5b-d9cb-469f-a165-70867728950e",
		"0f8fad5c-d9cb-469f-a165-70867728950e",
		"7c9e6679-7425-40de-944b-e07fc1f90ae7",
	}
	for in, want := range map[string]string{
		"7c9e66":                               ids[2],
		"7C9E6679-7425":                        ids[2],
		"0f8fad5b":                             ids[0],
		"0f8fad5c-d9cb-469f-a165-70867728950e": ids[1],
	} {
		got, err := matchID(ids, in)
		if err != nil || got != want {
			t.Errorf("matchID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"7c9e6":  "too short",
		"0f8fad": "ambiguous",
		"nosuch": "no run has an ID starting with",
	} {
		if _, err := matchID(ids, in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("matchID(%q) error = %v, want one containing %q", in, err, want)
		}
	}
}

func TestTable(t *testing.T) {
	tb := &table{head: []string{"id", "state"}}
	tb.add(cell{text: "0f8fad5b", title: "0f8fad5b-full"}, cell{text: "<Running>"})
	b := tb.bundle()
	h := b.Data["text/html"].(string)
	if !strings.Contains(h, `<td title="0f8fad5b-full">0f8fad5b</td>`) || !strings.Contains(h, "&lt;Running&gt;") {
		t.Errorf("html:\n%s", h)
	}
	if got, want := b.Data["text/plain"].(string), "id        state\n0f8fad5b  <Running>"; got != want {
		t.Errorf("text:\n%q\nwant\n%q", got, want)
	}
}

func TestEnvironmentFor(t *testing.T) {
	e, err := environmentFor("python3")
	if err != nil || !e.Python.UserManagedDependencies || e.Python.InterpreterPath != "python3" {
		t.Fatalf("python3: %+v, %v", e, err)
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "conda_dependencies.yml")
	if err := os.WriteFile(spec, []byte("name: demo\ndependencies:\n  - python=3.11\n  - pip:\n    - requests\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err = environmentFor(spec)
	if err != nil {
		t.Fatal(err)
	}
	if e.Python.UserManagedDependencies || e.Python.CondaDependencies == nil || e.Name != "demo" {
		t.Errorf("conda file: %+v", e)
	}
	if _, err := environmentFor(filepath.Join(dir, "missing.yml")); err == nil {
		t.Error("missing.yml: no error")
	}
}

func TestOutputsPath(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "model.txt"), []byte("m"), 0o644)
	for in, want := range map[string]string{"sub/model.txt": "sub/model.txt", "outputs/sub/model.txt": "sub/model.txt", "sub": "sub"} {
		got, err := outputsPath(dir, in)
		if err != nil || got != want {
			t.Errorf("outputsPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := outputsPath(dir, "../x"); err == nil || !strings.Contains(err.Error(), "not a path inside") {
		t.Errorf("../x: %v", err)
	}
	if _, err := outputsPath(dir, "nope.pt"); err == nil || !strings.Contains(err.Error(), "sub/model.txt") {
		t.Errorf("nope.pt: %v", err)
	}
}

// TestComputeMagics runs %compute and %workspace against a real workspace.
func TestComputeMagics(t *testing.T) {
	t.Setenv("GANTRY_WORKSPACE", filepath.Join(t.TempDir(), "ws"))
	h := newHarness(t)
	if err := h.line("compute", "create local local --max-concurrent-runs 2"); err != nil {
		t.Fatal(err)
	}
	if err := h.line("compute", "list"); err != nil {
		t.Fatal(err)
	}
	if len(h.s.shown) != 1 || !strings.Contains(h.s.shown[0].Data["text/plain"].(string), `{"max_concurrent_runs":2}`) {
		t.Errorf("list shown: %+v", h.s.shown)
	}
	if err := h.line("compute", "show LOCAL"); err != nil || !strings.Contains(h.out.String(), "Kind:    local") {
		t.Errorf("show: %v\n%s", err, h.out.String())
	}
	for args, want := range map[string]string{
		"create local x": "2 to 16",
		"create ssh box": "needs --address and --user",
		"attach ssh box --address 127.0.0.1 --user me":                           "no way to log in",
		"attach box --kind ssh --address h --user u --password-env 'not a name'": "not an environment variable name",
		"list --address x":       "belongs to",
		"create local y --key k": "belongs to",
		"create local local":     "already exists",
		"show nosuch":            "%compute list",
		"frob":                   "unknown subcommand",
	} {
		if err := h.line("compute", args); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%%compute %s: error %v, want one containing %q", args, err, want)
		}
	}
	if err := h.line("workspace", ""); err != nil || !strings.Contains(h.out.String(), "compute targets: 1") {
		t.Errorf("workspace: %v\n%s", err, h.out.String())
	}
	if err := h.line("compute", "detach local"); err != nil {
		t.Fatal(err)
	}
	if err := h.line("submit", "nosuch.py"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("submit nosuch.py: %v", err)
	}
	if err := h.line("run", "show 123456"); err == nil || !strings.Contains(err.Error(), "%runs lists the runs") {
		t.Errorf("run show: %v", err)
	}
	// Help comes from Usage and Doc.
	if err := Help(h.r, h.s, "compute", 1); err != nil || !strings.Contains(h.s.pages[len(h.s.pages)-1], "%compute list") {
		t.Errorf("help compute: %v %q", err, h.s.pages)
	}
}

// TestClusterMagicErrors checks %compute create/update/status cluster
// arguments; every case is refused before Slurm is needed.
func TestClusterMagicErrors(t *testing.T) {
	t.Setenv("GANTRY_WORKSPACE", filepath.Join(t.TempDir(), "ws"))
	t.Setenv("GANTRY_SLURM_DIR", "")
	h := newHarness(t)
	if err := h.line("compute", "create local box"); err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]string{
		"create cluster c1 --vm-size HUGE --max-nodes 2":                                   `unknown VM size "HUGE": use one of STANDARD_D1_V2, STANDARD_D2_V2`,
		"create cluster c1 --max-nodes 2":                                                  "needs --vm-size SIZE, one of STANDARD_D1_V2",
		"create cluster c1 --vm-size STANDARD_D1_V2":                                       "needs --max-nodes N",
		"create cluster c1 --vm-size STANDARD_D1_V2 --min-nodes 3 --max-nodes 2":           "--min-nodes 3 is more than --max-nodes 2",
		"create cluster c1 --vm-size STANDARD_D1_V2 --max-nodes 0":                         "max_nodes is 0",
		"create cluster c1 --vm-size STANDARD_D1_V2 --max-nodes x":                         "--max-nodes takes a whole number",
		"create cluster c1 --vm-size STANDARD_D1_V2 --max-nodes 1 --idle-seconds -5":       "--idle-seconds takes a whole number",
		"create cluster c1 --vm-size STANDARD_D1_V2 --max-nodes 1 --priority spot":         `vm_priority "spot"`,
		"create cluster box --vm-size STANDARD_D1_V2 --max-nodes 1":                        "a local target of that name already exists",
		"create cluster c1 --vm-size STANDARD_D1_V2 --max-nodes 1":                         "no Slurm instance: start one with scripts/slurm.sh start",
		"create cluster c1 --nodes-of c0 --max-nodes 2":                                    "--max-nodes comes from the cluster in --nodes-of",
		"create cluster c1 --nodes-of nosuch":                                              `nodes of "nosuch"`,
		"create cluster c1 --vm-size STANDARD_D1_V2 --max-nodes 1 --max-concurrent-runs 2": "--max-concurrent-runs belongs to local",
		"create cluster c1 --vm-size STANDARD_D1_V2 --max-nodes 1 --key k":                 "belongs to %compute attach ssh",
		"create local c2 --max-nodes 2":                                                    "--max-nodes belongs to %compute create cluster",
		"create slurm c2":                                                                  "%compute create cluster NAME --vm-size SIZE",
		"list --vm-size x":                                                                 "--vm-size belongs to %compute create cluster",
		"status box --min-nodes 1":                                                         "--min-nodes belongs to",
		"update box --max-nodes 3":                                                         "--max-nodes belongs to managed clusters, and box is not one",
		"create cluster c1 --max-nodes":                                                    "--max-nodes needs a value",
		"create cluster":                                                                   "needs a KIND and a NAME",
	} {
		if err := h.line("compute", args); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%%compute %s: error %v, want one containing %q", args, err, want)
		}
	}
	if err := h.line("compute", "show c1"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a refused cluster was kept: %v", err)
	}
}
