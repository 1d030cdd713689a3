package environment

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// versionTimeout bounds a run of an interpreter to ask its version.
const versionTimeout = 30 * time.Second

// plan is how a spec will be built: with a conda tool, or with a venv of
// a base interpreter.
type plan struct {
	conda     string // path of the conda tool; "" for a venv build
	python    string // base interpreter of a venv build
	pyVersion string // its version, "3.11.7"
}

// plan chooses how to build c, without touching the build root. It fails,
// saying what to install, when no tool on this host can build the spec.
func (b *Builder) plan(ctx context.Context, c *CondaDependencies) (plan, error) {
	var needConda []string
	var pin []string
	var pinErr error
	for _, s := range c.CondaPackages {
		cs, err := parseCondaSpec(s)
		if err != nil {
			return plan{}, err
		}
		switch {
		case cs.name == "python" && cs.channel == "":
			pin, pinErr = cs.pythonPin()
		case cs.name == "pip" && cs.channel == "" && cs.rest == "":
		default:
			needConda = append(needConda, strings.TrimSpace(s))
		}
	}
	if len(c.CondaPackages) > 0 {
		for _, tool := range b.condaTools() {
			if path, err := exec.LookPath(tool); err == nil {
				return plan{conda: path}, nil
			}
		}
	}
	tools := strings.Join(b.condaTools(), ", ")
	if len(needConda) > 0 {
		return plan{}, fmt.Errorf("the spec lists conda packages (%s) but none of %s is on PATH: install micromamba (https://mamba.readthedocs.io/en/latest/installation/micromamba-installation.html) or conda, or list the packages as pip packages if PyPI has them",
			strings.Join(needConda, ", "), tools)
	}
	if pinErr != nil {
		return plan{}, fmt.Errorf("%w; install micromamba or conda (none of %s is on PATH) to build it with conda", pinErr, tools)
	}
	return b.findPython(ctx, pin)
}

// findPython finds a base interpreter for a venv build whose version
// starts with pin (any version when pin is nil): pythonX.Y from PATH when
// pin names X.Y, else Builder.Python.
func (b *Builder) findPython(ctx context.Context, pin []string) (plan, error) {
	candidates := []string{b.python()}
	if len(pin) >= 2 {
		candidates = append([]string{"python" + pin[0] + "." + pin[1]}, candidates...)
	}
	var found []string
	for _, name := range candidates {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		v, err := pythonVersion(ctx, path)
		if err != nil {
			found = append(found, fmt.Sprintf("%s does not run (%v)", path, err))
			continue
		}
		if versionMatches(v, pin) {
			return plan{python: path, pyVersion: v}, nil
		}
		found = append(found, fmt.Sprintf("%s is Python %s", path, v))
	}
	if len(found) == 0 {
		return plan{}, fmt.Errorf("no Python to create a venv with: %s is not on PATH; install Python 3 with its venv module, or set Builder.Python to an interpreter", strings.Join(candidates, " nor "))
	}
	if pin == nil {
		return plan{}, fmt.Errorf("no Python to create a venv with: %s; install Python 3, or set Builder.Python to an interpreter that runs", strings.Join(found, "; "))
	}
	want := strings.Join(pin, ".")
	return plan{}, fmt.Errorf("the spec pins python=%s but %s; install Python %s (as python%s on PATH), set Builder.Python to it, or install micromamba or conda to build the spec with conda",
		want, strings.Join(found, "; "), want, strings.Join(pin[:min(2, len(pin))], "."))
}

// pythonVersion returns the version of the interpreter at path, "3.11.7".
func pythonVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	cmd := command(ctx, path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])")
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// versionMatches reports whether version's components start with pin's:
// "3.11.7" matches [3 11] and [3 11 7], not [3 1].
func versionMatches(version string, pin []string) bool {
	v := strings.Split(version, ".")
	if len(pin) > len(v) {
		return false
	}
	for i, p := range pin {
		if v[i] != p {
			return false
		}
	}
	return true
}
