"""Notebook 04 (a pipeline on a Spark cluster and a managed cluster) runs end
to end against a real Spark standalone cluster (scripts/spark.sh) and a real
Slurm (scripts/slurm.sh): first run, resubmit (all reused), one input
changed (only its consumer runs)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import KERNEL_NAME, ROOT, cell_problems, cell_text, execute_notebook, notebook_cell

NOTEBOOK = ROOT / "notebooks" / "04-pipeline.ipynb"
SPARK = ROOT / "scripts" / "spark.sh"
SLURM = ROOT / "scripts" / "slurm.sh"
RUN_TIMEOUT = 600  # hang guard per cell: Spark applications start JVMs

pytestmark = pytest.mark.skipif(KERNEL_NAME != "gantry", reason="Go notebook")


@pytest.fixture(scope="module")
def spark_env(tmp_path_factory):
    """The Spark cluster of `make test` ($GANTRY_SPARK_DIR), or one of this module's."""
    d = os.environ.get("GANTRY_SPARK_DIR")
    own = not d
    if own:
        d = str(tmp_path_factory.mktemp("spark"))
    start = subprocess.run([str(SPARK), "start", d], capture_output=True, text=True, timeout=300)
    assert start.returncode == 0, f"scripts/spark.sh start: {start.stdout}{start.stderr}"
    env = subprocess.run([str(SPARK), "env", d], capture_output=True, text=True, check=True).stdout
    vals = dict(l.removeprefix("export ").split("=", 1) for l in env.splitlines() if "=" in l)
    yield {"GANTRY_SPARK_MASTER": vals["SPARK_MASTER_URL"], "SPARK_SECRET": vals["SPARK_SECRET"]}
    if own:
        subprocess.run([str(SPARK), "stop", d], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def slurm_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm")
    start = subprocess.run([str(SLURM), "start", str(d)], env=dict(os.environ, GANTRY_BOOT_DELAY="1"),
                           capture_output=True, text=True, timeout=120)
    assert start.returncode == 0, f"scripts/slurm.sh start: {start.stdout}{start.stderr}"
    yield d
    subprocess.run([str(SLURM), "stop", str(d)], check=False, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def pipeline_nb(jupyter_env, spark_env, slurm_dir, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pipeline")
    env = dict(spark_env, GANTRY_WORKSPACE=str(workdir / "ws"), GANTRY_PYTHON=sys.executable,
               GANTRY_SLURM_DIR=str(slurm_dir))
    return execute_notebook(NOTEBOOK, workdir, env, timeout=RUN_TIMEOUT)


def _out(nb, needle):
    return cell_text(notebook_cell(nb, needle))


def test_every_cell_ran_without_error(pipeline_nb):
    problems = cell_problems(pipeline_nb)
    assert not problems, "\n".join(problems)


def test_first_run_ran_every_step_on_its_target(pipeline_nb):
    out = _out(pipeline_nb, "first, err := pipeline.Submit")
    assert "Completed: 4 steps ran, 0 reused, 0 not run" in out, out[-3000:]
    assert "[clean] [sql] wrote" in out and "[features] features:" in out
    assert "[train] train on" in out and "[evaluate] evaluate: mse" in out


def test_resubmit_reuses_every_step(pipeline_nb):
    out = _out(pipeline_nb, "pipeline.Resubmit")
    assert "Completed: 0 steps ran, 4 reused, 0 not run" in out, out


def test_changed_input_runs_only_its_consumer(pipeline_nb):
    out = _out(pipeline_nb, "third, err := pipeline.Submit")
    assert "Completed: 1 steps ran, 3 reused, 0 not run" in out, out
    assert "[evaluate] evaluate: mse" in out


def test_graph_renders_as_svg_with_reused_steps(pipeline_nb):
    svgs = [o["data"]["image/svg+xml"] for c in pipeline_nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) >= 3, "the graphs did not render"
    assert svgs[1].count("reused ") == 4 and 'data-state="Completed"' in svgs[0]
