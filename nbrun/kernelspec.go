package nbrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Spec is a kernelspec: how to start a kernel.
type Spec struct {
	Name          string            `json:"-"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	Argv          []string          `json:"argv"`
	Env           map[string]string `json:"env"`
	InterruptMode string            `json:"interrupt_mode"` // "signal" (default) or "message"
	Dir           string            `json:"-"`              // the kernelspec's directory; "" for one Gantry knows without a file
}

// Kernels finds kernelspecs as jupyter_client does, in the directories
// [Kernels.Dirs] lists.
type Kernels struct {
	// Python is the interpreter of the run's environment, if any: its
	// prefix's share/jupyter/kernels is searched, and a kernelspec whose
	// argv starts with "python" runs with it, as jupyter_client runs such
	// a kernel with its own sys.executable.
	Python string
	// Self is the gantry binary, which is the kernel of Gantry (Go)
	// notebooks: they need nothing installed.
	Self string
}

// Dirs returns the kernelspec directories in search order: each of
// $JUPYTER_PATH, the Python environment's prefix, the user's Jupyter data
// directory, then /usr/local/share/jupyter and /usr/share/jupyter.
func (k *Kernels) Dirs() []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("JUPYTER_PATH")) {
		if d != "" {
			dirs = append(dirs, filepath.Join(d, "kernels"))
		}
	}
	if k.Python != "" {
		if py, err := exec.LookPath(k.Python); err == nil {
			if abs, err := filepath.Abs(py); err == nil {
				// <prefix>/bin/python: not resolving links, a venv's
				// python is a link out of the venv.
				dirs = append(dirs, filepath.Join(filepath.Dir(filepath.Dir(abs)), "share", "jupyter", "kernels"))
			}
		}
	}
	if d := userDataDir(); d != "" {
		dirs = append(dirs, filepath.Join(d, "kernels"))
	}
	dirs = append(dirs, "/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels")
	return dirs
}

// userDataDir is jupyter_core's jupyter_data_dir.
func userDataDir() string {
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	if runtime.GOOS == "darwin" {
		return filepath.Join(home, "Library", "Jupyter")
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "jupyter")
	}
	return filepath.Join(home, ".local", "share", "jupyter")
}

// ErrNoKernel is wrapped by Find's error for a kernel that is not
// installed.
var ErrNoKernel = errors.New("not installed")

// Find returns the kernelspec of a notebook whose metadata names kernel
// name and language. Gantry notebooks (kernel "gantry", or language "go"
// where no kernelspec has the name) run on the Gantry kernel of Self;
// "python3", when no kernelspec has that name, is ipykernel in Python if
// it has it, as jupyter_client does. The error of a kernel not found says
// where it looked and what is installed.
func (k *Kernels) Find(ctx context.Context, name, language string) (*Spec, error) {
	if name == "" && language == "" {
		return nil, errors.New("the notebook names no kernel (metadata.kernelspec): give one with --kernel NAME")
	}
	if name == "gantry" {
		return k.gantry()
	}
	dirs := k.Dirs()
	for _, d := range dirs {
		if s, err := readSpec(filepath.Join(d, name)); err == nil {
			s.Argv = k.withPython(s.Argv)
			return s, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if language == "go" {
		return k.gantry()
	}
	if name == "python3" {
		if s := k.ipykernel(ctx); s != nil {
			return s, nil
		}
	}
	installed := k.list(dirs)
	have := "none"
	if len(installed) > 0 {
		have = strings.Join(installed, ", ")
	}
	hint := "install it there or run the notebook with another kernel (--kernel NAME)"
	if name == "python3" || language == "python" {
		hint = "install ipykernel in the run's Python (pip install ipykernel; python -m ipykernel install --user), or run the notebook with another kernel (--kernel NAME)"
	}
	lang := ""
	if language != "" {
		lang = fmt.Sprintf(" (language %s)", language)
	}
	return nil, fmt.Errorf("the notebook's kernel %q%s is %w on this machine: no kernelspec %s in %s (kernels installed: %s); %s",
		name, lang, ErrNoKernel, name, strings.Join(dirs, ", "), have, hint)
}

// gantry is the Gantry kernel, run by this very binary.
func (k *Kernels) gantry() (*Spec, error) {
	self := k.Self
	if self == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the gantry binary to run a Go notebook: %w", err)
		}
		self = exe
	}
	// History stays the user's: a headless run does not add to it.
	return &Spec{Name: "gantry", DisplayName: "Go (Gantry)", Language: "go", InterruptMode: "message",
		Argv: []string{self, "kernel", "--connection-file", "{connection_file}", "--history", "-"}}, nil
}

// ipykernel is jupyter_client's built-in python3 kernelspec: ipykernel in
// the Python at hand, if it has it.
func (k *Kernels) ipykernel(ctx context.Context) *Spec {
	py := k.Python
	if py == "" {
		py = "python3"
	}
	path, err := exec.LookPath(py)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if exec.CommandContext(ctx, path, "-c", "import ipykernel").Run() != nil {
		return nil
	}
	return &Spec{Name: "python3", DisplayName: "Python 3 (ipykernel)", Language: "python",
		Argv: []string{path, "-m", "ipykernel_launcher", "-f", "{connection_file}"}}
}

// withPython runs a kernelspec whose argv starts with python (python,
// python3, python3.N) with the environment's interpreter.
func (k *Kernels) withPython(argv []string) []string {
	if k.Python == "" || len(argv) == 0 {
		return argv
	}
	if a := argv[0]; a == "python" || a == "python3" || strings.HasPrefix(a, "python3.") {
		return append([]string{k.Python}, argv[1:]...)
	}
	return argv
}

func readSpec(dir string) (*Spec, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return nil, err
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("kernelspec %s: %w", filepath.Join(dir, "kernel.json"), err)
	}
	if len(s.Argv) == 0 {
		return nil, fmt.Errorf("kernelspec %s has no argv", filepath.Join(dir, "kernel.json"))
	}
	s.Name, s.Dir = filepath.Base(dir), dir
	return &s, nil
}

// list names the kernelspecs in dirs, with their languages.
func (k *Kernels) list(dirs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if seen[e.Name()] {
				continue
			}
			if s, err := readSpec(filepath.Join(d, e.Name())); err == nil {
				seen[e.Name()] = true
				out = append(out, fmt.Sprintf("%s (%s)", s.Name, s.Language))
			}
		}
	}
	sort.Strings(out)
	return out
}
