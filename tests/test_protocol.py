"""The Jupyter messaging protocol, end to end: real jupyter_client against
the real gantry kernel, one test (or a few) per message type.

Cells import what they use (the kernel pre-imports nothing), so every test
also checks that re-importing a package is harmless, as it is when a person
re-runs a notebook cell.
"""
from __future__ import annotations

import re
import time
import uuid

import pytest
import zmq

from conftest import HANG, error_text, errors_of, stdout_of, summarize  # noqa: F401

FMT = 'import "fmt"\n'


def assert_bracketed(msgs: list[dict], what: str) -> None:
    """status busy first and status idle last, all with the request as parent."""
    kinds = [(m["msg_type"], m["content"].get("execution_state")) for m in msgs]
    assert kinds, f"{what}: no iopub messages"
    assert kinds[0] == ("status", "busy"), f"{what}: first iopub message is {kinds[0]}, want status busy; all: {kinds}"
    assert kinds[-1] == ("status", "idle"), f"{what}: last iopub message is {kinds[-1]}, want status idle; all: {kinds}"


def completes_to(code: str, content: dict, full: str) -> bool:
    """Some match, put in place of code[cursor_start:cursor_end], gives full."""
    cs, ce = content["cursor_start"], content["cursor_end"]
    return any(code[:cs] + m + code[ce:] == full for m in content["matches"])


# --- kernel_info -----------------------------------------------------------------

def test_kernel_info(k):
    reply, msgs = k.request(k.kc.kernel_info)
    assert_bracketed(msgs, "kernel_info_request")
    c = reply["content"]
    assert reply["msg_type"] == "kernel_info_reply"
    assert c["status"] == "ok"
    major, minor = (int(x) for x in c["protocol_version"].split(".")[:2])
    assert (major, minor) >= (5, 3), c["protocol_version"]
    assert c["implementation"] == "gantry"
    assert c["implementation_version"]
    li = c["language_info"]
    assert li["name"] == "go"
    assert li["file_extension"] == ".go"
    assert li.get("mimetype"), li
    assert li.get("pygments_lexer") == "go", li
    assert li.get("codemirror_mode"), li
    assert li.get("version"), li
    assert c.get("banner"), c
    links = c.get("help_links")
    assert links, "help_links is empty"
    for link in links:
        assert link.get("text") and link.get("url"), link


# --- execute ---------------------------------------------------------------------

def test_execution_count_increments_and_execute_input(k):
    r1, _ = k.ok("1")
    n = r1["content"]["execution_count"]
    code = "2"
    r2, _ = k.ok(code)
    assert r2["content"]["execution_count"] == n + 1
    inputs = [m for m in k.last_iopub if m["msg_type"] == "execute_input"]
    assert len(inputs) == 1, summarize(k.last_iopub)
    assert inputs[0]["content"]["code"] == code
    assert inputs[0]["content"]["execution_count"] == n + 1
    assert_bracketed(k.last_iopub, "execute_request")


def test_silent_execution_has_no_count_or_input(k):
    r1, _ = k.ok("1")
    n = r1["content"]["execution_count"]
    _, outputs = k.ok("40+2", silent=True)
    assert not [m for m in k.last_iopub if m["msg_type"] == "execute_input"]
    assert not [m for m in outputs if m["msg_type"] == "execute_result"], summarize(outputs)
    r3, _ = k.ok("3")
    assert r3["content"]["execution_count"] == n + 1


def test_stream_stdout(k):
    _, outputs = k.ok(FMT + 'fmt.Println("hi")')
    assert stdout_of(outputs) == "hi\n", summarize(outputs)


def test_stream_stderr(k):
    _, outputs = k.ok('import "os"\nos.Stderr.WriteString("to stderr\\n")')
    assert "to stderr" in stdout_of(outputs, "stderr"), summarize(outputs)


def test_execute_result(k):
    reply, outputs = k.ok("1+2")
    res = [m for m in outputs if m["msg_type"] == "execute_result"]
    assert len(res) == 1, summarize(outputs)
    assert res[0]["content"]["data"]["text/plain"] == "3"
    assert res[0]["content"]["execution_count"] == reply["content"]["execution_count"]


def test_statement_has_no_execute_result(k):
    _, outputs = k.ok("unusedVar := 5\n_ = unusedVar")
    assert not [m for m in outputs if m["msg_type"] == "execute_result"], summarize(outputs)


def test_error_is_one_error_output(k):
    reply, outputs = k.run("undefined_name + 1")
    assert reply["content"]["status"] == "error", reply["content"]
    assert len(outputs) == 1, summarize(outputs)
    err = outputs[0]
    assert err["msg_type"] == "error", summarize(outputs)
    c = err["content"]
    assert c["ename"] and c["evalue"] and isinstance(c["traceback"], list) and c["traceback"]
    assert "undefined_name" in c["evalue"] + "\n".join(c["traceback"])
    assert reply["content"]["ename"] == c["ename"]
    # the kernel is fine afterwards
    assert k.value("1+1") == "2"


def test_values_persist(k):
    k.ok("x := 41")
    assert k.value("x+1") == "42"


def test_import_persists(k):
    k.ok('import "strings"')
    assert k.value('strings.ToUpper("abc")') in ('"ABC"', "ABC")


def test_reimport_is_harmless(k):
    k.ok('import "strconv"')
    k.ok('import "strconv"')  # re-running a cell must work
    k.ok('import (\n\t"strconv"\n\t"sort"\n)')
    assert k.value("strconv.Itoa(7) + \"\"") in ('"7"', "7")


def test_redefined_func_updates_callers(k):
    k.ok("func f() int { return 1 }")
    k.ok("func g() int { return f() }")
    assert k.value("g()") == "1"
    k.ok("func f() int { return 2 }")
    assert k.value("g()") == "2"


def test_types_and_methods_persist(k):
    k.ok("type point struct{ X, Y int }\nfunc (p point) Sum() int { return p.X + p.Y }")
    k.ok("pt := point{3, 4}")
    assert k.value("pt.Sum()") == "7"


MAP_DECL = ("func Map[T, U any](xs []T, f func(T) U) []U {\n\tout := make([]U, 0, len(xs))\n"
            "\tfor _, x := range xs {\n\t\tout = append(out, f(x))\n\t}\n\treturn out\n}")
SUM_DECL = ("type Number interface{ ~int | ~float64 }\n"
            "func Sum[T Number](xs []T) T {\n\tvar s T\n\tfor _, x := range xs {\n\t\ts += x\n\t}\n\treturn s\n}")


def test_generic_call_result_is_shown(kernel_factory):
    """A generic call as the cell's last expression shows its value.
    (Own kernel: a crash here must not spoil other tests.)"""
    k = kernel_factory()
    k.ok(MAP_DECL)
    assert k.value("Map([]int{1, 2, 3}, func(i int) int { return i * i })") == "[1 4 9]"
    k.ok(SUM_DECL)
    assert k.value("Sum([]float64{1.5, 2.5})") == "4"


def test_generic_type(kernel_factory):
    k = kernel_factory()
    k.ok("type Stack[T any] struct{ items []T }\nfunc (s *Stack[T]) Push(v T) { s.items = append(s.items, v) }")
    assert k.value('st := &Stack[string]{}\nst.Push("a")\nst.Push("b")\nlen(st.items)') == "2"


def test_generic_call_result_assigned(kernel_factory):
    """`v := genericCall(...)` at the top level of a cell (yaegi v0.16.1
    panics on this at global scope; the kernel calls a concrete copy)."""
    k = kernel_factory()
    k.ok(MAP_DECL)
    k.ok("sq := Map([]int{1, 2}, func(i int) int { return i + 1 })")
    assert k.value("sq") == "[2 3]"


def test_compile_error_has_cell_position(k):
    reply, outputs = k.run("x1 := 1\ny1 := undefined_name")
    assert reply["content"]["status"] == "error"
    errs = errors_of(outputs)
    assert len(errs) == 1, summarize(outputs)
    text = errs[0]["evalue"] + "\n" + "\n".join(errs[0]["traceback"])
    assert re.search(r"(?<![0-9])2:\d+", text), f"error does not point at line 2 of the cell: {text!r}"


def test_compile_error_names_undefined_identifier(k):
    """yaegi says "constant definition loop" for `y := undefined`; a person needs the name."""
    reply, outputs = k.run("x2 := 1\ny2 := undefined_name")
    assert reply["content"]["status"] == "error"
    text = error_text(outputs, reply)
    assert "undefined_name" in text and "undefined" in text.replace("undefined_name", ""), text


def test_panic_traceback_names_cell_line(k):
    code = FMT + 'func boom() {\n\tpanic("kaboom")\n}\nfmt.Println("before")\nboom()'
    reply, outputs = k.run(code)
    assert reply["content"]["status"] == "error"
    assert "before" in stdout_of(outputs), summarize(outputs)
    errs = errors_of(outputs)
    assert len(errs) == 1, summarize(outputs)
    text = errs[0]["evalue"] + "\n" + "\n".join(errs[0]["traceback"])
    assert "kaboom" in text
    # panic is on line 3 of the cell
    assert re.search(r"(?<![0-9]):3(?![0-9])|line 3(?![0-9])", text), f"traceback does not show cell line 3: {text!r}"
    assert k.value("1+1") == "2"


def test_goroutine_output(k):
    code = (
        'import (\n\t"fmt"\n\t"sync"\n)\n'
        "var wg sync.WaitGroup\n"
        "for i := 0; i < 3; i++ {\n"
        "\twg.Add(1)\n"
        '\tgo func(i int) { defer wg.Done(); fmt.Println("goroutine", i) }(i)\n'
        "}\n"
        "wg.Wait()"
    )
    _, outputs = k.ok(code)
    out = stdout_of(outputs)
    for i in range(3):
        assert f"goroutine {i}\n" in out, summarize(outputs)


def test_ten_thousand_lines(k):
    n = 10_000
    _, outputs = k.ok(FMT + f'for i := 0; i < {n}; i++ {{ fmt.Println("line", i) }}', timeout=120)
    streams = [m for m in outputs if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"]
    lines = "".join(m["content"]["text"] for m in streams).splitlines()
    assert len(lines) == n, f"got {len(lines)} lines, want {n}"
    assert lines == [f"line {i}" for i in range(n)], "lines out of order or damaged"
    assert len(streams) <= 50, f"{len(streams)} stream messages for {n} lines (want <= 50: batch output)"


# --- is_complete -------------------------------------------------------------------

@pytest.mark.parametrize("code", ["x := 1", 'fmt.Println("hi")', "func f() int { return 1 }", "1+2", ""])
def test_is_complete_complete(k, code):
    reply, msgs = k.request(lambda: k.kc.is_complete(code))
    assert_bracketed(msgs, "is_complete_request")
    assert reply["content"]["status"] == "complete", (code, reply["content"])


@pytest.mark.parametrize("code", ["func f() {", "for i := 0; i < 3; i++ {", "x := []int{1,\n2,", "s := `raw\n"])
def test_is_complete_incomplete(k, code):
    reply, _ = k.request(lambda: k.kc.is_complete(code))
    c = reply["content"]
    assert c["status"] == "incomplete", (code, c)
    if code == "func f() {":
        assert "indent" in c, c
        assert c["indent"] and c["indent"].strip() == "", f"want a whitespace indent, got {c['indent']!r}"


@pytest.mark.parametrize("code", ["}", "x := (1))", "func f() { ]"])
def test_is_complete_invalid(k, code):
    reply, _ = k.request(lambda: k.kc.is_complete(code))
    assert reply["content"]["status"] == "invalid", (code, reply["content"])


# --- complete ------------------------------------------------------------------------

def test_complete_package_member(k):
    k.ok(FMT)
    code = "fmt.Pri"
    reply, msgs = k.request(lambda: k.kc.complete(code, len(code)))
    assert_bracketed(msgs, "complete_request")
    c = reply["content"]
    assert c["status"] == "ok"
    assert c["cursor_end"] == len(code), c
    assert completes_to(code, c, "fmt.Println"), f"no match completing to fmt.Println: {c}"
    assert completes_to(code, c, "fmt.Printf"), c


def test_complete_variable_from_earlier_cell(k):
    k.ok("myLongVariable := 5\n_ = myLongVariable")
    code = "myLongVa"
    reply, _ = k.request(lambda: k.kc.complete(code, len(code)))
    assert completes_to(code, reply["content"], "myLongVariable"), reply["content"]


def test_complete_mid_line(k):
    k.ok("anotherVariable := 1\n_ = anotherVariable")
    code = "y2 := anotherVa + 1"
    pos = len("y2 := anotherVa")
    reply, _ = k.request(lambda: k.kc.complete(code, pos))
    c = reply["content"]
    assert c["cursor_end"] == pos, c
    assert completes_to(code, c, "y2 := anotherVariable + 1"), c


def test_complete_magic(k):
    code = "%ls"
    reply, _ = k.request(lambda: k.kc.complete(code, len(code)))
    c = reply["content"]
    assert completes_to(code, c, "%lsmagic"), c


# --- inspect ---------------------------------------------------------------------

def test_inspect(k):
    k.ok(FMT)
    code = "fmt.Println"
    reply, msgs = k.request(lambda: k.kc.inspect(code, len(code)))
    assert_bracketed(msgs, "inspect_request")
    c = reply["content"]
    assert c["status"] == "ok"
    assert c["found"] is True, c
    assert "func Println" in c["data"]["text/plain"], c["data"]


def test_inspect_cursor_inside_name(k):
    k.ok(FMT)
    code = "fmt.Println(1)"
    reply, _ = k.request(lambda: k.kc.inspect(code, len("fmt.Pri")))
    c = reply["content"]
    assert c["found"] is True, c
    assert "func Println" in c["data"]["text/plain"]


def test_inspect_unknown(k):
    code = "noSuchThingAnywhere"
    reply, _ = k.request(lambda: k.kc.inspect(code, len(code)))
    c = reply["content"]
    assert c["status"] == "ok"
    assert c["found"] is False, c


# --- history ---------------------------------------------------------------------

def _history(k, **kw):
    reply, msgs = k.request(lambda: k.kc.history(**kw))
    assert_bracketed(msgs, "history_request")
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]["history"]


def test_history_tail_range_search(kernel_factory, tmp_path):
    # A history database of its own: "tail" spans every session in the
    # database (as IPython's does), so other kernels' cells would interleave.
    k = kernel_factory(env={"GANTRY_HISTORY": str(tmp_path / "history.db")})
    tag = uuid.uuid4().hex[:8]
    codes = [f"hist{tag}a := 1", f"hist{tag}b := 2", f"hist{tag}a + hist{tag}b"]
    for c in codes:
        k.ok(c)
    tail = _history(k, hist_access_type="tail", n=3, raw=True, output=False)
    assert [h[2] for h in tail] == codes, tail
    session, start = tail[0][0], tail[0][1]
    assert [h[1] for h in tail] == [start, start + 1, start + 2]

    rng = _history(k, hist_access_type="range", session=session, start=start, stop=start + 2,
                   raw=True, output=False)
    assert [h[2] for h in rng] == codes[:2], rng

    found = _history(k, hist_access_type="search", pattern=f"hist{tag}*", raw=True, output=False)
    assert set(codes) <= {h[2] for h in found}, found

    with_out = _history(k, hist_access_type="tail", n=1, raw=True, output=True)
    assert len(with_out) == 1 and len(with_out[0][2]) == 2, with_out
    src, out = with_out[0][2]
    assert src == codes[2]
    # IPython stores outputs only when configured to (db_log_output); None is fine
    assert out in (None, "3"), with_out


def test_history_survives_restart(kernel_factory, tmp_path):
    k = kernel_factory(env={"GANTRY_HISTORY": str(tmp_path / "history.db")})
    tag = uuid.uuid4().hex[:8]
    code = f'restart{tag} := "before restart"'
    k.ok(code)
    k.km.restart_kernel(now=False)
    k.kc.wait_for_ready(timeout=HANG)
    k.flush(0.2)
    found = _history(k, hist_access_type="search", pattern=f"restart{tag}*", raw=True, output=False)
    assert code in [h[2] for h in found], found
    tail = _history(k, hist_access_type="tail", n=5, raw=True, output=False)
    assert code in [h[2] for h in tail], tail
    # and the new session's values are fresh
    reply, _ = k.run(f"restart{tag}")
    assert reply["content"]["status"] == "error"


# --- comms -----------------------------------------------------------------------

def test_comm_info(k):
    reply, msgs = k.request(lambda: k.kc.comm_info())
    assert_bracketed(msgs, "comm_info_request")
    assert reply["content"]["status"] == "ok"
    assert isinstance(reply["content"]["comms"], dict)


def test_comm_open_unknown_target(k):
    comm_id = uuid.uuid4().hex
    msg = k.kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "gantry.no_such_target", "data": {}})
    k.kc.shell_channel.send(msg)
    closed = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not closed:
        try:
            m = k.kc.get_iopub_msg(timeout=0.5)
        except Exception:
            continue
        if m["msg_type"] == "comm_close" and m["content"].get("comm_id") == comm_id:
            closed = True
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" \
                and m["parent_header"].get("msg_id") == msg["header"]["msg_id"] and closed:
            break
    # either closed (as ipykernel does) or ignored; the kernel must still be fine
    assert k.alive()
    assert k.kernel_info()["content"]["status"] == "ok"
    reply, _ = k.request(lambda: k.kc.comm_info())
    assert comm_id not in reply["content"]["comms"], (
        f"comm_open to an unknown target: closed={closed}, yet comm_info lists it as open: "
        f"{reply['content']['comms']}")


# --- stdin ----------------------------------------------------------------------

STDIN_CELL = FMT + 'var s string\nfmt.Scanln(&s)\nfmt.Println("got", s)'


def test_stdin_allowed(k):
    reply, outputs = k.run(STDIN_CELL, allow_stdin=True, stdin_replies=["abc"])
    assert reply["content"]["status"] == "ok", (reply["content"], summarize(outputs))
    assert len(k.input_requests) == 1, k.input_requests
    req = k.input_requests[0]
    assert req["msg_type"] == "input_request"
    assert req["content"]["password"] is False
    assert "got abc" in stdout_of(outputs), summarize(outputs)


def test_stdin_not_allowed_error_value(k):
    """The read itself fails with an error that says why."""
    reply, outputs = k.run(FMT + 'var s3 string\n_, err := fmt.Scanln(&s3)\nfmt.Println("err:", err)')
    assert reply["content"]["status"] == "ok", reply["content"]
    out = stdout_of(outputs)
    assert "err:" in out and "stdin" in out.lower(), summarize(outputs)


def test_stdin_not_allowed(k):
    """A cell that ignores the read's error still tells the person why (brief: clear error)."""
    reply, outputs = k.run(STDIN_CELL, allow_stdin=False)
    text = error_text(outputs, reply) + stdout_of(outputs)
    assert "got abc" not in text
    assert "stdin" in text.lower(), f"no clear error about stdin: {summarize(outputs)} {reply['content']}"
    assert k.value("1+1") == "2"


# --- interrupt -------------------------------------------------------------------

def _start_and_interrupt(k, code, settle=1.0):
    msg_id = k.execute(code)
    # wait until the cell is really running
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        m = k.iopub(timeout=HANG)
        if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "execute_input":
            break
    time.sleep(settle)
    t0 = time.monotonic()
    k.km.interrupt_kernel()
    reply, outputs = k.collect(msg_id, timeout=HANG)
    return reply, outputs, time.monotonic() - t0


def test_interrupt_busy_loop(fresh_kernel):
    k = fresh_kernel
    reply, outputs, _ = _start_and_interrupt(k, "for {}")
    assert reply["content"]["status"] in ("error", "aborted"), reply["content"]
    assert "interrupt" in error_text(outputs, reply).lower(), summarize(outputs)
    assert k.value("1+1") == "2"


def test_interrupt_sleep(fresh_kernel):
    k = fresh_kernel
    k.ok('import "time"')
    reply, outputs, _ = _start_and_interrupt(k, "time.Sleep(time.Hour)")
    assert reply["content"]["status"] in ("error", "aborted"), reply["content"]
    assert "interrupt" in error_text(outputs, reply).lower(), summarize(outputs)
    assert k.value("1+1") == "2"


# --- shutdown / heartbeat -------------------------------------------------------------

def _wait_dead(k, timeout=HANG):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not k.km.is_alive():
            return True
        time.sleep(0.1)
    return False


def test_shutdown_request_restart(fresh_kernel):
    k = fresh_kernel
    msg_id = k.kc.shutdown(restart=True)
    reply = k.control_reply(msg_id)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["restart"] is True
    assert _wait_dead(k), "kernel process did not exit after shutdown_request"


def test_shutdown_request(fresh_kernel):
    k = fresh_kernel
    msg_id = k.kc.shutdown(restart=False)
    reply = k.control_reply(msg_id)
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["restart"] is False
    assert _wait_dead(k), "kernel process did not exit after shutdown_request"


def test_restart_kernel_gives_fresh_state(fresh_kernel):
    k = fresh_kernel
    k.ok("beforeRestart := 1")
    k.km.restart_kernel(now=False)
    k.kc.wait_for_ready(timeout=HANG)
    k.flush(0.2)
    reply, _ = k.run("beforeRestart")
    assert reply["content"]["status"] == "error"
    assert k.value("1+1") == "2"


def test_heartbeat(k):
    info = k.km.get_connection_info()
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.linger = 0
    s.connect(f"{info['transport']}://{info['ip']}:{info['hb_port']}")
    try:
        s.send(b"ping-gantry")
        assert s.poll(HANG * 1000), "no heartbeat echo"
        assert s.recv() == b"ping-gantry"
    finally:
        s.close()
    assert k.kc.hb_channel.is_beating()
