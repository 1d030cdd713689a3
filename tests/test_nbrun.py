"""`gantry nbrun` runs notebooks headless (a Gantry notebook on the binary's
own kernel, a Python notebook on ipykernel found as Jupyter finds it), and a
notebook submitted with %submit or `gantry run submit` runs as a run.
Notebooks 00-03 run under nbrun in their own test modules."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import BIN, HANG, KERNEL_NAME, stdout_of

pytestmark = pytest.mark.skipif(KERNEL_NAME != "gantry", reason="Go notebooks")


def write(path: Path, kernel: dict, params: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = kernel
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A *notebook*"), p, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nbformat.write(nb, path)
    return path


GO = {"name": "gantry", "language": "go", "display_name": "Go (Gantry)"}
PY = {"name": "python3", "language": "python", "display_name": "Python 3"}


def nbrun(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), "nbrun", *args], cwd=cwd, capture_output=True, text=True, timeout=HANG * 2,
                          env={**os.environ, **(env or {})})


def test_failing_cell_exits_nonzero_with_its_number(tmp_path):
    write(tmp_path / "nb.ipynb", GO, "n := 2", 'import "fmt"\nfmt.Println("before", n)', "panic(fmt.Sprint(\"boom \", n))",
          'fmt.Println("after")')
    proc = nbrun("nb.ipynb", "-p", "n", "3", "--out", "out.ipynb", "--html", "out.html", cwd=tmp_path)
    assert proc.returncode == 1, proc
    assert "before 3\n" in proc.stdout and "after" not in proc.stdout
    lines = proc.stderr.splitlines()
    assert lines[-1] == 'gantry: nbrun nb.ipynb: cell 5 (In [4]) "panic(fmt.Sprint(\\"boom \\", n))" failed: panic: boom 3', lines
    assert "[nbrun] cell 4 of 6 (3/5): import \"fmt\"" in proc.stderr
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    nbformat.validate(nb)
    assert [o.output_type for o in nb.cells[4].outputs] == ["error"] and nb.cells[5].execution_count is None
    html = (tmp_path / "out.html").read_text()
    assert "<h1>A <em>notebook</em></h1>" in html and "boom 3" in html


def test_python_notebook_on_ipykernel(tmp_path):
    write(tmp_path / "nb.ipynb", PY, "alpha = 0.5", "print('alpha is', alpha)\nalpha * 2",
          "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))",
          "import shutil, sys\nassert shutil.which('python') == sys.executable, (shutil.which('python'), sys.executable)")
    proc = nbrun("nb.ipynb", "-p", "alpha", "0.25", "--python", sys.executable, "--out", "out.ipynb", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "alpha is 0.25\n0.5\n" in proc.stdout, proc.stdout
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.cells[2].source == "# Parameters\nalpha = 0.25\n"
    assert nb.cells[4].outputs[0].data["text/html"] == "<b>bold</b>"


def test_missing_kernel_says_where_it_looked(tmp_path):
    write(tmp_path / "nb.ipynb", {"name": "julia-1.10", "language": "julia", "display_name": "Julia"}, "x = 1")
    proc = nbrun("nb.ipynb", cwd=tmp_path)
    assert proc.returncode == 1
    assert 'the notebook\'s kernel "julia-1.10" (language julia) is not installed on this machine' in proc.stderr, proc.stderr
    assert os.environ["JUPYTER_PATH"] in proc.stderr and "gantry (go)" in proc.stderr, proc.stderr


def test_submit_magic_runs_a_notebook(k, tmp_path):
    write(tmp_path / "train.ipynb", GO, "alpha := 0.5\nname := \"x\"",
          'import "fmt"\nfmt.Printf("alpha=%v name=%s\\n", alpha, name)')
    k.ok(f"%cd {tmp_path}")
    k.ok("%env GANTRY_WORKSPACE=")
    k.ok("%compute create local local")
    reply, outputs = k.run("%submit train.ipynb -p alpha 0.75 -r name 'hello world'", timeout=HANG * 2)
    out = stdout_of(outputs)
    assert reply["content"]["status"] == "ok", outputs
    assert "alpha=0.75 name=hello world\n" in out and "[nbrun] done: 3 code cells" in out and ": Completed" in out, out
    executed = list(tmp_path.glob(".gantry/runs/*/outputs/train.ipynb"))
    assert len(executed) == 1, executed
    nb = nbformat.read(executed[0], as_version=4)
    assert nb.cells[2].source == '// Parameters\nvar alpha = 0.75\nvar name = "hello world"\n'
    # The CLI does the same, and refuses what cannot run, saying why.
    env = {"GANTRY_AGENT_BINARY": str(BIN), "GANTRY_WORKSPACE": str(tmp_path / ".gantry")}
    sub = subprocess.run([str(BIN), "run", "submit", "--target", "local", "train.ipynb", "-p", "alpha", "1.5"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=HANG, env={**os.environ, **env})
    assert sub.returncode == 0, sub.stderr
    wait = subprocess.run([str(BIN), "run", "wait", sub.stdout.strip()], cwd=tmp_path, capture_output=True, text=True,
                          timeout=HANG, env={**os.environ, **env})
    assert wait.stdout.strip() == "Completed", wait
    bad = subprocess.run([str(BIN), "run", "submit", "--target", "local", "train.ipynb", "-p", "len", "1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=HANG, env={**os.environ, **env})
    assert bad.returncode == 1 and 'parameter name "len" is predeclared in Go' in bad.stderr, bad.stderr
