"""Shared fixtures for the Gantry kernel tests.

The tests talk to the real kernel binary (bin/gantry, built by
scripts/setup.sh) through the real jupyter_client, exactly as Jupyter does.

* ``jupyter_env`` (session, autouse): installs the kernelspec of the freshly
  built binary into a temporary Jupyter data dir and points JUPYTER_PATH /
  JUPYTER_DATA_DIR / JUPYTER_RUNTIME_DIR there, so tests never touch (or
  depend on) the user's own Jupyter setup.
* ``kernel``: a started ``KernelManager(kernel_name="gantry")`` plus a
  blocking client, wrapped in :class:`Kernel` (``kernel.run(code)`` ->
  ``(reply, outputs)``). One kernel per test module (fast); tests that break
  or restart the kernel use ``fresh_kernel`` / ``start_kernel`` instead.

Every timeout here is a hang guard only (generous), never a performance
assertion. Set GANTRY_TEST_KERNEL=python3 to run the harness against
ipykernel (to check the harness itself; Go-specific tests will fail).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from queue import Empty
from typing import Any, Callable

import pytest
from jupyter_client import KernelManager

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("GANTRY_BIN", ROOT / "bin" / "gantry"))
KERNEL_NAME = os.environ.get("GANTRY_TEST_KERNEL", "gantry")
HANG = 60  # seconds: hang guard for anything that should be quick

# The kernelspec name `gantry install` writes.
SPEC_NAME = "gantry"


class KernelTimeout(AssertionError):
    """The kernel did not answer within the hang guard."""


def _build_binary() -> None:
    if BIN.exists() and not os.environ.get("GANTRY_REBUILD"):
        return
    go = shutil.which("go") or "/usr/local/go/bin/go"
    BIN.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([go, "build", "-o", str(BIN), "./cmd/gantry"], cwd=ROOT, check=True)


@pytest.fixture(scope="session", autouse=True)
def jupyter_env(tmp_path_factory) -> dict[str, Any]:
    """Isolated Jupyter dirs holding the kernelspec of bin/gantry."""
    base = tmp_path_factory.mktemp("jupyter")
    prefix = base / "prefix"
    data = base / "data"
    runtime = base / "runtime"
    for d in (prefix, data, runtime):
        d.mkdir()
    isolated = ("JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_STATE_HOME",
                "GANTRY_HISTORY")
    saved = {k: os.environ.get(k) for k in isolated}
    spec_dir = None
    if KERNEL_NAME == "gantry":
        _build_binary()
        subprocess.run([str(BIN), "install", "--prefix", str(prefix)], check=True, timeout=HANG)
        spec_dir = prefix / "share" / "jupyter" / "kernels" / SPEC_NAME
        assert (spec_dir / "kernel.json").is_file(), f"gantry install wrote no {spec_dir}/kernel.json"
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    os.environ["JUPYTER_DATA_DIR"] = str(data)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    # Per-user state the kernel may keep (history database): per test session.
    os.environ["XDG_DATA_HOME"] = str(base / "xdg-data")
    os.environ["XDG_STATE_HOME"] = str(base / "xdg-state")
    os.environ["GANTRY_HISTORY"] = str(base / "history.db")
    yield {"prefix": prefix, "data": data, "runtime": runtime, "spec_dir": spec_dir, "base": base}
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class Kernel:
    """A running kernel plus a blocking client, with protocol helpers."""

    def __init__(self, km: KernelManager, kc):
        self.km = km
        self.kc = kc
        self.strays: list[dict] = []  # iopub messages whose parent we were not waiting for
        self.last_iopub: list[dict] = []
        self.input_requests: list[dict] = []

    # -- low level -------------------------------------------------------------
    def iopub(self, timeout: float = HANG) -> dict:
        # Short polls in a loop: a signal (e.g. SIGCHLD) can end a zmq poll early.
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.kc.get_iopub_msg(timeout=0.5)
            except Empty:
                if time.monotonic() > deadline:
                    raise KernelTimeout(f"no iopub message within {timeout}s") from None

    def _reply(self, get, what: str, msg_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KernelTimeout(f"no {what} reply to {msg_id} within {timeout}s")
            try:
                msg = get(timeout=min(left, 0.5))
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def shell_reply(self, msg_id: str, timeout: float = HANG) -> dict:
        return self._reply(self.kc.get_shell_msg, "shell", msg_id, timeout)

    def control_reply(self, msg_id: str, timeout: float = HANG) -> dict:
        return self._reply(self.kc.get_control_msg, "control", msg_id, timeout)

    def flush(self, wait: float = 0.05) -> list[dict]:
        """Drop (and return) whatever is queued on iopub and shell."""
        got = []
        for ch in (self.kc.iopub_channel, self.kc.shell_channel, self.kc.stdin_channel):
            while True:
                try:
                    got.append(ch.get_msg(timeout=wait))
                except Empty:
                    break
        return got

    def iopub_for(self, msg_id: str, timeout: float = HANG,
                  on_idle: Callable[[], None] | None = None,
                  stdin: Callable[[dict], None] | None = None) -> list[dict]:
        """Every iopub message whose parent is msg_id, through status idle."""
        deadline = time.monotonic() + timeout
        msgs: list[dict] = []
        while True:
            if time.monotonic() > deadline:
                raise KernelTimeout(
                    f"no status idle for {msg_id} within {timeout}s; got "
                    f"{[m['msg_type'] for m in msgs]}")
            if stdin is not None:
                try:
                    req = self.kc.get_stdin_msg(timeout=0)
                except Empty:
                    pass
                else:
                    stdin(req)
                    continue
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05 if stdin is not None else 0.5)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                self.strays.append(msg)
                continue
            msgs.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return msgs

    # -- execute ---------------------------------------------------------------
    def execute(self, code: str, allow_stdin: bool = False, **kw) -> str:
        return self.kc.execute(code, allow_stdin=allow_stdin, **kw)

    def collect(self, msg_id: str, timeout: float = HANG,
                stdin: Callable[[dict], None] | None = None) -> tuple[dict, list[dict]]:
        msgs = self.iopub_for(msg_id, timeout=timeout, stdin=stdin)
        reply = self.shell_reply(msg_id, timeout=timeout)
        self.last_iopub = msgs
        outputs = [m for m in msgs if m["msg_type"] not in ("status", "execute_input")]
        return reply, outputs

    def run(self, code: str, allow_stdin: bool = False, timeout: float = HANG,
            stdin_replies: list[str] | None = None, **kw) -> tuple[dict, list[dict]]:
        """Execute code; return (execute_reply, outputs).

        outputs are the iopub messages with this request as parent, in order,
        minus status and execute_input (all of them are in self.last_iopub).
        With allow_stdin, each input_request is answered with the next of
        stdin_replies (and recorded in self.input_requests).
        """
        self.input_requests: list[dict] = []
        replies = list(stdin_replies or [])

        def answer(req: dict) -> None:
            self.input_requests.append(req)
            self.kc.input(replies.pop(0) if replies else "")

        msg_id = self.execute(code, allow_stdin=allow_stdin, **kw)
        return self.collect(msg_id, timeout=timeout, stdin=answer if allow_stdin else None)

    def ok(self, code: str, **kw) -> tuple[dict, list[dict]]:
        """run() and assert the reply is ok (with the outputs in the message)."""
        reply, outputs = self.run(code, **kw)
        assert reply["content"]["status"] == "ok", (
            f"cell {code!r} failed: {reply['content']}\noutputs: {summarize(outputs)}")
        return reply, outputs

    def value(self, code: str, **kw) -> str:
        """text/plain of the cell's execute_result."""
        _, outputs = self.ok(code, **kw)
        res = [m for m in outputs if m["msg_type"] == "execute_result"]
        assert len(res) == 1, f"cell {code!r}: expected one execute_result, got {summarize(outputs)}"
        return res[0]["content"]["data"]["text/plain"]

    # -- other shell requests ---------------------------------------------------
    def request(self, send: Callable[[], str], timeout: float = HANG) -> tuple[dict, list[dict]]:
        """Send a shell request (send() returns its msg_id); return (reply, iopub msgs)."""
        msg_id = send()
        msgs = self.iopub_for(msg_id, timeout=timeout)
        reply = self.shell_reply(msg_id, timeout=timeout)
        return reply, msgs

    def alive(self) -> bool:
        return self.km.is_alive()

    def kernel_info(self, timeout: float = HANG) -> dict:
        msg_id = self.kc.kernel_info()
        return self.shell_reply(msg_id, timeout=timeout)

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            try:
                self.km.shutdown_kernel(now=False)
            except Exception:
                self.km.shutdown_kernel(now=True)


def summarize(outputs: list[dict]) -> list[Any]:
    """Short, readable form of output messages for assertion messages."""
    out = []
    for m in outputs:
        c = m["content"]
        t = m["msg_type"]
        if t == "stream":
            text = c["text"]
            out.append((t, c["name"], text if len(text) < 400 else text[:200] + "..." + text[-150:]))
        elif t == "error":
            out.append((t, c.get("ename"), c.get("evalue"), "\n".join(c.get("traceback", []))[:600]))
        elif t in ("execute_result", "display_data", "update_display_data"):
            out.append((t, {k: (v[:200] if isinstance(v, str) else v) for k, v in c["data"].items()}))
        else:
            out.append((t, c))
    return out


def stdout_of(outputs: list[dict], name: str = "stdout") -> str:
    return "".join(m["content"]["text"] for m in outputs
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)


def errors_of(outputs: list[dict]) -> list[dict]:
    return [m["content"] for m in outputs if m["msg_type"] == "error"]


def error_text(outputs: list[dict], reply: dict | None = None) -> str:
    """Everything error-like a person would see: error outputs, stderr, reply."""
    parts = []
    for c in errors_of(outputs):
        parts += [c.get("ename", ""), c.get("evalue", ""), *c.get("traceback", [])]
    parts.append(stdout_of(outputs, "stderr"))
    if reply is not None and reply["content"].get("status") == "error":
        c = reply["content"]
        parts += [c.get("ename", ""), c.get("evalue", ""), *c.get("traceback", [])]
    return "\n".join(parts)


def start_kernel(name: str = KERNEL_NAME, env: dict[str, str] | None = None,
                 timeout: float = HANG) -> Kernel:
    km = KernelManager(kernel_name=name)
    kw = {}
    if env:
        kw["env"] = {**os.environ, **env}
    km.start_kernel(**kw)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=timeout)
    except RuntimeError:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    k = Kernel(km, kc)
    k.flush(0.2)
    return k


@pytest.fixture(scope="module")
def kernel(jupyter_env):
    """One kernel for a whole test module."""
    k = start_kernel()
    yield k
    k.shutdown()


@pytest.fixture
def fresh_kernel(jupyter_env):
    """A kernel of the test's own (for tests that break or restart it)."""
    k = start_kernel()
    yield k
    k.shutdown()


@pytest.fixture
def kernel_factory(jupyter_env):
    """start(env=...) -> Kernel; every kernel started is shut down afterwards."""
    started: list[Kernel] = []

    def start(**kw) -> Kernel:
        k = start_kernel(**kw)
        started.append(k)
        return k

    yield start
    for k in started:
        k.shutdown()


@pytest.fixture
def k(kernel):
    """The module's kernel with queues flushed, so each test starts clean."""
    kernel.flush()
    return kernel


def wait_started(k, msg_id: str) -> list[dict]:
    """Read iopub until the request's execute_input; return the request's messages read."""
    got = []
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        m = k.iopub(timeout=HANG)
        if m["parent_header"].get("msg_id") != msg_id:
            k.strays.append(m)
            continue
        got.append(m)
        if m["msg_type"] == "execute_input":
            return got
    raise AssertionError(f"no execute_input for {msg_id} within {HANG}s")


def notebook_cell(nb, needle: str):
    """The code cell of an executed notebook whose source contains needle (exactly one)."""
    found = [c for c in nb.cells if c.cell_type == "code" and needle in c.source]
    assert len(found) == 1, f"{len(found)} code cells contain {needle!r}"
    return found[0]


def cell_text(c) -> str:
    """Everything a notebook cell showed, as text."""
    parts = []
    for o in c.outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            parts.append(o.data.get("text/plain", ""))
        elif o.output_type == "error":
            parts += [o.ename, o.evalue, *o.traceback]
    return "\n".join(parts)


def assert_error(k, code: str, *needles: str, **kw) -> str:
    """Run code; it must fail with an error output whose text holds every needle."""
    reply, outputs = k.run(code, **kw)
    assert reply["content"]["status"] == "error", (
        f"cell {code!r} should fail: {reply['content']}\noutputs: {summarize(outputs)}")
    assert errors_of(outputs), f"cell {code!r}: no error output: {summarize(outputs)}"
    text = error_text(outputs, reply)
    for n in needles:
        assert n in text, f"cell {code!r}: error does not mention {n!r}: {text!r}"
    return text


def execute_notebook(path: Path, workdir: Path, env: dict[str, str], timeout: int = 180, runner: str = "nbclient"):
    """Execute the notebook at path with nbclient on the Gantry kernel, in
    workdir, with env added to the kernel's environment; the executed copy
    is also written to workdir/executed.ipynb. Cells may fail: check them
    with cell_problems. runner="nbrun" executes it with `gantry nbrun`
    instead (which stops at the first failing cell)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "gantry"
    if runner == "nbrun":
        out = workdir / "executed.ipynb"
        proc = subprocess.run([str(BIN), "nbrun", str(path), "--cwd", str(workdir), "--out", str(out),
                               "--timeout", str(timeout)], env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=30 * 60)  # hang guard
        (workdir / "nbrun.log").write_text(proc.stdout + proc.stderr)
        assert out.exists(), f"gantry nbrun wrote no executed notebook:\n{proc.stdout}{proc.stderr}"
        return nbformat.read(out, as_version=4)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=timeout, startup_timeout=60,
                                allow_errors=True, resources={"metadata": {"path": str(workdir)}})
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nbformat.write(nb, workdir / "executed.ipynb")
    return nb


def cell_problems(nb) -> list[str]:
    """The code cells of an executed notebook that did not run or raised."""
    problems = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        if not c.execution_count:
            problems.append(f"did not run: {c.source[:60]!r}")
        errs = [o for o in c.outputs if o.output_type == "error"]
        if errs:
            problems.append(f"{c.source[:60]!r}: {errs[0].ename}: {errs[0].evalue}")
    return problems
