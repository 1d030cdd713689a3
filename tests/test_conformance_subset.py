"""The quick subset of Go's conformance programs through the kernel.

bench/conformance/subset.json names ~40 GOROOT/test `// run` programs and
the result the kernel had when the list was last updated. Each runs as
bench/conformance/conformance.py runs it (one cell after %reset, over
jupyter_client, output judged as `go run` is judged). The test fails when a
program that passed fails; a program that starts passing is reported
(update subset.json to hold on to it). `make conformance` runs them all.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from conftest import BIN, KERNEL_NAME, ROOT

import pytest

sys.path.insert(0, str(ROOT / "bench" / "conformance"))
import conformance  # noqa: E402


def goroot_with_tests() -> Path:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    root = Path(subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip())
    if not (root / "test").is_dir():
        pytest.fail(f"{root}/test does not exist: the conformance subset needs a Go installation with its test/ "
                    "directory (the official tarball has it)")
    return root


@pytest.mark.skipif(KERNEL_NAME != "gantry", reason="Go programs")
def test_conformance_subset(jupyter_env):
    expected = conformance.load_subset()
    progs = [p for p in conformance.select(goroot_with_tests(), constrained=True) if p.id in expected]
    assert sorted(p.id for p in progs) == sorted(expected), "subset.json names programs the selection lacks"
    peer = conformance.KernelPeer(BIN, timeout=60)
    try:
        results = {p.id: peer.run(p) for p in progs}
    finally:
        peer.close()
    regressed = {pid: r.reason for pid, r in results.items() if expected[pid] == "pass" and not r.ok}
    improved = sorted(pid for pid, r in results.items() if expected[pid] != "pass" and r.ok)
    if improved:
        warnings.warn(f"now passing (mark them \"pass\" in bench/conformance/subset.json): {improved}")
    assert not regressed, f"programs of the subset that passed now fail (main: {peer.main_mode}): {regressed}"
    # The subset must keep programs that pass, or it guards nothing.
    assert sum(1 for v in expected.values() if v == "pass") >= 25
