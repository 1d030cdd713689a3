"""papermill parameterizes Gantry notebooks: its own CLI and Python API, with
the Go translator that `gantry install` puts into the environment (setup.sh
does it for .venv), executing on the real Gantry kernel; and the
translator writes byte for byte what `gantry nbrun` writes."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import BIN, KERNEL_NAME, HANG

pytestmark = pytest.mark.skipif(KERNEL_NAME != "gantry", reason="Go notebooks")
papermill = pytest.importorskip("papermill", reason="papermill is in requirements.txt")

# Every value the parameters cell declares or a run injects, printed as
# JSON with its Go type, so the test can compare values exactly.
PRINT = '''import (
	"encoding/json"
	"fmt"
)
func show(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf("%q", fmt.Sprint(v)))
	}
	fmt.Printf("%s\\t%T\\t%s\\n", name, v, b)
}
'''


def notebook(tmp_path: Path, names: list[str]) -> Path:
    """A Gantry notebook that declares alpha and name in its parameters
    cell and prints names (each with its Go type and JSON value)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "gantry", "language": "go", "display_name": "Go (Gantry)"}
    params = nbformat.v4.new_code_cell('alpha := 0.5 // learning rate\nname := "default"')
    params.metadata["tags"] = ["parameters"]
    show = "\n".join(f'show("{n}", {n})' for n in names)
    nb.cells = [params, nbformat.v4.new_code_cell(PRINT), nbformat.v4.new_code_cell(show)]
    path = tmp_path / "params.ipynb"
    nbformat.write(nb, path)
    return path


def shown(nb) -> dict[str, tuple[str, object]]:
    """name -> (Go type, value) from the notebook's last cell."""
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    out = {}
    for line in text.splitlines():
        name, typ, value = line.split("\t", 2)
        out[name] = (typ, json.loads(value))
    return out


def injected(nb) -> str:
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, [c.metadata for c in nb.cells]
    return cells[0].source


def papermill_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "papermill", *args], cwd=cwd, capture_output=True, text=True, timeout=HANG * 3)


STRINGS = {
    "quotes": 'say "hi" and \'bye\'',
    "backslashes": "C:\\path\\n not a newline \\",
    "newlines": "line 1\nline 2\r\n\ttabbed",
    "unicode": "é 日本 😀 ‮rtl ﻿bom  nbsp",
    "controls": "bell\x07 del\x7f esc\x1b",
}
# A command line cannot carry a NUL; the Python API can.
API_STRINGS = {**STRINGS, "nul": "a\x00b"}


def test_translator_is_installed():
    import gantry_papermill  # noqa: F401  (gantry install put it there)
    from papermill.translators import papermill_translators
    assert papermill_translators.find_translator("gantry", "go").__name__ == "GoTranslator"


def test_cli_every_type(jupyter_env, tmp_path):
    args = []
    for k, v in STRINGS.items():
        args += ["-p", k, v]
    args += ["-p", "alpha", "0.9",  # declared by the parameters cell: its value is replaced
             "-p", "count", "42", "-p", "negative", "-7", "-p", "ratio", "1e-3", "-p", "flag", "True",
             "-p", "nothing", "None", "-r", "raw", "True",
             "-y", "ints: [1, 2, 3]\nmixed: [1, 2.5]\nanys: [1, two, null]\nnested: [[1, 2], [3]]\n"
                   "dict: {a: 1, b: 2}\ndeep: {x: [1.5, 2], y: {z: true}}\nempty: []\nanswer: yes\nhex: 0x1F\n"]
    names = [*STRINGS, "alpha", "name", "count", "negative", "ratio", "flag", "nothing", "raw", "ints", "mixed", "anys",
             "nested", "dict", "deep", "empty", "answer", "hex"]
    path = notebook(tmp_path, names)
    proc = papermill_cli(str(path), str(tmp_path / "out.ipynb"), "-k", "gantry", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    got = shown(nb)
    for k, v in STRINGS.items():
        assert got[k] == ("string", v), (k, got[k], injected(nb))
    assert got["alpha"] == ("float64", 0.9)
    assert got["name"] == ("string", "default")
    assert got["count"] == ("int", 42) and got["negative"] == ("int", -7)
    assert got["ratio"] == ("float64", 0.001) and got["flag"] == ("bool", True)
    assert got["nothing"] == ("<nil>", None) and got["raw"] == ("string", "True")
    assert got["ints"] == ("[]int", [1, 2, 3]) and got["mixed"] == ("[]float64", [1, 2.5])
    assert got["anys"] == ("[]interface {}", [1, "two", None])
    assert got["nested"] == ("[][]int", [[1, 2], [3]])
    assert got["dict"] == ("map[string]int", {"a": 1, "b": 2})
    assert got["deep"] == ("map[string]interface {}", {"x": [1.5, 2], "y": {"z": True}})
    assert got["empty"] == ("[]interface {}", [])
    assert got["answer"] == ("bool", True) and got["hex"] == ("int", 31)  # YAML 1.1, as papermill reads it
    # papermill knows the parameters cell's names (no unknown-parameter warning for them).
    assert "Passed unknown parameter: alpha" not in proc.stderr and "Passed unknown parameter: count" in proc.stderr


def test_python_api_every_type(jupyter_env, tmp_path):
    params = {
        "alpha": 2.0, "inf": math.inf, "minf": -math.inf, "nan": math.nan, "negzero": -0.0, "big": 1e300,
        "tiny": 5e-324, "whole": 1e16, "nothing": None, "tuple": (1, 2), "nested": {"a": [{"b": None}], "c": "d"},
        "intkeys": {1: "one", 2: "two"}, **API_STRINGS,
    }
    path = notebook(tmp_path, list(params))
    nb = papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), parameters=params, kernel_name="gantry",
                                    progress_bar=False)
    src = injected(nb)
    got = shown(nb)
    for k, v in API_STRINGS.items():
        assert got[k] == ("string", v), (k, got[k], src)
    assert got["alpha"] == ("float64", 2.0) and got["big"] == ("float64", 1e300) and got["tiny"] == ("float64", 5e-324)
    assert got["whole"] == ("float64", 1e16)
    # JSON cannot carry these: the cell shows them with %v.
    assert got["inf"] == ("float64", "+Inf") and got["minf"] == ("float64", "-Inf") and got["nan"] == ("float64", "NaN")
    assert got["negzero"][0] == "float64" and "math.Copysign(0, -1)" in src
    assert got["nothing"] == ("<nil>", None) and got["tuple"] == ("[]int", [1, 2])
    assert got["nested"] == ("map[string]interface {}", {"a": [{"b": None}], "c": "d"})
    assert got["intkeys"][0] == "map[int]string"  # (papermill cannot save a dict of mixed keys in its metadata)
    assert src.startswith('// Parameters\nimport "math"\n\n'), src


def test_refused_with_the_reason(jupyter_env, tmp_path):
    path = notebook(tmp_path, ["alpha"])
    for args, reason in [(["-p", "learning-rate", "1"], "parameter name 'learning-rate' is not a Go identifier"),
                         (["-p", "n", "100000000000000000000"], "parameter n: 100000000000000000000 does not fit in a Go int"),
                         (["-p", "any", "1"], "parameter name 'any' is predeclared in Go")]:
        proc = papermill_cli(str(path), str(tmp_path / "out.ipynb"), *args, cwd=tmp_path)
        assert proc.returncode != 0 and reason in proc.stderr, (args, proc.stderr[-2000:])


def test_help_notebook_lists_the_parameters(jupyter_env, tmp_path):
    proc = papermill_cli("--help-notebook", str(notebook(tmp_path, [])), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "alpha: Unknown type (default 0.5)" in proc.stdout and "learning rate" in proc.stdout, proc.stdout


# Parameters whose translation is easy to get subtly wrong: both
# translators must write exactly the same cell for them.
AGREE = """\
s1: "quote \\" backslash \\\\ tab \\t nl \\n cr \\r"
s2: "é 😀 日本 \\u202e \\ufeff \\u00a0 \\u2028 \\x00 \\x7f \\x85 \\u200b"
f1: 1.0
f2: 1.0e+16
f3: 0.1
f4: 1.5e-7
f5: -.inf
f6: .nan
f7: -0.0
f8: 123456789.123456789
i1: -9223372036854775808
i2: 017
b: off
n: ~
e: 1e3
l1: [1, 2.0, three, null, [4]]
l2: [[1.5], [2.5, 3]]
m1: {a: {b: [1, 2]}, c: {b: [3]}}
m2: {1: x, 2: y}
m3: {}
date: 2024-01-02
"""


def test_translators_agree_with_nbrun(jupyter_env, tmp_path):
    (tmp_path / "params.yaml").write_text(AGREE)
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "gantry", "language": "go", "display_name": "Go (Gantry)"}
    cell = nbformat.v4.new_code_cell("x := 1")
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "p.ipynb")
    proc = papermill_cli("--prepare-only", "p.ipynb", "pm.ipynb", "-f", "params.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(BIN), "nbrun", "p.ipynb", "-f", "params.yaml", "--out", "nbrun.ipynb"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=HANG)
    assert run.returncode == 0, run.stderr
    ours = injected(nbformat.read(tmp_path / "nbrun.ipynb", as_version=4))
    theirs = injected(nbformat.read(tmp_path / "pm.ipynb", as_version=4))
    assert ours == theirs
    assert 'var e = "1e3"' in ours and 'var date = "2024-01-02"' in ours and "var i2 = 15" in ours, ours
