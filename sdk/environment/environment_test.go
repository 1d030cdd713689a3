package environment

import (
	"strings"
	"testing"
)

// keyBase is the spec the Key tests change one thing of at a time.
func keyBase() *Environment {
	e := New("base")
	e.Python.CondaDependencies = &CondaDependencies{
		Name:          "base",
		Channels:      []string{"conda-forge", "defaults"},
		CondaPackages: []string{"python=3.11", "scikit-learn=1.4", "numpy>=1.26"},
		PipPackages:   []string{"requests==2.31.0", "Scikit_Learn_Extra==0.3.0"},
		PipOptions:    PipOptions{FindLinks: []string{"/wheels"}},
	}
	return e
}

func TestKeySame(t *testing.T) {
	base := keyBase().Key()
	tests := []struct {
		name   string
		change func(e *Environment)
	}{
		{"nothing", func(e *Environment) {}},
		{"conda packages reordered", func(e *Environment) {
			e.Python.CondaDependencies.CondaPackages = []string{"numpy>=1.26", "scikit-learn=1.4", "python=3.11"}
		}},
		{"pip packages reordered", func(e *Environment) {
			e.Python.CondaDependencies.PipPackages = []string{"Scikit_Learn_Extra==0.3.0", "requests==2.31.0"}
		}},
		{"duplicates", func(e *Environment) {
			c := e.Python.CondaDependencies
			c.CondaPackages = append(c.CondaPackages, "numpy>=1.26")
			c.PipPackages = append(c.PipPackages, "requests == 2.31.0")
		}},
		{"pip name spelled differently", func(e *Environment) {
			e.Python.CondaDependencies.PipPackages = []string{"Requests==2.31.0", "scikit-learn.extra==0.3.0"}
		}},
		{"conda name case and whitespace", func(e *Environment) {
			e.Python.CondaDependencies.CondaPackages = []string{" Python = 3.11 ", "Scikit-Learn=1.4", "NumPy >= 1.26"}
		}},
		{"name", func(e *Environment) { e.Name = "other"; e.Python.CondaDependencies.Name = "other" }},
		{"environment variables", func(e *Environment) { e.EnvironmentVariables = map[string]string{"A": "1"} }},
		{"base image while docker is off", func(e *Environment) { e.Docker.BaseImage = DefaultGPUImage }},
		{"interpreter path of a system-managed env", func(e *Environment) { e.Python.InterpreterPath = "/opt/py" }},
		{"channel trailing slash", func(e *Environment) {
			e.Python.CondaDependencies.Channels = []string{"conda-forge/", " defaults"}
		}},
	}
	for _, tt := range tests {
		e := keyBase()
		tt.change(e)
		if got := e.Key(); got != base {
			t.Errorf("%s: key changed from %s to %s", tt.name, base, got)
		}
	}
}

func TestKeyChanges(t *testing.T) {
	base := keyBase().Key()
	tests := []struct {
		name   string
		change func(e *Environment)
	}{
		{"conda version", func(e *Environment) { e.Python.CondaDependencies.CondaPackages[1] = "scikit-learn=1.5" }},
		{"python pin", func(e *Environment) { e.Python.CondaDependencies.CondaPackages[0] = "python=3.12" }},
		{"python unpinned", func(e *Environment) { e.Python.CondaDependencies.CondaPackages[0] = "python" }},
		{"pip version", func(e *Environment) { e.Python.CondaDependencies.PipPackages[0] = "requests==2.32.0" }},
		{"pip extra", func(e *Environment) { e.Python.CondaDependencies.PipPackages[0] = "requests[socks]==2.31.0" }},
		{"conda package added", func(e *Environment) {
			c := e.Python.CondaDependencies
			c.CondaPackages = append(c.CondaPackages, "pandas")
		}},
		{"pip package removed", func(e *Environment) {
			e.Python.CondaDependencies.PipPackages = e.Python.CondaDependencies.PipPackages[:1]
		}},
		{"package moved from conda to pip", func(e *Environment) {
			c := e.Python.CondaDependencies
			c.CondaPackages = c.CondaPackages[:2]
			c.PipPackages = append(c.PipPackages, "numpy>=1.26")
		}},
		{"channel order", func(e *Environment) {
			e.Python.CondaDependencies.Channels = []string{"defaults", "conda-forge"}
		}},
		{"channel added", func(e *Environment) {
			c := e.Python.CondaDependencies
			c.Channels = append(c.Channels, "pytorch")
		}},
		{"index URL", func(e *Environment) { e.Python.CondaDependencies.PipOptions.IndexURL = "https://mirror/simple" }},
		{"find-links", func(e *Environment) { e.Python.CondaDependencies.PipOptions.FindLinks = []string{"/other"} }},
		{"no-index", func(e *Environment) { e.Python.CondaDependencies.PipOptions.NoIndex = true }},
		{"docker enabled", func(e *Environment) { e.Docker.Enabled = true }},
		{"user-managed", func(e *Environment) { e.Python.UserManagedDependencies = true }},
	}
	seen := map[string]string{base: "base"}
	for _, tt := range tests {
		e := keyBase()
		tt.change(e)
		got := e.Key()
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: key %s is the same as for %s", tt.name, got, prev)
		}
		seen[got] = tt.name
	}
}

func TestKeyDockerImage(t *testing.T) {
	e := keyBase()
	e.Docker.Enabled = true
	cpu := e.Key()
	e.Docker.BaseImage = DefaultGPUImage
	if e.Key() == cpu {
		t.Error("changing the base image of a Docker environment kept its key")
	}
}

func TestKeyNilSpecIsEmptySpec(t *testing.T) {
	a := &Environment{}
	b := &Environment{Python: PythonSection{CondaDependencies: &CondaDependencies{Name: "x"}}}
	if a.Key() != b.Key() {
		t.Error("a nil spec and an empty spec have different keys")
	}
	if len(a.Key()) != 64 || strings.Trim(a.Key(), "0123456789abcdef") != "" {
		t.Errorf("Key() = %q, want 64 hex digits", a.Key())
	}
}

func TestNewDefaults(t *testing.T) {
	e := New("train")
	if e.Python.UserManagedDependencies || e.Docker.Enabled {
		t.Errorf("New: user-managed %v, docker %v; want both false as in the seed", e.Python.UserManagedDependencies, e.Docker.Enabled)
	}
	if e.Docker.BaseImage != DefaultCPUImage || e.Python.InterpreterPath != DefaultInterpreterPath {
		t.Errorf("New: base image %q, interpreter %q", e.Docker.BaseImage, e.Python.InterpreterPath)
	}
	if e.Python.CondaDependencies == nil || e.Python.CondaDependencies.Name != "train" {
		t.Errorf("New: spec %+v, want an empty spec named train", e.Python.CondaDependencies)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate of the defaults: %v", err)
	}
}

func TestEnvironmentValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *Environment)
		want   string
	}{
		{"bad variable", func(e *Environment) { e.EnvironmentVariables = map[string]string{"A=B": "x"} }, "variable name"},
		{"docker without image", func(e *Environment) { e.Docker.Enabled, e.Docker.BaseImage = true, "" }, "Docker.BaseImage is empty"},
		{"bad package", func(e *Environment) { e.Python.CondaDependencies.CondaPackages = []string{"numpy="} }, "conda package 1"},
	}
	for _, tt := range tests {
		e := New("v")
		tt.change(e)
		if err := e.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}
