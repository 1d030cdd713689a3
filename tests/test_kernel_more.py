"""More kernel behaviour end to end: the ipc transport, SIGINT, comms both
ways, interrupting a cell that waits for input, an interrupted output flood,
display updates and clears, and a goroutine that panics after its cell ended.

Every timeout is a hang guard only, never a performance assertion.
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import uuid
from queue import Empty

import pytest
from jupyter_client import KernelManager

from conftest import HANG, KERNEL_NAME, Kernel, KernelTimeout, error_text, errors_of, stdout_of, summarize, wait_started


def iopub_until(k, pred, timeout: float = HANG) -> tuple[dict, list[dict]]:
    """Read iopub until pred(msg); return (that msg, everything read before it)."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching iopub message within {timeout}s; got {summarize(seen)}")
        try:
            m = k.kc.get_iopub_msg(timeout=0.5)
        except Empty:
            continue
        if pred(m):
            return m, seen
        seen.append(m)


def comm_info(k, target_name: str | None = None) -> dict:
    reply, _ = k.request(lambda: k.kc.comm_info(target_name))
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]["comms"]


# --- transport -----------------------------------------------------------------------

def test_ipc_transport(jupyter_env):
    # A short socket directory: unix socket paths are limited to ~107 bytes.
    sockdir = tempfile.mkdtemp(prefix="gipc")
    km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=os.path.join(sockdir, "k"))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    k = Kernel(km, kc)
    try:
        kc.wait_for_ready(timeout=HANG)
        k.flush(0.2)
        assert km.get_connection_info()["transport"] == "ipc"
        info = k.kernel_info()
        assert info["content"]["status"] == "ok", info["content"]
        assert info["content"]["implementation"] == "gantry"
        assert k.value("1+1") == "2"
        _, outputs = k.ok('import "fmt"\nfmt.Println("over ipc")')
        assert stdout_of(outputs) == "over ipc\n", summarize(outputs)
    finally:
        k.shutdown()
        shutil.rmtree(sockdir, ignore_errors=True)


# --- signals ---------------------------------------------------------------------------

def test_sigint_interrupts_cell(kernel_factory):
    k = kernel_factory()
    pid = k.km.provisioner.process.pid
    k.ok("sigintCanary := 3")
    msg_id = k.execute("for {}")
    wait_started(k, msg_id)
    time.sleep(1.0)
    os.kill(pid, signal.SIGINT)
    try:
        reply, outputs = k.collect(msg_id, timeout=HANG)
    except KernelTimeout as e:
        raise AssertionError(f"`for {{}}` did not end within {HANG}s of SIGINT to the kernel process "
                             f"(pid {pid}, alive={k.km.is_alive()}): {e}") from None
    assert reply["content"]["status"] in ("error", "aborted"), (reply["content"], summarize(outputs))
    assert "interrupt" in error_text(outputs, reply).lower(), summarize(outputs)
    assert k.value("1+1") == "2"
    assert k.km.is_alive()
    os.kill(pid, 0)  # the very same process: SIGINT did not end the kernel
    assert k.km.provisioner.process.pid == pid
    assert k.value("sigintCanary") == "3", "interrupting an interpreted loop lost the interpreter state"


# --- comms -------------------------------------------------------------------------

ECHO_TARGET = '''import "gantry/comm"
comm.RegisterTarget("echo", func(c *comm.Comm, data map[string]any) {
	c.OnMsg(func(d map[string]any) {
		c.Send(d)
	})
})'''


def test_comm_echo_round_trip(k):
    k.ok(ECHO_TARGET)
    comm_id = uuid.uuid4().hex
    s = k.kc.session
    k.kc.shell_channel.send(s.msg("comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {}}))

    comms = comm_info(k)
    assert comms.get(comm_id, {}).get("target_name") == "echo", f"comm_info does not list the open comm: {comms}"
    assert comm_id in comm_info(k, "echo")
    assert comm_id not in comm_info(k, "some.other.target")

    payload = {"hello": "world", "n": 3, "list": [1, "two"], "nested": {"ok": True}}
    k.kc.shell_channel.send(s.msg("comm_msg", {"comm_id": comm_id, "data": payload}))
    m, seen = iopub_until(k, lambda m: m["msg_type"] == "comm_msg" and m["content"].get("comm_id") == comm_id)
    assert m["content"]["data"] == payload, m["content"]
    # and again: the handler persists
    k.kc.shell_channel.send(s.msg("comm_msg", {"comm_id": comm_id, "data": {"again": 2}}))
    m, _ = iopub_until(k, lambda m: m["msg_type"] == "comm_msg" and m["content"].get("comm_id") == comm_id)
    assert m["content"]["data"] == {"again": 2}, m["content"]

    k.kc.shell_channel.send(s.msg("comm_close", {"comm_id": comm_id, "data": {}}))
    comms = comm_info(k)
    assert comm_id not in comms, f"comm_info still lists a closed comm: {comms}"
    assert k.kernel_info()["content"]["status"] == "ok"
    assert k.value("1+1") == "2"


def test_comm_open_from_kernel(k):
    msg_id = k.execute('import "gantry/comm"\nopened := comm.Open("client.target", map[string]any{"x": 1})\nopened.ID()')
    reply, outputs = k.collect(msg_id)
    assert reply["content"]["status"] == "ok", (reply["content"], summarize(outputs))
    opens = [m for m in outputs + k.strays if m["msg_type"] == "comm_open"
             and m["content"].get("target_name") == "client.target"]
    if not opens:  # published after idle: look a little further
        try:
            m, _ = iopub_until(k, lambda m: m["msg_type"] == "comm_open", timeout=5)
            opens = [m]
        except AssertionError:
            pass
    assert opens, f"no comm_open on iopub: {summarize(outputs)}"
    c = opens[0]["content"]
    assert c["target_name"] == "client.target", c
    assert c["data"] == {"x": 1}, c
    assert c["comm_id"], c
    ids = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
    assert ids and ids[0].strip('"') == c["comm_id"], (ids, c)


# --- stdin --------------------------------------------------------------------------------

def test_interrupt_while_waiting_for_input(kernel_factory):
    k = kernel_factory()
    requests = []

    def interrupt_instead(req):
        requests.append(req)
        k.km.interrupt_kernel()

    msg_id = k.execute('import "fmt"\nvar s string\nfmt.Scanln(&s)\nfmt.Println("got", s)', allow_stdin=True)
    reply, outputs = k.collect(msg_id, timeout=HANG, stdin=interrupt_instead)
    assert len(requests) == 1, requests
    assert requests[0]["msg_type"] == "input_request"
    assert reply["content"]["status"] in ("error", "aborted"), (reply["content"], summarize(outputs))
    assert "got" not in stdout_of(outputs), summarize(outputs)
    assert k.value("1+1") == "2"
    # and input works again afterwards
    reply, outputs = k.run('import "fmt"\nvar s2 string\nfmt.Scanln(&s2)\nfmt.Println("got", s2)',
                           allow_stdin=True, stdin_replies=["later"])
    assert reply["content"]["status"] == "ok", (reply["content"], summarize(outputs))
    assert "got later" in stdout_of(outputs), summarize(outputs)


# --- output flood ------------------------------------------------------------------------

def test_interrupted_output_flood_loses_nothing(kernel_factory):
    k = kernel_factory()
    msg_id = k.execute('import "fmt"\nfor i := 0; ; i++ {\n\tfmt.Println(i)\n}')
    msgs = []
    first_stream = None
    interrupted = False
    deadline = time.monotonic() + 3 * HANG
    while True:
        if time.monotonic() > deadline:
            raise AssertionError(f"flooding cell did not end (interrupted={interrupted}); "
                                 f"{len(msgs)} messages: {summarize(msgs[-5:])}")
        if first_stream is not None and not interrupted and time.monotonic() - first_stream > 1.0:
            k.km.interrupt_kernel()
            interrupted = True
        try:
            m = k.kc.get_iopub_msg(timeout=0.2)
        except Empty:
            continue
        if m["parent_header"].get("msg_id") != msg_id:
            k.strays.append(m)
            continue
        msgs.append(m)
        if m["msg_type"] == "stream" and first_stream is None:
            first_stream = time.monotonic()
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    reply = k.shell_reply(msg_id)
    assert interrupted
    assert reply["content"]["status"] in ("error", "aborted"), reply["content"]

    text = stdout_of(msgs)
    lines = text.split("\n")[:-1]  # the last piece is unterminated (or empty): ignored
    assert len(lines) > 0, summarize(msgs)
    for i, line in enumerate(lines):
        if line != str(i):
            raise AssertionError(
                f"stdout line {i} is {line!r}, want {str(i)!r} (lost, doubled or damaged output); "
                f"lines {max(0, i - 3)}..{i + 3}: {lines[max(0, i - 3):i + 4]}")
    assert k.value("1+1") == "2"
    assert k.kernel_info()["content"]["status"] == "ok"


# --- display --------------------------------------------------------------------------

def test_display_update_and_clear(k):
    code = ('import "gantry/display"\n'
            'id := display.NewID()\n'
            'display.ShowID(id, display.Text("a"))\n'
            'display.Update(id, display.Text("b"))\n'
            'display.Clear(true)')
    _, outputs = k.ok(code)
    kinds = [m["msg_type"] for m in outputs]
    shows = [m for m in outputs if m["msg_type"] == "display_data"]
    updates = [m for m in outputs if m["msg_type"] == "update_display_data"]
    clears = [m for m in outputs if m["msg_type"] == "clear_output"]
    assert len(shows) == 1 and len(updates) == 1 and len(clears) == 1, summarize(outputs)
    assert kinds.index("display_data") < kinds.index("update_display_data") < kinds.index("clear_output"), kinds

    show, update = shows[0]["content"], updates[0]["content"]
    did = show.get("transient", {}).get("display_id")
    assert did, f"display_data has no transient display_id: {show}"
    assert update.get("transient", {}).get("display_id") == did, (show, update)
    assert show["data"]["text/plain"] == "a", show
    assert update["data"]["text/plain"] == "b", update
    assert clears[0]["content"]["wait"] is True, clears[0]["content"]


# --- late crash ------------------------------------------------------------------------

def test_late_goroutine_panic_not_blamed_on_next_cell(kernel_factory):
    k = kernel_factory()
    first = k.execute('import "time"\ngo func() {\n\ttime.Sleep(300 * time.Millisecond)\n\tpanic("late")\n}()')
    reply, outputs = k.collect(first)
    assert reply["content"]["status"] == "ok", (reply["content"], summarize(outputs))
    time.sleep(1.0)
    k.strays = []
    second = k.execute("1+1")
    msgs = k.iopub_for(second)
    reply2 = k.shell_reply(second)
    after_idle = [m for m in k.strays]  # what arrived between the first cell's idle and the second's busy/idle

    outputs2 = [m for m in msgs if m["msg_type"] not in ("status", "execute_input")]
    assert reply2["content"]["status"] == "ok", (reply2["content"], summarize(outputs2))
    assert not errors_of(outputs2), f"the late crash is blamed on the next cell: {summarize(outputs2)}"
    results = [m["content"]["data"]["text/plain"] for m in outputs2 if m["msg_type"] == "execute_result"]
    assert results == ["2"], summarize(outputs2)
    assert "late" not in stdout_of(outputs2, "stderr"), f"the late crash is reported on the next cell: {summarize(outputs2)}"

    reported = [m for m in outputs + after_idle
                if m["msg_type"] == "stream" and m["content"]["name"] == "stderr" and "late" in m["content"]["text"]]
    assert reported, (f"the late panic is not reported as stderr (on the first cell or before the next one); "
                      f"first cell: {summarize(outputs)}; between: {summarize(after_idle)}")
    assert all(m["parent_header"].get("msg_id") in (first, None) for m in reported), \
        [m["parent_header"] for m in reported]
