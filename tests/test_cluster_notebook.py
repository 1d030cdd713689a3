"""Notebook 03 (a managed cluster on Slurm) runs end to end against a real
Slurm started by scripts/slurm.sh, and the %compute magics create and
describe managed clusters."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import (KERNEL_NAME, ROOT, assert_error, cell_problems, execute_notebook, notebook_cell as cell,
                      cell_text as text, stdout_of)

NOTEBOOK = ROOT / "notebooks" / "03-cluster.ipynb"
SLURM = ROOT / "scripts" / "slurm.sh"
RUN_TIMEOUT = 180  # hang guard per cell


def _slurm_missing() -> str:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    missing = [p for p in ("slurmctld", "slurmd", "sbatch", "munged") if not shutil.which(p, path=path)]
    if missing:
        return (f"Slurm is not installed ({', '.join(missing)} not found): "
                "apt-get install slurm-wlm munge (scripts/setup.sh does)")
    return ""


pytestmark = [
    pytest.mark.skipif(KERNEL_NAME != "gantry", reason="Go notebook"),
    pytest.mark.skipif(bool(_slurm_missing()), reason=_slurm_missing() or "Slurm installed"),
]


@pytest.fixture(scope="module")
def slurm_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, GANTRY_BOOT_DELAY="2")
    start = subprocess.run([str(SLURM), "start", str(d)], env=env, capture_output=True, text=True, timeout=120)
    assert start.returncode == 0, f"scripts/slurm.sh start: {start.stdout}{start.stderr}"
    yield d
    subprocess.run([str(SLURM), "stop", str(d)], check=False, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def cluster_nb(jupyter_env, slurm_dir, tmp_path_factory):
    pytest.importorskip("sklearn", reason="scikit-learn (requirements.txt) trains the notebook's models")
    workdir = tmp_path_factory.mktemp("cluster")
    return execute_notebook(NOTEBOOK, workdir, {"GANTRY_SLURM_DIR": str(slurm_dir), "GANTRY_WORKSPACE": str(workdir / "ws"),
                                                "GANTRY_PYTHON": sys.executable}, timeout=RUN_TIMEOUT,
                            runner="nbrun")  # headless, as CI would run it (nbclient runs notebooks 00 and 01)


def test_every_cell_ran_without_error(cluster_nb):
    problems = cell_problems(cluster_nb)
    assert not problems, "\n".join(problems)


def test_scales_up_from_zero(cluster_nb):
    statuses = [c for c in cluster_nb.cells if c.cell_type == "code" and c.source.strip() == "%compute status cpu-cluster"]
    assert len(statuses) == 3, [c.source for c in statuses]
    before = text(statuses[0])
    assert "0 to 2 nodes of STANDARD_D1_V2" in before and "nodes: 2 powered down; runs: 0 queued, 0 running" in before, before
    out = text(cell(cluster_nb, "WaitForCluster"))
    assert "compute cpu-cluster: nodes: 2 powered down" in out, out
    assert "scaled up: 2 of 2 nodes up" in out, out
    after = text(statuses[1])
    assert re.search(r"nodes: 2 (idle|busy)", after), after


def test_two_node_run_completed_on_both_ranks(cluster_nb):
    out = text(cell(cluster_nb, "2-node run:"))
    assert "2-node run: Completed" in out, out
    assert "node 0 of 2" in out, out
    rank1 = out.split("--- rank 1 ---", 1)[1]
    assert "node 1 of 2" in rank1 and "fold 4: r2" in rank1 and "saved to outputs/model.pkl" in rank1, out


def test_preemption_requeue_and_completion(cluster_nb):
    assert "Created managed cluster cpu-low: lowpriority, on the nodes of cpu-cluster." in text(
        cell(cluster_nb, "%compute create cluster cpu-low"))
    assert "dedicated run: Completed" in text(cell(cluster_nb, "waitForOutput(low"))
    out = text(cell(cluster_nb, "low-priority run:"))
    assert "low-priority run: Completed" in out, out
    assert re.search(r"SIGTERM: checkpoint saved at step (\d+)", out), out
    step = re.search(r"SIGTERM: checkpoint saved at step (\d+)", out).group(1)
    assert "start at step 0 (Slurm restart 0)" in out and f"start at step {step} (Slurm restart 1)" in out, out
    assert "finished 40 steps" in out, out
    events = text(cell(cluster_nb, "low.Events"))
    lines = events.splitlines()
    pre = [i for i, l in enumerate(lines) if re.search(r"Running\s+-> Queued\s+preempted; requeued by Slurm", l)]
    assert pre, events
    restart = [i for i, l in enumerate(lines) if "requeued by Slurm: restart 1" in l or
               re.search(r"Queued\s+-> Preparing", l) and i > pre[0]]
    assert restart and restart[-1] > pre[0], events
    assert re.search(r"Finalizing\s+-> Completed", lines[-2]), events
    assert "restarts: 1" in events, events


def test_scales_back_to_zero(cluster_nb):
    out = text(cell(cluster_nb, "waitForZero("))
    assert "scaled down to 0 of 2 nodes" in out, out
    statuses = [c for c in cluster_nb.cells if c.cell_type == "code" and c.source.strip() == "%compute status cpu-cluster"]
    assert "nodes: 2 powered down; runs: 0 queued, 0 running" in text(statuses[2])
    assert "Updated managed cluster cpu-cluster: 0 to 3 nodes" in text(cell(cluster_nb, "%compute update cpu-cluster"))


def test_compute_create_cluster_magic(k, slurm_dir, tmp_path):
    k.run(f"%cd {tmp_path}")
    assert_error(k, f"%compute create cluster mc --vm-size HUGE --max-nodes 2 --slurm-dir {slurm_dir}",
                 'unknown VM size "HUGE"', "STANDARD_D1_V2", "STANDARD_NC6")
    assert_error(k, f"%compute create cluster mc --vm-size STANDARD_D1_V2 --min-nodes 3 --max-nodes 2 --slurm-dir {slurm_dir}",
                 "--min-nodes 3 is more than --max-nodes 2")
    assert_error(k, "%compute show mc", "not found")
    reply, outputs = k.run(
        f"%compute create cluster mc --vm-size standard_d2_v2 --max-nodes 2 --idle-seconds 30 --slurm-dir {slurm_dir}")
    out = stdout_of(outputs)
    assert reply["content"]["status"] == "ok", outputs
    assert "Created managed cluster mc: 0 to 2 nodes of STANDARD_D2_V2 (2 CPUs, 7168 MB), dedicated" in out, out
    assert "nodes: 2 powered down; runs: 0 queued, 0 running" in out, out
    assert_error(k, f"%compute create cluster mc --vm-size STANDARD_D1_V2 --max-nodes 1 --slurm-dir {slurm_dir}",
                 "already exists with other settings", "max_nodes: 2 there, 1 here", "%compute update")
    # Get-or-create: the same settings again find the cluster and change nothing.
    reply, outputs = k.run(f"%compute create cluster mc --vm-size STANDARD_D2_V2 --max-nodes 2 --idle-seconds 30")
    assert reply["content"]["status"] == "ok", outputs
    assert "Found (same settings) managed cluster mc: 0 to 2 nodes" in stdout_of(outputs), outputs
    reply, outputs = k.run("%compute status mc")
    out = stdout_of(outputs)
    assert reply["content"]["status"] == "ok", outputs
    assert "mc: managed cluster" in out and "mc-1" in out and "mc-2" in out and "powered down" in out, out
    reply, outputs = k.run("%compute update mc --max-nodes 3 --idle-seconds 20")
    assert reply["content"]["status"] == "ok", outputs
    assert "0 to 3 nodes" in stdout_of(outputs) and "after 20 s idle" in stdout_of(outputs)
    assert_error(k, "%compute update mc --min-nodes 4", "min nodes 4 would be more than max nodes 3")
    out = stdout_of(k.run("%compute status mc")[1])
    assert "nodes: 3 powered down" in out, out
    reply, outputs = k.run("%compute delete mc")
    assert reply["content"]["status"] == "ok", outputs
    pools = subprocess.run(["sinfo", "-h", "-o", "%P"], env=dict(os.environ, SLURM_CONF=str(slurm_dir / "etc" / "slurm.conf")),
                           capture_output=True, text=True)
    assert "mc" not in pools.stdout.split(), pools.stdout
