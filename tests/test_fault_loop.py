"""A short run of the fault-injection loop (bench/faults.py): runs on the
local target and on an SSH target (a real sshd), each with its kernel,
agent, submitter or sshd killed at a random moment. Nothing may be lost,
stranded or doubled. `make bench-faults` runs the long version (100)."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from conftest import KERNEL_NAME, ROOT

sys.path.insert(0, str(ROOT / "bench"))
import faults  # noqa: E402

pytestmark = [
    pytest.mark.skipif(KERNEL_NAME != "gantry", reason="Gantry's runs"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs openssh-server (scripts/setup.sh installs it)"),
]


def test_fault_loop(jupyter_env):
    seed = random.randrange(1 << 30)
    outcomes = faults.loop(12, seed, log=lambda line: print(line, flush=True))
    table = faults.report(outcomes, seed)
    print(table)
    bad = [o for o in outcomes if o.lost or o.stranded or o.lines_lost or o.duplicates]
    assert not bad, f"seed {seed}:\n{table}\n" + "\n".join(f"{o.fault} {o.target}: {o.notes}" for o in bad)
    # Every kind of fault was tried on the runs.
    assert len({o.fault for o in outcomes}) >= 3, table
