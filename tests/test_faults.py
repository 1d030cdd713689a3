"""Faults: cells that kill or exhaust the interpreter, and hostile or broken
messages on the shell socket. The kernel must report what happened, stay
alive, and run the next cell.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import time
import uuid
from pathlib import Path

import pytest
import zmq

from conftest import HANG, error_text, errors_of, summarize

RESET = re.compile(r"reset|restart|lost|new (interpreter|executor|session)", re.I)


# --- cells that end the executor ---------------------------------------------------

def _assert_reported_and_recovered(k, code, what: re.Pattern, *, state_lost=True, timeout=HANG):
    k.ok("faultCanary := 1\n_ = faultCanary")
    reply, outputs = k.run(code, timeout=timeout)
    assert reply["content"]["status"] == "error", (reply["content"], summarize(outputs))
    assert errors_of(outputs), f"no error output: {summarize(outputs)}"
    text = error_text(outputs, reply)
    assert what.search(text), f"error does not say what happened ({what.pattern}): {summarize(outputs)}"
    if state_lost:
        assert RESET.search(text), f"error does not say the interpreter state was reset: {summarize(outputs)}"
    assert k.alive()
    assert k.value("1+1") == "2"
    if state_lost:
        r, _ = k.run("faultCanary")
        assert r["content"]["status"] == "error", "state survived a crash that was reported as a reset"


def test_goroutine_panic(kernel_factory):
    k = kernel_factory()
    _assert_reported_and_recovered(
        k, 'import "time"\ngo func() { panic("boom") }()\ntime.Sleep(time.Second)', re.compile("boom"))


def test_os_exit(kernel_factory):
    k = kernel_factory()
    _assert_reported_and_recovered(k, 'import "os"\nos.Exit(3)', re.compile(r"exit\w*.{0,40}\b3\b", re.I | re.S))


def test_exit_while_a_child_holds_stderr(kernel_factory, tmp_path):
    # A process the cell started keeps the executor's stderr open after the
    # executor exits (and once kept the frame pipe open too): the kernel
    # still reports the exit and recovers, within the harness's hang guard
    # and not when the child ends an hour later.
    k = kernel_factory()
    pid_file = tmp_path / "child.pid"
    k.ok('import ("os"; "os/exec"; "strconv")\nc := exec.Command("sleep", "3600")\nc.Stderr = os.Stderr\nc.Start()\n'
         f'os.WriteFile({json.dumps(str(pid_file))}, []byte(strconv.Itoa(c.Process.Pid)), 0o600)')
    try:
        _assert_reported_and_recovered(k, 'os.Exit(3)', re.compile(r"exit\w*.{0,40}\b3\b", re.I | re.S))
    finally:
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_log_fatal(kernel_factory):
    k = kernel_factory()
    _assert_reported_and_recovered(k, 'import "log"\nlog.Fatal("x marks the spot")', re.compile("x marks the spot"))


def test_stack_overflow(kernel_factory):
    k = kernel_factory()
    _assert_reported_and_recovered(k, "func r(n int) int { return r(n+1) + 1 }\nr(0)",
                                   re.compile(r"stack", re.I), timeout=180)


def test_unbounded_allocation(kernel_factory):
    k = kernel_factory(env={"GANTRY_EXECUTOR_MEMORY": "512MiB"})
    _assert_reported_and_recovered(
        k, "var s [][]byte\nfor {\n\ts = append(s, make([]byte, 1<<20))\n}",
        re.compile(r"memory", re.I), timeout=180)


def test_cell_panic_keeps_state(kernel_factory):
    """A panic on the cell's own goroutine is an ordinary error: state stays."""
    k = kernel_factory()
    k.ok("keep := 5")
    reply, outputs = k.run('panic("plain")')
    assert reply["content"]["status"] == "error"
    assert "plain" in error_text(outputs, reply)
    assert k.value("keep") == "5"


# --- malformed messages on the shell socket -------------------------------------------

DELIM = b"<IDS|MSG>"


class RawShell:
    """A DEALER socket on the kernel's shell port that speaks the wire protocol by hand."""

    def __init__(self, k):
        info = k.km.get_connection_info()
        self.key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        assert info.get("signature_scheme", "hmac-sha256") == "hmac-sha256"
        self.session = uuid.uuid4().hex
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.setsockopt(zmq.IDENTITY, f"raw-{self.session[:8]}".encode())
        self.sock.connect(f"{info['transport']}://{info['ip']}:{info['shell_port']}")

    def close(self):
        self.sock.close()

    def sign(self, parts: list[bytes]) -> bytes:
        h = hmac.new(self.key, digestmod=hashlib.sha256)
        for p in parts:
            h.update(p)
        return h.hexdigest().encode()

    def parts(self, msg_type: str, content: dict, msg_id: str | None = None) -> tuple[str, list[bytes]]:
        msg_id = msg_id or uuid.uuid4().hex
        header = {"msg_id": msg_id, "session": self.session, "username": "test", "date": "2025-01-01T00:00:00.000000Z",
                  "msg_type": msg_type, "version": "5.3"}
        parts = [json.dumps(x).encode() for x in (header, {}, {}, content)]
        return msg_id, parts

    def send_frames(self, frames: list[bytes]) -> None:
        self.sock.send_multipart(frames)

    def send(self, msg_type: str, content: dict, sig: bytes | None = None) -> tuple[str, list[bytes]]:
        msg_id, parts = self.parts(msg_type, content)
        frames = [DELIM, self.sign(parts) if sig is None else sig, *parts]
        self.send_frames(frames)
        return msg_id, frames

    def execute_content(self, code: str) -> dict:
        return {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                "allow_stdin": False, "stop_on_error": True}

    def wait_reply(self, msg_id: str, timeout: float = HANG) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no reply to {msg_id} within {timeout}s on the raw shell socket")
            if not self.sock.poll(int(left * 1000)):
                continue
            frames = self.sock.recv_multipart()
            i = frames.index(DELIM)
            header = json.loads(frames[i + 2])
            parent = json.loads(frames[i + 3])
            assert hmac.compare_digest(frames[i + 1], self.sign(frames[i + 2:i + 6])), "reply is not signed correctly"
            if parent.get("msg_id") == msg_id:
                header["content"] = json.loads(frames[i + 5])
                return header

    def kernel_info(self, timeout: float = HANG) -> dict:
        msg_id, _ = self.send("kernel_info_request", {})
        reply = self.wait_reply(msg_id, timeout)
        assert reply["msg_type"] == "kernel_info_reply"
        return reply


@pytest.fixture(scope="module")
def raw_kernel(jupyter_env):
    from conftest import start_kernel
    k = start_kernel()
    k.ok('import "os"')
    yield k
    k.shutdown()


@pytest.fixture
def raw(raw_kernel):
    r = RawShell(raw_kernel)
    yield r
    r.close()
    assert raw_kernel.alive(), "kernel died"
    # and the ordinary client still works
    assert raw_kernel.kernel_info()["content"]["status"] == "ok"
    raw_kernel.flush()


def _touch_code(path: Path) -> str:
    return f'os.WriteFile({json.dumps(str(path))}, []byte("ran"), 0644)'


def test_signed_execute_runs(raw, tmp_path):
    """Positive control for the tests below: a correctly signed request runs."""
    target = tmp_path / "signed"
    msg_id, _ = raw.send("execute_request", raw.execute_content(_touch_code(target)))
    reply = raw.wait_reply(msg_id)
    assert reply["msg_type"] == "execute_reply"
    assert reply["content"]["status"] == "ok", reply["content"]
    assert target.read_text() == "ran"


def test_wrong_signature_does_not_execute(raw, tmp_path):
    target = tmp_path / "wrong-signature"
    raw.send("execute_request", raw.execute_content(_touch_code(target)), sig=b"0" * 64)
    raw.kernel_info()
    time.sleep(0.5)
    assert not target.exists(), "a wrongly signed execute_request was executed"


def test_signature_with_wrong_key_does_not_execute(raw, tmp_path):
    target = tmp_path / "wrong-key"
    _, parts = raw.parts("execute_request", raw.execute_content(_touch_code(target)))
    h = hmac.new(b"not-the-key", digestmod=hashlib.sha256)
    for p in parts:
        h.update(p)
    raw.send_frames([DELIM, h.hexdigest().encode(), *parts])
    raw.kernel_info()
    time.sleep(0.5)
    assert not target.exists(), "an execute_request signed with another key was executed"


def test_no_signature_does_not_execute(raw, tmp_path):
    target = tmp_path / "no-signature"
    raw.send("execute_request", raw.execute_content(_touch_code(target)), sig=b"")
    _, parts = raw.parts("execute_request", raw.execute_content(_touch_code(target)))
    raw.send_frames([DELIM, *parts])  # signature frame missing altogether
    raw.kernel_info()
    time.sleep(0.5)
    assert not target.exists(), "an unsigned execute_request was executed"


def test_control_wrong_signature_ignored(raw_kernel, tmp_path):
    """A forged shutdown_request on the control channel must not stop the kernel."""
    info = raw_kernel.km.get_connection_info()
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.connect(f"{info['transport']}://{info['ip']}:{info['control_port']}")
    try:
        header = {"msg_id": uuid.uuid4().hex, "session": "x", "username": "x", "date": "2025-01-01T00:00:00Z",
                  "msg_type": "shutdown_request", "version": "5.3"}
        s.send_multipart([DELIM, b"f" * 64, json.dumps(header).encode(), b"{}", b"{}", b'{"restart": false}'])
        time.sleep(1.0)
    finally:
        s.close()
    assert raw_kernel.alive()
    assert raw_kernel.kernel_info()["content"]["status"] == "ok"


@pytest.mark.parametrize("frames", [
    [b"garbage"],
    [b"\x00\xff" * 100],
    [DELIM],
    [DELIM, b"abc"],
    [DELIM, b"", b"not json", b"{}", b"{}", b"{}"],
    [DELIM, b"", b"[1, 2]", b"{}", b"{}", b"{}"],
    [DELIM, b"", b"{}", b"{}", b"{}", b"{}"],
    [b"id1", b"id2", DELIM, b"x" * 64, b"{", b"}", b"", b""],
    [b""] * 20,
], ids=["one-frame", "binary", "delim-only", "delim-sig", "bad-json", "header-list", "empty-header",
        "identities-junk", "empty-frames"])
def test_garbage_frames(raw, frames):
    raw.send_frames(frames)
    raw.kernel_info()


def test_garbage_frames_signed(raw):
    """Correctly signed but nonsense content: kernel must survive."""
    for header in (b"{}", b'{"msg_type": 5}', b'{"msg_type": "execute_request"}', b"null"):
        parts = [header, b"{}", b"{}", b'{"code": 12}']
        raw.send_frames([DELIM, raw.sign(parts), *parts])
    msg_id, _ = raw.send("execute_request", {"code": 12, "silent": "yes"})
    raw.send("no_such_request", {})
    raw.kernel_info()


def test_huge_message(raw):
    pad = "x" * (50 * 1024 * 1024)
    raw.send("kernel_info_request", {"pad": pad})
    raw.send("execute_request", {**raw.execute_content("// " + pad[:1000]), "pad": pad}, sig=b"0" * 64)
    del pad
    raw.kernel_info(timeout=120)


def test_replayed_message_keeps_kernel_alive(raw, raw_kernel, tmp_path):
    target = tmp_path / "replay"
    code = (f'func() {{ f, _ := os.OpenFile({json.dumps(str(target))}, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0644); '
            f'f.WriteString("run\\n"); f.Close() }}()')
    msg_id, frames = raw.send("execute_request", raw.execute_content(code))
    raw.wait_reply(msg_id)
    assert target.read_text() == "run\n"
    raw.send_frames(frames)  # the very same message, same signature
    raw.kernel_info()
    time.sleep(0.5)
    assert raw_kernel.alive()


def test_replayed_message_not_executed_twice(raw, tmp_path):
    """Jupyter's Session rejects a signature it has already seen (replay)."""
    target = tmp_path / "replay2"
    code = (f'func() {{ f, _ := os.OpenFile({json.dumps(str(target))}, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0644); '
            f'f.WriteString("run\\n"); f.Close() }}()')
    msg_id, frames = raw.send("execute_request", raw.execute_content(code))
    raw.wait_reply(msg_id)
    raw.send_frames(frames)
    raw.kernel_info()
    time.sleep(0.5)
    assert target.read_text() == "run\n", "a replayed (same signature) execute_request ran again"
