"""Tests of sdk/track/python/gantry_run.py, the metrics helper for Python scripts.

Each test runs a small script in a fresh interpreter, with the environment
the Gantry agent gives a run (GANTRY_RUN_ID, GANTRY_RUN_DIR, ...), and reads
the track file it wrote: one JSON object per line, the format the Go reader
(gantry/sdk/track.Tailer) parses. The Go side of the round trip is
sdk/track/python_test.go.
"""
from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HELPER_DIR = ROOT / "sdk" / "track" / "python"
HELPER = HELPER_DIR / "gantry_run.py"
HANG = 120  # seconds: hang guard only
PNG = b"\x89PNG\r\n\x1a\n" + b"pixels"


def gantry_env(run_dir: Path, run_id: str = "run-1") -> dict[str, str]:
    return {
        "GANTRY_RUN_ID": run_id,
        "GANTRY_EXPERIMENT": "exp",
        "GANTRY_RUN_DIR": str(run_dir),
        "GANTRY_OUTPUTS_DIR": str(run_dir / "outputs"),
        "GANTRY_TRACK_FILE": str(run_dir / "track.jsonl"),
    }


def run_script(code: str, env: dict[str, str], cwd: Path, python: str = sys.executable,
               check: bool = True) -> subprocess.CompletedProcess:
    """Runs code with gantry_run importable and only the GANTRY_* variables in env."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("GANTRY_")}
    full.update(env)
    full["PYTHONPATH"] = str(HELPER_DIR)
    proc = subprocess.run([python, "-c", textwrap.dedent(code)], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=HANG)
    if check:
        assert proc.returncode == 0, f"script failed ({proc.returncode}):\n{proc.stderr}"
    return proc


def records(run_dir: Path) -> list[dict]:
    """The records in the run's track file; every line must be whole JSON."""
    text = (run_dir / "track.jsonl").read_text()
    assert text == "" or text.endswith("\n"), "track file ends in a partial line"
    out = []
    for line in text.splitlines():
        rec = json.loads(line)
        assert isinstance(rec.get("t"), float) and rec["k"] in {"metric", "list", "row", "image", "tag"}, line
        assert line == json.dumps(rec, separators=(",", ":"), ensure_ascii=True), f"not compact: {line}"
        out.append(rec)
    return out


def without_time(recs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "t"} for r in recs]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    return d


def test_every_kind(run_dir: Path, tmp_path: Path):
    run_script(f"""
        import gantry_run as run
        png = {PNG!r}
        run.tag("model", "ridge")
        run.tag("alpha", 0.5)
        run.log("loss", 0.5)
        run.log("loss", 0.25, step=3)
        run.log("count", 7)
        run.log("λ \\"q\\"", 1.5)
        run.log_list("acc", [0.5, 1, 0.75])
        run.log_list("empty", [])
        run.log_row("scores", alpha=0.1, mse=3, name=2)
        run.log_image("plot", data=png)
        run.log_image("plot", data=png)
        with open("elsewhere.png", "wb") as f:
            f.write(png)
        run.log_image("copied", path="elsewhere.png")
        inside = run.outputs_dir() + "/inside.png"
        with open(inside, "wb") as f:
            f.write(png)
        run.log_image("kept", path=inside)
        assert run.run_id() == "run-1" and run.experiment() == "exp"
        assert run.outputs_dir() == {str(run_dir / "outputs")!r}
    """, gantry_env(run_dir), cwd=tmp_path)
    recs = records(run_dir)
    assert without_time(recs) == [
        {"k": "tag", "key": "model", "value": "ridge"},
        {"k": "tag", "key": "alpha", "value": "0.5"},
        {"k": "metric", "name": "loss", "value": 0.5},
        {"k": "metric", "name": "loss", "value": 0.25, "step": 3},
        {"k": "metric", "name": "count", "value": 7.0},
        {"k": "metric", "name": "λ \"q\"", "value": 1.5},
        {"k": "list", "name": "acc", "values": [0.5, 1.0, 0.75]},
        {"k": "list", "name": "empty", "values": []},
        {"k": "row", "name": "scores", "values": {"alpha": 0.1, "mse": 3.0, "name": 2.0}},
        {"k": "image", "name": "plot", "path": "outputs/plot.png"},
        {"k": "image", "name": "plot", "path": "outputs/plot-1.png"},
        {"k": "image", "name": "copied", "path": "outputs/copied.png"},
        {"k": "image", "name": "kept", "path": "outputs/inside.png"},
    ]
    times = [r["t"] for r in recs]
    assert times == sorted(times)
    for r in recs:
        if r["k"] == "image":
            assert (run_dir / r["path"]).read_bytes() == PNG


# Each case: a call that must raise, the exception, and what its message must say.
REJECTED = [
    ('run.log("loss", float("nan"))', ValueError, ["loss", "nan"]),
    ('run.log("loss", float("inf"), step=1)', ValueError, ["loss", "inf"]),
    ('run.log("loss", -math.inf)', ValueError, ["loss", "-inf"]),
    ('run.log("loss", 10 ** 400)', ValueError, ["loss", "finite"]),
    ('run.log("loss", True)', TypeError, ["loss", "bool"]),
    ('run.log("loss", "0.5")', TypeError, ["loss", "str"]),
    ('run.log("loss", None)', TypeError, ["loss", "NoneType"]),
    ('run.log("", 1.0)', ValueError, ["empty metric name"]),
    ('run.log(3, 1.0)', TypeError, ["metric name", "int"]),
    ('run.log("loss", 1.0, step=-1)', ValueError, ["loss", "step -1"]),
    ('run.log("loss", 1.0, step=1.5)', TypeError, ["loss", "step 1.5"]),
    ('run.log("loss", 1.0, step=True)', TypeError, ["loss", "step True"]),
    ('run.log_list("acc", [1.0, 2.0, float("nan")])', ValueError, ["acc[2]", "nan"]),
    ('run.log_list("acc", [1.0, False])', TypeError, ["acc[1]", "bool"]),
    ('run.log_row("table", a=1.0, b=float("inf"))', ValueError, ["table.b", "inf"]),
    ('run.log_row("table")', ValueError, ["table", "no columns"]),
    ('run.log_row("table", **{"": 1.0})', ValueError, ["table", "empty column"]),
    ('run.log_image("plot", data=b"GIF89a")', ValueError, ["plot", "not a PNG"]),
    ('run.log_image("plot")', TypeError, ["plot", "path= or data="]),
    ('run.log_image("plot", path="missing.png")', FileNotFoundError, ["plot", "missing.png"]),
    ('run.tag("k", object())', TypeError, ["k", "object"]),
    ('run.tag("", "v")', ValueError, ["empty tag key"]),
]


@pytest.mark.parametrize("inside_gantry", [True, False], ids=["gantry", "outside"])
@pytest.mark.parametrize("call,exc,words", REJECTED, ids=[c for c, _, _ in REJECTED])
def test_rejected(call: str, exc: type, words: list[str], inside_gantry: bool, run_dir: Path, tmp_path: Path):
    # The checks are the same inside and outside Gantry, and a rejected call writes nothing.
    proc = run_script(f"""
        import math, sys
        import gantry_run as run
        try:
            {call}
        except {exc.__name__} as e:
            print(str(e))
        else:
            sys.exit("no {exc.__name__}")
    """, gantry_env(run_dir) if inside_gantry else {}, cwd=tmp_path)
    for w in words:
        assert w in proc.stdout, f"message {proc.stdout!r} does not say {w!r}"
    if inside_gantry:
        assert records(run_dir) == []
        outputs = run_dir / "outputs"
        assert not outputs.exists() or not any(outputs.iterdir())


def test_outside_gantry(tmp_path: Path):
    # Without GANTRY_TRACK_FILE every call works, one warning is printed,
    # and nothing is written but the outputs directory the script asks for.
    proc = run_script(f"""
        import gantry_run as run
        for i in range(100):
            run.log("loss", i * 0.5, step=i)
            run.log("acc", 1.0)
        run.log_list("l", [1, 2])
        run.log_row("r", a=1)
        run.log_image("p", data={PNG!r})
        run.tag("k", "v")
        run.flush()
        assert run.run_id() is None and run.experiment() is None
        print(run.outputs_dir())
    """, {}, cwd=tmp_path)
    warnings = proc.stderr.splitlines()
    assert len(warnings) == 1 and "GANTRY_TRACK_FILE is not set" in warnings[0], proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "outputs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outputs"]
    assert not any((tmp_path / "outputs").iterdir())


def test_unwritable_track_file(tmp_path: Path):
    # A track file that cannot be opened costs one warning, not the script.
    env = gantry_env(tmp_path / "missing" / "run")
    proc = run_script("""
        import gantry_run as run
        for i in range(1000):
            run.log("loss", 1.0)
        run.tag("k", "v")
        run.flush()
        print("done")
    """, env, cwd=tmp_path)
    assert proc.stdout == "done\n"
    warnings = proc.stderr.splitlines()
    assert len(warnings) == 1 and "cannot write" in warnings[0], proc.stderr


def test_background_flush(run_dir: Path, tmp_path: Path):
    # Without flush() or exit, a record reaches the file within a few intervals;
    # os._exit skips atexit, so only the background thread can have written it.
    proc = run_script(f"""
        import os, time
        import gantry_run as run
        run.log("loss", 1.0)
        path = {str(run_dir / "track.jsonl")!r}
        deadline = time.monotonic() + 10 * run.FLUSH_INTERVAL
        while time.monotonic() < deadline:
            if os.path.exists(path) and open(path).read().count("\\n") == 1:
                print("written")
                break
            time.sleep(run.FLUSH_INTERVAL / 4)
        os._exit(0)
    """, gantry_env(run_dir), cwd=tmp_path)
    assert proc.stdout == "written\n"


def test_flush_at_exit(run_dir: Path, tmp_path: Path):
    # Records logged just before the end, even by a later atexit handler, are kept.
    run_script("""
        import atexit
        import gantry_run as run
        atexit.register(lambda: run.log("from_atexit", 2.0))  # runs after the helper's own handler
        run.log("loss", 1.0)
    """, gantry_env(run_dir), cwd=tmp_path)
    assert [r["name"] for r in records(run_dir)] == ["loss", "from_atexit"]


def test_fork(run_dir: Path, tmp_path: Path):
    # A forked child does not write again what its parent had buffered.
    run_script("""
        import os
        import gantry_run as run
        run.log("parent", 1.0)
        pid = os.fork()
        if pid == 0:
            run.log("child", 2.0)
            run.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        run.log("parent", 3.0)
    """, gantry_env(run_dir), cwd=tmp_path)
    got = sorted((r["name"], r["value"]) for r in records(run_dir))
    assert got == [("child", 2.0), ("parent", 1.0), ("parent", 3.0)]


def test_threads(run_dir: Path, tmp_path: Path):
    # Many threads logging at once: every record arrives once, in order per thread.
    run_script("""
        import threading
        import gantry_run as run
        def work(w):
            for i in range(20000):
                run.log("w%d" % w, float(i), step=i)
        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
    """, gantry_env(run_dir), cwd=tmp_path)
    steps: dict[str, list[int]] = {}
    for r in records(run_dir):
        steps.setdefault(r["name"], []).append(r["step"])
    assert steps == {"w%d" % w: list(range(20000)) for w in range(8)}


def test_python38_compatible():
    # The helper must run on Python 3.8: its syntax must parse as 3.8's ...
    ast.parse(HELPER.read_text(), feature_version=(3, 8))


def _python38() -> str | None:
    for p in ("python3.8", "/root/.pyenv/versions/3.8.18/bin/python3.8"):
        try:
            out = subprocess.run([p, "-c", "import sys; print(sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=HANG)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == "(3, 8)":
            return p
    return None


def test_python38_runs(run_dir: Path, tmp_path: Path):
    # ... and, where a 3.8 interpreter is at hand, it must work there.
    py = _python38()
    if py is None:
        pytest.skip("no Python 3.8 interpreter")
    run_script("""
        import gantry_run as run
        run.log("loss", 0.5, step=1)
        run.log_row("r", name=1.0)
        run.tag("k", "v")
    """, gantry_env(run_dir), cwd=tmp_path, python=py)
    assert without_time(records(run_dir)) == [
        {"k": "metric", "name": "loss", "value": 0.5, "step": 1},
        {"k": "row", "name": "r", "values": {"name": 1.0}},
        {"k": "tag", "key": "k", "value": "v"},
    ]


def test_throughput(run_dir: Path, tmp_path: Path):
    # 1,000,000 log() calls: prints the rate (not asserted: machines differ)
    # and checks that every point arrived, whole.
    n = 1_000_000
    proc = run_script(f"""
        import time
        import gantry_run as run
        t0 = time.perf_counter()
        for i in range({n}):
            run.log("loss", i * 0.001)
        run.flush()
        print(time.perf_counter() - t0)
    """, gantry_env(run_dir), cwd=tmp_path)
    secs = float(proc.stdout)
    print(f"\ngantry_run.log: {n:,} points in {secs:.2f} s = {n / secs:,.0f} points/s")
    lines = (run_dir / "track.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == n + 1
    for i in (0, 1, n // 2, n - 1):
        rec = json.loads(lines[i])
        assert rec["name"] == "loss" and math.isclose(rec["value"], i * 0.001, abs_tol=1e-12), rec
