"""Notebook 01 (training on the local target) runs end to end, and a run
outlives the kernel that submitted it."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from conftest import (KERNEL_NAME, ROOT, cell_problems, execute_notebook, start_kernel, stdout_of, summarize,
                      notebook_cell as cell, cell_text as text)

NOTEBOOK = ROOT / "notebooks" / "01-local-training.ipynb"
RUN_TIMEOUT = 180  # hang guard per cell: runs train scikit-learn models and build a venv

pytestmark = pytest.mark.skipif(KERNEL_NAME != "gantry", reason="Go notebook")


def _venv_python() -> str:
    return str(Path(sys.executable))


# By nbclient, as Jupyter runs it, and headless by gantry nbrun, as a
# notebook repository's CI would.
@pytest.fixture(scope="module", params=["nbclient", "nbrun"])
def training(jupyter_env, tmp_path_factory, request):
    pytest.importorskip("sklearn", reason="scikit-learn (requirements.txt) trains the notebook's models")
    workdir = tmp_path_factory.mktemp("training")
    nb = execute_notebook(NOTEBOOK, workdir, {"GANTRY_WORKSPACE": str(workdir / "ws"), "GANTRY_PYTHON": _venv_python()},
                          timeout=RUN_TIMEOUT, runner=request.param)
    assert nb.metadata.kernelspec.language == "go"
    return nb, workdir


def test_every_cell_ran_without_error(training):
    problems = cell_problems(training[0])
    assert not problems, "\n".join(problems)


def test_workspace_is_the_one_given(training):
    _, workdir = training
    assert f"workspace: {workdir / 'ws'}" in text(cell(training[0], "sdk.OpenWorkspace"))


def test_both_runs_completed_with_live_output(training):
    nb, _ = training
    out = text(cell(nb, "func waitAll("))
    assert len(re.findall(r"<== run \S+: Completed", out)) == 2, out
    for alpha in ("0.01", "10.0"):
        assert f"Ridge(alpha={alpha})" in out, out
    assert out.count("fold 4: r2") == 2, out
    assert out.count("saved to outputs/model.pkl") == 2, out


def test_metrics_compared(training):
    nb, _ = training
    out = text(cell(nb, "type result struct"))
    rows = [l for l in out.splitlines() if "Completed" in l]
    assert len(rows) == 2, out
    for row in rows:
        cols = row.split()
        # run state alpha mse r2 cv-mean folds
        assert len(cols) == 7, row
        assert float(cols[3]) > 0 and -1 < float(cols[4]) < 1 and cols[6] == "5", row
    assert re.search(r"best: run \S+ \(alpha 0\.01, test mse [0-9.]+\)", out), out


def test_model_registered(training):
    nb, workdir = training
    out = text(cell(nb, "RegisterModel"))
    m = re.search(r"registered model diabetes-ridge version 1 from run (\S+) \(the table's best: true\)", out)
    assert m, out
    listing = text(cell(nb, 'Models(ctx, "")'))
    assert re.search(r"model diabetes-ridge:1 +run " + re.escape(m.group(1)) + r" .*model\.pkl \(\d+ bytes\)", listing), listing
    assert list((workdir / "ws" / "runs").glob(f"*{m.group(1)}*/outputs/model.pkl")) or \
        list((workdir / "ws").rglob("model.pkl")), "no model.pkl in the workspace"


def test_system_managed_env_built_then_reused(training):
    nb, workdir = training
    runs = text(cell(nb, "func submitStats("))
    assert len(re.findall(r"<== run \S+: Completed", runs)) == 2, runs
    assert runs.count("tinystats 0.1.0: mean 142.6") == 2, runs
    assert str(workdir / "ws" / "envs") in runs, "stats.py did not run with the built environment's python"
    logs = text(cell(nb, "func showEnvLogs("))
    assert re.search(r"submit 1 \(run \S+\): environment reused: false", logs), logs
    assert re.search(r"submit 2 \(run \S+\): environment reused: true", logs), logs
    built = [d for d in (workdir / "ws" / "envs").iterdir() if d.is_dir()]
    assert len(built) == 1, built


SURVIVOR = r'''
import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"gantry/sdk"
)
ctx := context.Background()
ws, err := sdk.OpenWorkspace(ctx, WSDIR)
if err != nil {
	panic(err)
}
_ = ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{})
src := filepath.Join(WSDIR, "..", "src")
os.MkdirAll(src, 0o755)
os.WriteFile(filepath.Join(src, "slow.py"), []byte(`import time
print("starting", flush=True)
time.sleep(3)
for i in range(3):
    print("line", i, flush=True)
print("done")
`), 0o644)
run, err := ws.Experiment("survive").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: src, Script: "slow.py",
	RunConfig: sdk.RunConfiguration{Target: "local"}})
if err != nil {
	panic(err)
}
fmt.Println("RUN", run.ID)
'''

RESUME = r'''
import (
	"context"
	"fmt"
	"os"

	"gantry/sdk"
)
ctx := context.Background()
ws, err := sdk.OpenWorkspace(ctx, WSDIR)
if err != nil {
	panic(err)
}
run, err := ws.Run(ctx, RUNID)
if err != nil {
	panic(err)
}
st, _, err := run.WaitForCompletion(ctx, sdk.WaitOptions{Output: os.Stdout})
fmt.Println("STATE", st, err)
'''


def test_run_survives_kernel_shutdown(jupyter_env, tmp_path):
    wsdir = tmp_path / "ws"
    k = start_kernel()
    try:
        reply, outputs = k.run(SURVIVOR.replace("WSDIR", f'"{wsdir}"'), timeout=60)
        assert reply["content"]["status"] == "ok", summarize(outputs)
        m = re.search(r"RUN (\S+)", stdout_of(outputs))
        assert m, summarize(outputs)
        run_id = m.group(1)
    finally:
        k.kc.stop_channels()
        k.km.shutdown_kernel(now=True)
    assert not k.km.is_alive()

    k2 = start_kernel()
    try:
        code = RESUME.replace("WSDIR", f'"{wsdir}"').replace("RUNID", f'"{run_id}"')
        reply, outputs = k2.run(code, timeout=60)
        assert reply["content"]["status"] == "ok", summarize(outputs)
        out = stdout_of(outputs)
        assert "STATE Completed <nil>" in out, out
        assert out.startswith("starting\n"), out
        for want in ("line 0\n", "line 1\n", "line 2\n", "done\n"):
            assert want in out, out
    finally:
        k2.shutdown()


def test_compare_highlights_the_lowest_mse(training):
    """Issue 10: Compare ranked mse higher-is-better and highlighted the worse
    run. With sdk.Minimize the starred row is the run with the lowest mse,
    the one the notebook's own table calls best; series are summarised."""
    nb, _ = training
    table = cell(nb, 'sdk.Compare(ctx, runs, "mse", sdk.Minimize)')
    res = [o for o in table["outputs"] if o["output_type"] == "execute_result"]
    assert res, table["outputs"]
    plain, html = res[0]["data"]["text/plain"], res[0]["data"]["text/html"]
    best = re.search(r"best: run (\S+) \(alpha [0-9.]+, test mse ([0-9.]+)\)", text(cell(nb, "type result struct")))
    assert best, text(cell(nb, "type result struct"))
    starred = [l for l in plain.splitlines() if l.startswith("*")]
    assert len(starred) == 1 and best.group(1)[:8] in starred[0], plain
    assert f"best mse = {best.group(2)} (last value; lower is better)" in plain, plain
    assert "mse ↓" in plain and 'title="lower is better"' in html, plain
    assert "5 values: mean" in plain and "10 values: mean" in plain, plain  # cv_r2 folds, coef list
    highlighted = [r for r in html.split("<tr") if "background" in r]
    assert len(highlighted) == 1 and best.group(1)[:8] in highlighted[0], html


def test_compare_and_plot_render(training):
    """sdk.Compare and sdk.Plot, left as a cell's value, render as HTML and SVG."""
    nb, _ = training
    table = cell(nb, 'sdk.Compare(ctx, runs, "mse", sdk.Minimize)')
    plot = cell(nb, 'sdk.Plot(ctx, runs, "cv_r2")')
    t = [o for o in table["outputs"] if o["output_type"] == "execute_result"]
    p = [o for o in plot["outputs"] if o["output_type"] == "execute_result"]
    assert t and "<table" in t[0]["data"]["text/html"] and "mse" in t[0]["data"]["text/plain"], table["outputs"]
    assert p and "<svg" in p[0]["data"]["image/svg+xml"], plot["outputs"]
