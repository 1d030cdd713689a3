#!/usr/bin/env python3
"""Gantry vs ipykernel, side by side in the same run.

    .venv/bin/python bench/bench.py [--reps-start 5] [--reps-trivial 30] [--kernels gantry,python3]

Both kernels are installed into a temporary Jupyter dir (bin/gantry install
--prefix; python -m ipykernel install --prefix, using this venv's Python) and
driven by jupyter_client, alternating kernel by kernel in every round so that
noise on the machine hits both alike. Measured:

* cold start -> kernel_info_reply (process launch to the first reply)
* start -> first trivial cell idle
* trivial cell -> idle
* 10,000 printed lines -> all output + idle
* a loop summing i*i for i < 2e7 (top level of the cell) -> idle
* trivial cell -> idle again after 200 cells of declarations (a type with a
  method, funcs; Python: a class and functions): Gantry type-checks each cell
  against the earlier ones, so this shows whether that grows with the session
* RSS of the kernel's process tree (psutil) after start and after those cells,
  summed, and with pages shared between the tree's processes counted once

Prints a markdown table (median and p95 in ms, ratio gantry/ipykernel of the
medians) and writes it to bench/results/latest.md (and latest.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from queue import Empty

import psutil
from jupyter_client import KernelManager

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("GANTRY_BIN", ROOT / "bin" / "gantry"))  # another build to compare, e.g. main's
HANG = 300

CODE = {
    "gantry": {
        "warmup": 'import "fmt"',
        "trivial": "1+1",
        "lines": 'for i := 0; i < 10000; i++ {\n\tfmt.Println("line", i)\n}',
        "loop": "total := 0\nfor i := 0; i < 20000000; i++ {\n\ttotal += i * i\n}\ntotal",
        "decl": "type T{n} struct{{ a, b int; s string }}\n"
                "func (t T{n}) Sum() int {{ return t.a + t.b + len(t.s) }}\n"
                "func f{n}(x int) int {{ return x + {n} }}\n"
                "v{n} := T{n}{{a: {n}}}",
    },
    "python3": {
        "warmup": "import sys",
        "trivial": "1+1",
        "lines": 'for i in range(10000):\n    print("line", i)',
        "loop": "total = 0\nfor i in range(20000000):\n    total += i * i\ntotal",
        "decl": "class T{n}:\n    def __init__(self, a=0, b=0, s=''):\n        self.a, self.b, self.s = a, b, s\n"
                "    def sum(self):\n        return self.a + self.b + len(self.s)\n"
                "def f{n}(x):\n    return x + {n}\n"
                "v{n} = T{n}(a={n})",
    },
}
LABEL = {"gantry": "gantry", "python3": "ipykernel"}


def now() -> float:
    return time.perf_counter()


class Run:
    def __init__(self, name: str):
        self.name = name
        self.km = KernelManager(kernel_name=name)
        self.kc = None

    def start(self) -> tuple[float, float]:
        """(ms to kernel_info_reply, ms to first trivial cell idle), both from launch."""
        t0 = now()
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        # first kernel_info_reply: poll like wait_for_ready, but time it ourselves
        while True:
            msg_id = self.kc.kernel_info()
            try:
                reply = self._reply(msg_id, timeout=1.0)
                break
            except Empty:
                if now() - t0 > HANG:
                    raise RuntimeError(f"{self.name}: no kernel_info_reply in {HANG}s")
                if not self.km.is_alive():
                    raise RuntimeError(f"{self.name}: kernel died while starting")
        t_info = now()
        assert reply["content"]["status"] == "ok", reply["content"]
        # As jupyter_client's wait_for_ready does: make sure iopub is connected
        # (status messages arrive) before running a cell, or its output could be
        # published before our subscription is in place and be lost.
        while True:
            self.kc.kernel_info()
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05)
            except Empty:
                if now() - t0 > HANG:
                    raise RuntimeError(f"{self.name}: iopub never connected")
                continue
            if msg["msg_type"] in ("status", "iopub_welcome"):
                break
        # (cell() skips messages that answer other requests, so nothing to drain)
        self.cell(CODE[self.name]["trivial"])
        t_cell = now()
        self._drain()
        return (t_info - t0) * 1e3, (t_cell - t0) * 1e3

    def _reply(self, msg_id: str, timeout: float) -> dict:
        deadline = now() + timeout
        while True:
            left = deadline - now()
            if left <= 0:
                raise Empty
            try:
                msg = self.kc.get_shell_msg(timeout=min(left, 1.0))
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def _drain(self):
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0.05)
            except Empty:
                return

    def cell(self, code: str) -> tuple[float, str]:
        """Run code; (ms from send to status idle, stdout text). All output is consumed."""
        t0 = now()
        msg_id = self.kc.execute(code)
        out = []
        status = None
        deadline = t0 + HANG
        while True:
            try:
                # short polls: a signal (a kernel process ending) can end a poll early
                msg = self.kc.get_iopub_msg(timeout=1.0)
            except Empty:
                if now() > deadline:
                    raise RuntimeError(f"{self.name}: no idle within {HANG}s for {code[:40]!r}") from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            t = msg["msg_type"]
            if t == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            elif t == "error":
                status = "error: " + msg["content"].get("evalue", "")
            elif t == "status" and msg["content"]["execution_state"] == "idle":
                break
        dt = (now() - t0) * 1e3
        reply = self._reply(msg_id, timeout=HANG)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{self.name}: cell failed {code[:40]!r}: {status or reply['content']}")
        return dt, "".join(out)

    def rss_mib(self) -> float:
        pid = self.km.provisioner.process.pid  # type: ignore[union-attr]
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
        total = 0
        for q in procs:
            try:
                total += q.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def unique_mib(self) -> float:
        """Memory of the process tree with pages shared between its
        processes counted once: the private pages (USS) of every process,
        plus the largest shared part of any one of them. Gantry's kernel and
        executor run the same binary, so summing RSS counts its pages
        twice; for a one-process kernel this equals RSS."""
        pid = self.km.provisioner.process.pid  # type: ignore[union-attr]
        p = psutil.Process(pid)
        uss, shared = 0, 0
        for q in [p, *p.children(recursive=True)]:
            try:
                full = q.memory_full_info()
            except psutil.Error:
                continue
            uss += full.uss
            shared = max(shared, full.rss - full.uss)
        return (uss + shared) / 2**20

    def stop(self):
        if self.kc is not None:
            self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def install_kernels(tmp: Path, kernels: list[str]) -> None:
    prefix = tmp / "prefix"
    if "gantry" in kernels:
        if not BIN.exists():
            subprocess.run(["go", "build", "-o", str(BIN), "./cmd/gantry"], cwd=ROOT, check=True)
        subprocess.run([str(BIN), "install", "--prefix", str(prefix)], check=True, stdout=subprocess.DEVNULL)
    if "python3" in kernels:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "python3"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    os.environ["JUPYTER_DATA_DIR"] = str(tmp / "data")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
    os.environ["IPYTHONDIR"] = str(tmp / "ipython")
    os.environ["GANTRY_HISTORY"] = str(tmp / "gantry-history.db")
    # ipykernel's debugger warning on stderr is noise here
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernels", default="gantry,python3")
    ap.add_argument("--reps-start", type=int, default=5)
    ap.add_argument("--reps-trivial", type=int, default=30)
    ap.add_argument("--reps-lines", type=int, default=5)
    ap.add_argument("--reps-loop", type=int, default=3)
    ap.add_argument("--decls", type=int, default=200, help="declaration cells before the last trivial cells")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    kernels = [k for k in args.kernels.split(",") if k]

    samples: dict[str, dict[str, list[float]]] = {k: {} for k in kernels}
    errors: dict[str, str] = {}

    def add(k, metric, v):
        samples[k].setdefault(metric, []).append(v)

    with tempfile.TemporaryDirectory(prefix="gantry-bench-") as tmp:
        install_kernels(Path(tmp), kernels)

        # 1. cold starts: a fresh kernel each time; alternate kernels.
        for rep in range(args.reps_start):
            for k in kernels:
                if k in errors:
                    continue
                r = Run(k)
                try:
                    info_ms, cell_ms = r.start()
                    add(k, "cold start -> kernel_info_reply", info_ms)
                    add(k, "start -> first trivial cell idle", cell_ms)
                except Exception as e:  # report, keep benchmarking the others
                    errors[k] = f"start: {e}"
                finally:
                    try:
                        r.stop()
                    except Exception:
                        pass
            print(f"start round {rep + 1}/{args.reps_start} done", file=sys.stderr)

        # 2. one long-lived kernel each for the cell benchmarks.
        runs = {}
        for k in kernels:
            if k in errors:
                continue
            r = Run(k)
            try:
                r.start()
                time.sleep(0.5)
                add(k, "RSS after start (MiB)", r.rss_mib())
                add(k, "memory after start, shared pages once (MiB)", r.unique_mib())
                r.cell(CODE[k]["warmup"])
                runs[k] = r
            except Exception as e:
                errors[k] = f"start: {e}"
                r.stop()

        def bench(metric, code_key, reps, check=None):
            for _ in range(reps):
                for k, r in list(runs.items()):
                    try:
                        ms, out = r.cell(CODE[k][code_key])
                        if check:
                            check(k, out)
                        add(k, metric, ms)
                    except Exception as e:
                        errors[k] = f"{metric}: {e}"
                        runs.pop(k).stop()

        def check_lines(k, out):
            lines = out.splitlines()
            if len(lines) != 10000 or lines[-1] != "line 9999":
                raise RuntimeError(f"got {len(lines)} lines")

        bench("trivial cell -> idle", "trivial", args.reps_trivial)
        print("trivial cells done", file=sys.stderr)
        bench("10,000 printed lines -> idle", "lines", args.reps_lines, check_lines)
        print("lines done", file=sys.stderr)
        bench("sum i*i for i < 2e7 -> idle", "loop", args.reps_loop)
        print("loop done", file=sys.stderr)
        for n in range(args.decls):
            for k, r in list(runs.items()):
                try:
                    r.cell(CODE[k]["decl"].format(n=n))
                except Exception as e:
                    errors[k] = f"declaration cell {n}: {e}"
                    runs.pop(k).stop()
        bench(f"trivial cell after {args.decls} declaration cells -> idle", "trivial", args.reps_trivial)
        print("declarations done", file=sys.stderr)
        time.sleep(1.0)  # memory at rest: both kernels idle for 1 s
        for k, r in runs.items():
            add(k, "RSS after the cells above, 1 s idle (MiB)", r.rss_mib())
            add(k, "memory after the cells, 1 s idle, shared pages once (MiB)", r.unique_mib())
            r.stop()

    # ---- report -------------------------------------------------------------
    metrics = []
    for k in kernels:
        for m in samples[k]:
            if m not in metrics:
                metrics.append(m)
    head = ["metric"]
    for k in kernels:
        head += [f"{LABEL.get(k, k)} median", f"{LABEL.get(k, k)} p95"]
    ratio = len(kernels) == 2 and kernels[0] == "gantry"
    if ratio:
        head.append(f"ratio {LABEL[kernels[0]]}/{LABEL.get(kernels[1], kernels[1])}")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in metrics:
        mem = "MiB" in m
        row = [m if mem else m + " (ms)"]
        meds = []
        for k in kernels:
            xs = samples[k].get(m)
            if xs:
                med = statistics.median(xs)
                meds.append(med)
                row += [f"{med:.1f}", "" if mem else f"{pct(xs, 95):.1f}"]
            else:
                meds.append(None)
                row += ["n/a", "n/a"]
        if ratio:
            row.append(f"{meds[0] / meds[1]:.2f}" if None not in meds and meds[1] else "n/a")
        lines.append("| " + " | ".join(row) + " |")
    n = {m: {k: len(samples[k].get(m, [])) for k in kernels} for m in metrics}
    cpu = platform.processor() or platform.machine()
    meta = (f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, {os.cpu_count()} CPUs ({cpu}), "
            f"Python {platform.python_version()}, reps: start {args.reps_start}, trivial {args.reps_trivial}, "
            f"lines {args.reps_lines}, loop {args.reps_loop}. Memory rows: one sample (p95 blank).")
    report = ["# Gantry vs ipykernel", "", meta, "", *lines]
    if errors:
        report += ["", "Errors:", *[f"- {LABEL.get(k, k)}: {e}" for k, e in errors.items()]]
    text = "\n".join(report) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(text)
    (args.out / "latest.json").write_text(json.dumps({"meta": meta, "samples": samples, "n": n, "errors": errors},
                                                     indent=1))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
