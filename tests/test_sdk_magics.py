"""The SDK magics end to end, through the real kernel: %workspace, %compute,
%submit, %runs, %run, %metrics and %model against a workspace of the test's
own ($GANTRY_WORKSPACE), with a real run of a tiny Python script on the
local target.

The tests of this module share one kernel and one workspace and run in
order: later ones use the run the %submit test made. Every timeout is a hang
guard.
"""
from __future__ import annotations

import re
import time

import pytest

from conftest import KERNEL_NAME, error_text, errors_of, start_kernel, stdout_of, summarize, assert_error

pytestmark = pytest.mark.skipif(KERNEL_NAME != "gantry", reason="Gantry magics")

RUN_TIMEOUT = 120  # hang guard for a run of the tiny script

TRAIN = """\
import os
import gantry_run

print("training starts")
gantry_run.log("acc", 0.9)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights")
print("training done")
"""

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def sk(jupyter_env, tmp_path_factory):
    """(kernel, state): a kernel whose workspace is a fresh directory, in a
    fresh working directory; state carries the run ID between tests."""
    base = tmp_path_factory.mktemp("sdk-magics")
    work = base / "work"
    work.mkdir()
    k = start_kernel(env={"GANTRY_WORKSPACE": str(base / "ws")})
    try:
        k.ok(f"%cd {work}")
        yield k, {"work": work, "ws": base / "ws"}
    finally:
        k.shutdown()


def displays(outputs: list[dict]) -> list[dict]:
    return [m["content"]["data"] for m in outputs if m["msg_type"] == "display_data"]


def test_lsmagic_and_help(sk):
    k, _ = sk
    _, outputs = k.ok("%lsmagic")
    text = stdout_of(outputs)
    for name in ("workspace", "compute", "submit", "runs", "run", "metrics", "model"):
        assert re.search(rf"(?<!%)%{name}\b", text), f"%lsmagic does not list %{name}: {text!r}"
    reply, _ = k.ok("%help compute")
    pages = [p["data"]["text/plain"] for p in reply["content"].get("payload", []) if p.get("source") == "page"]
    assert pages and "%compute list" in pages[0] and "create local NAME" in pages[0], pages


def test_compute_create_and_list(sk):
    k, st = sk
    _, outputs = k.ok("%compute create local local")
    assert "Created local compute target local" in stdout_of(outputs), summarize(outputs)
    _, outputs = k.ok("%compute list")
    ds = displays(outputs)
    assert len(ds) == 1, summarize(outputs)
    assert "<table>" in ds[0]["text/html"] and "local" in ds[0]["text/html"], ds[0]
    assert re.search(r"local\s+local\s+Succeeded", ds[0]["text/plain"]), ds[0]["text/plain"]
    _, outputs = k.ok("%workspace")
    out = stdout_of(outputs)
    assert str(st["ws"]) in out and re.search(r"compute targets:\s+1", out), out


def test_compute_bad_inputs(sk):
    k, _ = sk
    assert_error(k, "%compute create local x", "2 to 16")
    assert_error(k, "%compute create ssh box", "needs --address and --user")
    assert_error(k, "%compute show nosuch", "not found", "%compute list")


def test_submit_waits_with_output(sk):
    k, st = sk
    k.ok("%%writefile train.py\n" + TRAIN)
    _, outputs = k.ok("%submit train.py", timeout=RUN_TIMEOUT)
    out = stdout_of(outputs)
    m = re.search(rf"Submitted run ({UUID}) to local \(experiment default\)", out)
    assert m, out
    assert "training starts" in out and "training done" in out, out
    run = m.group(1)
    # The final state, once, with the duration counting the environment's
    # preparation.
    assert len(re.findall(rf"Run {run}: Completed in \S+ \(preparation \S+\) \(exit code 0\)", out)) == 1, out
    assert "Completed (0s)" not in out, out
    st["run"] = run
    # For front ends without widgets, one status line, shown once under a
    # display id, updated in place while the run goes on, and cleared when
    # the wait ends (the line above says how it ended).
    shown = [o for o in outputs if o["msg_type"] == "display_data" and "display_id" in o["content"].get("transient", {})]
    assert len(shown) == 1, summarize(outputs)
    status_id = shown[0]["content"]["transient"]["display_id"]
    assert 'class="gantry-run-status"' in shown[0]["content"]["data"]["text/html"], shown[0]["content"]
    updates = [o for o in outputs if o["msg_type"] == "update_display_data"]
    assert updates and all(u["content"]["transient"]["display_id"] == status_id for u in updates), summarize(outputs)
    assert updates[-1]["content"]["data"]["text/plain"] == "", updates[-1]["content"]
    # The live run card: an anywidget model opened on a jupyter.widget comm
    # with the widget protocol's version, shown as a widget view with text
    # for front ends without widgets, and told the run's final state.
    opens = [o for o in outputs if o["msg_type"] == "comm_open"]
    assert len(opens) == 1 and opens[0]["content"]["target_name"] == "jupyter.widget", summarize(outputs)
    assert opens[0]["metadata"].get("version") == "2.1.0", opens[0]["metadata"]
    state = opens[0]["content"]["data"]["state"]
    assert state["_model_module"] == "anywidget" and state["_view_name"] == "AnyView", state
    assert "export default" in state["_esm"] and state["run_id"] == run, state
    comm_id = opens[0]["content"]["comm_id"]
    cards = [d for d in displays(outputs) if "application/vnd.jupyter.widget-view+json" in d]
    assert len(cards) == 1 and cards[0]["application/vnd.jupyter.widget-view+json"]["model_id"] == comm_id, cards
    assert f"Run {run[:8]}" in cards[0]["text/plain"], cards[0]
    sent = [o for o in outputs + k.strays if o["msg_type"] == "comm_msg" and o["content"]["comm_id"] == comm_id]
    deadline = time.monotonic() + RUN_TIMEOUT
    while not any(o["content"]["data"]["state"].get("state") == "Completed" for o in sent):
        assert time.monotonic() < deadline, f"the card never heard the run completed: {sent}"
        o = k.iopub()
        if o["msg_type"] == "comm_msg" and o["content"]["comm_id"] == comm_id:
            sent.append(o)
    final = {}
    for o in sent:
        final.update(o["content"]["data"]["state"])
    assert final["final"] is True and final["exit_code"] == 0 and "training done" in final["lines"], final
    assert final["last"] == {"acc": 0.9} and final["preparing_ms"] > 0, final


def test_runs_lists_the_run(sk):
    k, st = sk
    _, outputs = k.ok("%runs")
    ds = displays(outputs)
    assert len(ds) == 1, summarize(outputs)
    run = st["run"]
    assert f'title="{run}"' in ds[0]["text/html"], ds[0]["text/html"]
    assert run[:8] in ds[0]["text/plain"] and "Completed" in ds[0]["text/plain"], ds[0]["text/plain"]
    # A target column, and durations that count the environment's preparation.
    assert re.search(r"id\s+experiment\s+target\s+state", ds[0]["text/plain"]), ds[0]["text/plain"]
    assert re.search(rf"{run[:8]}\s+default\s+local\s+Completed.*\(preparation ", ds[0]["text/plain"]), ds[0]["text/plain"]
    _, outputs = k.ok("%runs --experiment nosuch")
    assert "No runs in experiment" in stdout_of(outputs), summarize(outputs)


def test_run_show_logs_wait(sk):
    k, st = sk
    run = st["run"]
    _, outputs = k.ok(f"%run show {run[:8]}")
    out = stdout_of(outputs)
    assert run in out and "Completed" in out and "acc=0.9" in out, out
    _, outputs = k.ok(f"%run logs {run}")
    assert "training starts" in stdout_of(outputs), summarize(outputs)
    _, outputs = k.ok(f"%run wait {run[:6]}", timeout=RUN_TIMEOUT)
    out = stdout_of(outputs)
    assert "training done" in out and f"Run {run}: Completed" in out, out
    assert_error(k, f"%run cancel {run}", "nothing to cancel")


def test_wait_from_a_cell_shows_the_card(sk):
    """run.WaitForCompletion in Go shows the same live card as %run wait."""
    k, st = sk
    run = st["run"]
    _, outputs = k.ok(f"""import (
	"context"
	"os"
	"gantry/sdk"
)
ctx := context.Background()
ws, _ := sdk.OpenWorkspace(ctx, "")
r, _ := ws.Run(ctx, "{run}")
state, _, _ := r.WaitForCompletion(ctx, sdk.WaitOptions{{Output: os.Stdout}})
state""", timeout=RUN_TIMEOUT)
    assert "training done" in stdout_of(outputs), summarize(outputs)
    opens = [o for o in outputs if o["msg_type"] == "comm_open"]
    assert len(opens) == 1 and opens[0]["content"]["data"]["state"]["run_id"] == run, summarize(outputs)
    assert opens[0]["content"]["data"]["state"]["state"] == "Completed", opens[0]["content"]["data"]["state"]
    cards = [d for d in displays(outputs) if "application/vnd.jupyter.widget-view+json" in d]
    assert len(cards) == 1, summarize(outputs)


def test_metrics(sk):
    k, st = sk
    _, outputs = k.ok(f"%metrics {st['run']}")
    ds = displays(outputs)
    assert len(ds) == 1, summarize(outputs)
    assert re.search(r"run\s+acc\n\S+\s+0\.9$", ds[0]["text/plain"]), ds[0]["text/plain"]
    assert "<th>acc</th>" in ds[0]["text/html"], ds[0]["text/html"]


def test_model_register_and_list(sk):
    k, st = sk
    run = st["run"]
    _, outputs = k.ok(f"%model register {run} m model.txt")
    assert "Registered model m version 1" in stdout_of(outputs), summarize(outputs)
    _, outputs = k.ok("%model list")
    ds = displays(outputs)
    assert len(ds) == 1, summarize(outputs)
    assert re.search(r"m\s+1\s+\S+\s+model\.txt", ds[0]["text/plain"]), ds[0]["text/plain"]
    assert_error(k, f"%model register {run} m nosuch.pt", "outputs/nosuch.pt not found", "model.txt")


def test_bad_inputs(sk):
    k, _ = sk
    assert_error(k, "%submit missing.py", "missing.py", "not found", "%%writefile")
    assert_error(k, "%run show nosuch", "no run has an ID starting with", "%runs")
    assert_error(k, "%run show abc", "too short")
    assert_error(k, "%submit --bogus train.py", "unknown option --bogus")
    assert_error(k, "%metrics", "needs one or more run IDs")
    assert_error(k, "%submit --target nope train.py", "not found", "%compute list")


def test_submit_no_wait_with_env_and_args(sk):
    k, _ = sk
    k.ok('%%writefile args.py\nimport sys\nprint("args:", sys.argv[1:])')
    _, outputs = k.ok("%submit --no-wait --env python3 --experiment other args.py --lr 0.1")
    out = stdout_of(outputs)
    m = re.search(rf"Submitted run ({UUID}) to local \(experiment other\)", out)
    assert m and f"%run wait {m.group(1)}" in out, out
    _, outputs = k.ok(f"%run wait {m.group(1)}", timeout=RUN_TIMEOUT)
    out = stdout_of(outputs)
    assert "args: ['--lr', '0.1']" in out and "Completed" in out, out


def test_interrupt_stops_waiting_not_the_run(sk):
    k, _ = sk
    k.ok('%%writefile slow.py\nimport time\nprint("slow starts", flush=True)\ntime.sleep(60)\nprint("slow done")')
    msg_id = k.execute("%submit --experiment slow slow.py")
    # Interrupt once the run's first output has arrived.
    seen = ""
    deadline = time.monotonic() + RUN_TIMEOUT
    while "slow starts" not in seen:
        assert time.monotonic() < deadline, f"no output from the run: {seen!r}"
        m = k.iopub()
        if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "stream":
            seen += m["content"]["text"]
    k.km.interrupt_kernel()
    reply, outputs = k.collect(msg_id, timeout=RUN_TIMEOUT)
    # The cell ends as interrupted (cells queued after it do not run), but
    # stopping the wait is no error: nothing red, and the run goes on.
    assert reply["content"]["status"] == "error", reply["content"]
    assert not errors_of(outputs), summarize(outputs)
    out = seen + stdout_of(outputs)
    m = re.search(rf"Submitted run ({UUID})", out)
    assert m, out
    run = m.group(1)
    assert re.search(rf"Stopped waiting; run {run} goes on \(Running, \S+ \(preparation \S+\) so far\)", out), out
    assert f"%run wait {run}" in out, out
    # The status line is cleared, not left at its last state.
    updates = [o for o in outputs if o["msg_type"] == "update_display_data"]
    assert updates and updates[-1]["content"]["data"]["text/plain"] == "", summarize(outputs)
    _, outputs = k.ok(f"%run show {run}")
    assert re.search(r"State:\s+Running", stdout_of(outputs)), stdout_of(outputs)
    _, outputs = k.ok(f"%run cancel {run}")
    assert "Asked run" in stdout_of(outputs), summarize(outputs)
    _, outputs = k.ok(f"%run wait {run}", timeout=RUN_TIMEOUT)
    out = stdout_of(outputs)
    assert f"Run {run}: Canceled" in out and "slow done" not in out, out


def test_compute_attach_and_update(sk):
    k, _ = sk
    _, outputs = k.ok("%compute attach local box-2 --max-concurrent-runs 1")
    assert "Attached local compute target box-2" in stdout_of(outputs), summarize(outputs)
    _, outputs = k.ok("%compute update box-2 --max-concurrent-runs 3")
    assert "max concurrent runs 3" in stdout_of(outputs), summarize(outputs)
    _, outputs = k.ok("%compute show box-2")
    assert '"max_concurrent_runs": 3' in stdout_of(outputs), summarize(outputs)
    assert_error(k, "%compute update box-2", "--max-concurrent-runs")
    assert_error(k, "%compute update nosuch --max-concurrent-runs 2", "not found")
    k.ok("%compute delete box-2")
