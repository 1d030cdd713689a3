"""The tour notebook runs end to end with nbclient, and `jupyter console`
drives the kernel from a terminal."""
from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import BIN, KERNEL_NAME, ROOT, notebook_cell as cell, cell_text as text

TOUR = ROOT / "notebooks" / "00-kernel-tour.ipynb"


@pytest.fixture(scope="module")
def tour(jupyter_env, tmp_path_factory):
    nb = nbformat.read(TOUR, as_version=4)
    assert nb.metadata.kernelspec.name == "gantry"
    assert nb.metadata.kernelspec.language == "go"
    workdir = tmp_path_factory.mktemp("tour")
    # allow_errors: run every cell so that each test below reports on its own
    # cells; test_only_tagged_cell_errors fails for any unexpected error (as
    # `make demo`, which runs with allow_errors=False, would).
    client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=120, startup_timeout=60,
                            allow_errors=True, resources={"metadata": {"path": str(workdir)}})
    client.execute()
    nbformat.write(nb, workdir / "executed.ipynb")
    return nb


def outputs(c, output_type=None):
    return [o for o in c.outputs if output_type is None or o.output_type == output_type]


def result(c) -> str:
    res = outputs(c, "execute_result")
    assert len(res) == 1, f"cell {c.source[:40]!r}: outputs {c.outputs}"
    return res[0].data["text/plain"]


def test_every_cell_ran(tour):
    for c in tour.cells:
        if c.cell_type == "code":
            assert c.execution_count, f"cell did not run: {c.source[:60]!r}"


def test_only_tagged_cell_errors(tour):
    problems = []
    for c in tour.cells:
        if c.cell_type != "code":
            continue
        errs = outputs(c, "error")
        tagged = "raises-exception" in c.metadata.get("tags", [])
        if bool(errs) != tagged:
            what = f"{errs[0].ename}: {errs[0].evalue}" if errs else "no error"
            problems.append(f"cell {c.source[:50]!r} (tagged={tagged}): {what}")
    assert not problems, "\n".join(problems)


def test_values_persist(tour):
    assert "x is 41" in text(cell(tour, 'fmt.Println("x is", x)'))
    assert result(cell(tour, "x + 1")) == "42"
    assert result(cell(tour, 'strings.Repeat("go", 3)')) == '"gogogo"'


def test_funcs_types_generics(tour):
    assert result(cell(tour, 'greet("gopher")')) == '"hello, gopher"'
    assert re.fullmatch(r"\{(X:)?11 (Y:)?22\}", result(cell(tour, "Point{1, 2}.Add"))), result(cell(tour, "Point{1, 2}.Add"))
    assert result(cell(tour, "func Map[T, U any]")) == "[1 4 9 16]"


def test_rich_display(tour):
    c = cell(tour, "display.HTML(")
    html = [o for o in c.outputs if "text/html" in o.get("data", {})]
    assert html and "<b>bold</b>" in html[0].data["text/html"]
    assert any("text/markdown" in o.get("data", {}) for o in c.outputs)
    svg = cell(tour, "display.SVG(")
    assert any("image/svg+xml" in o.get("data", {}) for o in svg.outputs)


def test_png(tour):
    c = cell(tour, "png.Encode")
    pngs = [o for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1, c.outputs
    raw = base64.b64decode(pngs[0].data["image/png"])
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")


def test_display_update(tour):
    c = cell(tour, "display.ShowID(progress")
    shown = [o for o in c.outputs if o.output_type == "display_data"]
    assert len(shown) == 1, c.outputs
    assert "step **5** of 5" in shown[0].data.get("text/markdown", shown[0].data.get("text/plain", ""))


def test_magics(tour):
    ls = text(cell(tour, "%lsmagic"))
    for name in ("%%writefile", "%cd", "%env", "%%time", "%lsmagic"):
        assert name in ls, ls
    # A directory of the user's own (os.MkdirTemp), not one /tmp/gantry-tour shared by every user.
    cd = text(cell(tour, "%cd $TOUR")).strip()
    assert re.fullmatch(re.escape(tempfile.gettempdir()) + r"/gantry-tour-\d+", cd), cd
    assert "Hello from a cell magic." in text(cell(tour, "!cat hello.txt"))
    assert result(cell(tour, 'os.Getenv("GANTRY_TOUR")')) == '"works"'
    timed = text(cell(tour, "%%time"))
    assert "sum: 499999500000" in timed
    assert re.search(r"(?i)wall|time", timed.replace("sum:", "")), timed


def test_goroutines(tour):
    assert "3 workers finished" in text(cell(tour, "results := make(chan string"))


def test_error_cell(tour):
    c = cell(tour, "divide(1, 0)")
    errs = outputs(c, "error")
    assert len(errs) == 1
    tb = "\n".join(errs[0].traceback) + errs[0].evalue
    assert "divide by zero" in tb, tb
    # the traceback points into the cell (line 2: return a / b)
    assert re.search(r"(?<![0-9]):2(?![0-9])|line 2(?![0-9])", tb), tb
    assert result(cell(tour, 'greet("again")')) == '"hello, again"'


def test_nbrun_executes_it_as_nbclient_does(tour, tmp_path):
    """gantry nbrun gives the tour the outputs nbclient gives it, cell for
    cell, where they do not depend on the moment or the directory."""
    proc = subprocess.run([str(BIN), "nbrun", str(TOUR), "--cwd", str(tmp_path), "--out", str(tmp_path / "out.ipynb")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    headless = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    nbformat.validate(headless)
    assert len(headless.cells) == len(tour.cells)
    varying = ("%%time", "%cd", "time.Now", "png.Encode")
    compared = 0
    for a, b in zip(tour.cells, headless.cells):
        if a.cell_type != "code":
            continue
        assert a.execution_count == b.execution_count, a.source[:60]
        assert [o.output_type for o in a.outputs] == [o.output_type for o in b.outputs], a.source[:60]
        if not any(v in a.source for v in varying):
            assert text(a) == text(b), a.source[:60]
            compared += 1
    assert compared >= 15, compared


def test_jupyter_console(jupyter_env):
    pexpect = pytest.importorskip("pexpect")
    jupyter = Path(sys.executable).with_name("jupyter")
    child = pexpect.spawn(str(jupyter), ["console", "--kernel", KERNEL_NAME, "--simple-prompt", "--no-confirm-exit"],
                          encoding="utf-8", timeout=60, env=dict(os.environ, TERM="dumb"), dimensions=(40, 200))
    log = []

    class Log:
        def write(self, s):
            log.append(s)

        def flush(self):
            pass

    child.logfile_read = Log()
    try:
        prompt = r"In \[\d+\]: "
        child.expect(prompt)
        child.sendline('import "fmt"')
        child.expect(prompt)
        child.sendline("fmt.Println(6*7)")
        child.expect(r"\b42\b")
        child.expect(prompt)
        child.sendeof()
        child.expect(pexpect.EOF)
    except (pexpect.TIMEOUT, pexpect.EOF) as e:
        raise AssertionError(f"jupyter console: {type(e).__name__}; transcript:\n{''.join(log)}") from None
    finally:
        child.close(force=True)


def _children(pid: int) -> list[int]:
    """PIDs of the processes whose parent is pid (from /proc)."""
    kids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            kids.append(int(d.name))
    return kids


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return ") Z " in stat


def test_kernel_exits_with_killed_console(jupyter_env):
    """A jupyter console killed with its terminal (SIGKILL, no shutdown
    request) leaves no kernel and no executor behind: the kernel sees its
    parent go (JPY_PARENT_PID is set by jupyter_client) and ends, and the
    executor ends with it."""
    pexpect = pytest.importorskip("pexpect")
    jupyter = Path(sys.executable).with_name("jupyter")
    child = pexpect.spawn(str(jupyter), ["console", "--kernel", KERNEL_NAME, "--simple-prompt", "--no-confirm-exit"],
                          encoding="utf-8", timeout=60, env=dict(os.environ, TERM="dumb"), dimensions=(40, 200))
    try:
        child.expect(r"In \[\d+\]: ")
        child.sendline("1+1")
        child.expect(r"In \[\d+\]: ")
        kernels = [p for p in _children(child.pid) if "kernel" in Path(f"/proc/{p}/cmdline").read_text()]
        assert len(kernels) == 1, f"console {child.pid} has children {_children(child.pid)}"
        kernel = kernels[0]
        executors = _children(kernel)
        assert executors, "the kernel has no executor"
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.time() + 60  # hang guard
        while not all(_gone(p) for p in [kernel, *executors]):
            assert time.time() < deadline, f"kernel {kernel} or executor {executors} outlived the killed console"
            time.sleep(0.1)
    finally:
        child.close(force=True)
