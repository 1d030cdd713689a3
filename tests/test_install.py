"""`gantry install` writes a kernelspec Jupyter can use."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from conftest import BIN, HANG, KERNEL_NAME

pytestmark = pytest.mark.skipif(KERNEL_NAME != "gantry", reason="gantry binary tests")


def gantry(*args, env=None):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=HANG,
                          env={**os.environ, **(env or {})})


def test_install_prefix(tmp_path, jupyter_env):
    r = gantry("install", "--prefix", str(tmp_path))
    assert r.returncode == 0, r.stderr
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "gantry"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["display_name"] == "Go (Gantry)"
    assert spec["language"] == "go"
    assert spec["interrupt_mode"] == "message"
    argv = spec["argv"]
    assert os.path.isabs(argv[0]) and os.path.samefile(argv[0], BIN), argv
    assert argv[1:] == ["kernel", "--connection-file", "{connection_file}"], argv
    # jupyter_client reads it
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "share" / "jupyter" / "kernels")])
    ks = ksm.get_kernel_spec("gantry")
    assert ks.language == "go" and ks.interrupt_mode == "message"


def test_install_name_and_uninstall(tmp_path, jupyter_env):
    r = gantry("install", "--prefix", str(tmp_path), "--name", "gantry-dev")
    assert r.returncode == 0, r.stderr
    d = tmp_path / "share" / "jupyter" / "kernels" / "gantry-dev"
    assert (d / "kernel.json").is_file()
    r = gantry("install", "--prefix", str(tmp_path), "--name", "gantry-dev", "--uninstall")
    assert r.returncode == 0, r.stderr
    assert not d.exists()


def test_install_sys_prefix(tmp_path, jupyter_env):
    venv = tmp_path / "venv"
    venv.mkdir()
    r = gantry("install", "--sys-prefix", env={"VIRTUAL_ENV": str(venv)})
    assert r.returncode == 0, r.stderr
    assert (venv / "share" / "jupyter" / "kernels" / "gantry" / "kernel.json").is_file()


def test_install_is_idempotent(tmp_path, jupyter_env):
    for _ in range(2):
        r = gantry("install", "--prefix", str(tmp_path))
        assert r.returncode == 0, r.stderr
