#!/usr/bin/env python3
"""Fault injection: runs submitted to the local target and to an SSH target
(a real sshd, scripts/sshd.sh), with one of kernel, agent, submitter or
sshd killed at a random moment of each, and every run checked afterwards.

    .venv/bin/python bench/faults.py [--runs 100] [--seed N] [--out bench/results/faults.md]

Each iteration picks a target and a fault:

* submitter: `gantry run submit --submit-key K` killed (SIGKILL) 0-400 ms in,
  then retried with the same key, as a user would;
* kernel: a Gantry kernel (jupyter_client) running `%submit --submit-key K`
  killed 0-2 s into the cell; a new kernel then submits with the same key;
* agent: the run's agent killed 0-1.5 s after the script started;
* sshd (SSH target only): every SSH connection cut (scripts/sshd.sh drop),
  or sshd stopped and started again, 0-1.5 s into the run.

The script prints 50 numbered lines, 40 ms apart, recording after each the
number of the last one in count.txt, and marks each start in starts.txt.
Then `gantry run wait` (a fresh process) follows each run to its end, and
the loop counts:

* lost: a run whose ID reached the caller but is not in the workspace;
* stranded: a run not in a final state when the wait ended;
* lines lost: lines the script recorded as written but missing from the run's
  output log;
* duplicates: a line shown twice, or a submit that executed its script in
  more than one run.

It writes a markdown table (and JSON) to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "bin" / "gantry"
SSHD = ROOT / "scripts" / "sshd.sh"
HANG = 180  # seconds: hang guard of a wait

SCRIPT = """import os, time
d = os.environ["GANTRY_RUN_DIR"]
with open(os.path.join(d, "starts.txt"), "a") as f:
    f.write("start\\n")
for i in range(50):
    print("line", i, flush=True)
    with open(os.path.join(d, "count.txt.tmp"), "w") as f:
        f.write(str(i))
    os.replace(os.path.join(d, "count.txt.tmp"), os.path.join(d, "count.txt"))
    time.sleep(0.04)
print("done", flush=True)
"""


@dataclass
class Outcome:
    fault: str
    target: str
    runs: list[str] = field(default_factory=list)  # every run of the iteration's experiment
    states: list[str] = field(default_factory=list)
    lost: int = 0
    stranded: int = 0
    lines_lost: int = 0
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # from the fault to the last run's end


class Lab:
    """A workspace with a local target and an SSH target, and the tools to
    break things."""

    def __init__(self, tmp: Path, rng: random.Random):
        self.tmp, self.rng = tmp, rng
        self.ws = tmp / "ws"
        self.src = tmp / "src"
        self.src.mkdir()
        (self.src / "train.py").write_text(SCRIPT)
        self.env = dict(os.environ, GANTRY_WORKSPACE=str(self.ws), GANTRY_AGENT_BINARY=str(BIN))
        self.sshd_dir = tmp / "sshd"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.remote_root = tmp / "remote"
        self.gantry("compute", "create", "local", "loc")
        self.sshd("start", str(self.port))
        self.gantry("compute", "attach", "ssh", "box", "--address", "127.0.0.1", "--port", str(self.port),
                    "--user", subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip(),
                    "--key", str(self.sshd_dir / "id_ed25519"), "--known-hosts", str(self.sshd_dir / "known_hosts"),
                    "--remote-root", str(self.remote_root))

    def close(self) -> None:
        subprocess.run([str(SSHD), "stop", str(self.sshd_dir)], capture_output=True)

    def gantry(self, *args: str, timeout: float = HANG) -> subprocess.CompletedProcess:
        p = subprocess.run([str(BIN), *args, "--workspace", str(self.ws)], env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0 and args[:2] != ("run", "wait"):
            raise RuntimeError(f"gantry {' '.join(args)}: {p.stderr.strip()}")
        return p

    def sshd(self, *args: str) -> None:
        subprocess.run([str(SSHD), args[0], str(self.sshd_dir), *args[1:]], check=True, capture_output=True)

    def run_dir(self, target: str, run_id: str) -> Path:
        """Where the run's script writes (its agent's run directory)."""
        if target == "box":
            return self.remote_root / "runs" / run_id
        return self.ws / "runs" / run_id

    def submit_cmd(self, target: str, exp: str, key: str) -> list[str]:
        return [str(BIN), "run", "submit", "--target", target, "--experiment", exp, "--submit-key", key,
                "--workspace", str(self.ws), str(self.src / "train.py")]

    def submit(self, target: str, exp: str, key: str) -> str:
        p = subprocess.run(self.submit_cmd(target, exp, key), env=self.env, capture_output=True, text=True,
                           timeout=HANG)
        if p.returncode != 0:
            raise RuntimeError(f"submit: {p.stderr.strip()}")
        return p.stdout.strip().splitlines()[-1]

    def runs_of(self, exp: str) -> list[str]:
        """The full IDs of the experiment's runs (run list shows a prefix)."""
        out = self.gantry("run", "list", "--experiment", exp).stdout.splitlines()[1:]
        ids = []
        for short in (line.split()[0] for line in out if line.strip()):
            full = [p.name for p in (self.ws / "runs").glob(short + "*")]
            ids.append(full[0] if len(full) == 1 else short)
        return ids

    def wait_started(self, target: str, run_id: str, timeout: float = 60) -> Path:
        d = self.run_dir(target, run_id)
        deadline = time.time() + timeout
        while not (d / "count.txt").exists():
            if time.time() > deadline:
                raise RuntimeError(f"run {run_id} never started its script")
            time.sleep(0.01)
        return d


def kernel_submit(lab: Lab, target: str, exp: str, key: str, kill_after: float | None) -> str | None:
    """%submit in a real Gantry kernel; kill the kernel after kill_after
    seconds, in the submit or in the wait that follows it (None: submit with
    --no-wait and let the cell finish). Returns the run ID the cell printed,
    if it printed one."""
    from jupyter_client import KernelManager
    km = KernelManager(kernel_name="gantry")
    km.start_kernel(env=dict(lab.env), cwd=str(lab.tmp))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        no_wait = "--no-wait " if kill_after is None else ""
        msg_id = kc.execute(f"%submit --target {target} --experiment {exp} --submit-key {key} {no_wait}"
                            f"{lab.src / 'train.py'}")
        printed = None
        deadline = time.time() + (kill_after if kill_after is not None else HANG)
        while time.time() < deadline:
            try:
                m = kc.get_iopub_msg(timeout=max(0.001, min(0.05, deadline - time.time())))
            except Exception:
                continue
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "stream" and "Submitted run " in m["content"]["text"]:
                printed = m["content"]["text"].split("Submitted run ", 1)[1].split()[0]
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" and kill_after is None:
                break
        if kill_after is not None:
            os.kill(km.provisioner.pid, signal.SIGKILL)
        return printed
    finally:
        kc.stop_channels()
        try:
            km.shutdown_kernel(now=True)
        except Exception:
            pass


def check_lines(output: str, count_file: Path) -> tuple[int, int, int]:
    """Lines the script recorded as written, lines of those missing from
    output, lines shown twice."""
    try:
        written = int(count_file.read_text()) + 1
    except (OSError, ValueError):
        written = 0
    seen = Counter(line for line in output.splitlines() if line.startswith("line "))
    missing = sum(1 for i in range(written) if seen[f"line {i}"] == 0)
    doubled = sum(n - 1 for n in seen.values() if n > 1)
    return written, missing, doubled


def iteration(lab: Lab, i: int, target: str, fault: str) -> Outcome:
    rng = lab.rng
    exp, key = f"it-{i}", f"key-{i}"
    o = Outcome(fault=fault, target=target)
    ids_given: set[str] = set()
    fault_at = time.time()
    if fault == "submitter":
        p = subprocess.Popen(lab.submit_cmd(target, exp, key), env=lab.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, 0.4))
        fault_at = time.time()
        p.kill()
        out, _ = p.communicate()
        if out.strip():
            ids_given.add(out.strip().splitlines()[-1])
        ids_given.add(lab.submit(target, exp, key))  # the user retries
    elif fault == "kernel":
        kill_after = rng.uniform(0, 2.0)
        printed = kernel_submit(lab, target, exp, key, kill_after)
        fault_at = time.time()
        if printed:
            ids_given.add(printed)
        again = kernel_submit(lab, target, exp, key, None)  # a new kernel, the cell run again
        if again:
            ids_given.add(again)
        else:
            o.notes.append("the retried %submit printed no run")
    elif fault == "agent":
        rid = lab.submit(target, exp, key)
        ids_given.add(rid)
        d = lab.wait_started(target, rid)
        time.sleep(rng.uniform(0, 1.5))
        fault_at = time.time()
        try:
            os.kill(int((d / "agent.pid").read_text()), signal.SIGKILL)
        except (OSError, ValueError) as e:
            o.notes.append(f"agent not killed: {e}")
    elif fault == "sshd":
        rid = lab.submit(target, exp, key)
        ids_given.add(rid)
        lab.wait_started(target, rid)
        time.sleep(rng.uniform(0, 1.5))
        fault_at = time.time()
        if rng.random() < 0.5:
            lab.sshd("drop")
        else:
            lab.sshd("stop")
            time.sleep(rng.uniform(0, 2))
            lab.sshd("start", str(lab.port))
    # Every run of the iteration is followed to its end by a fresh process.
    o.runs = lab.runs_of(exp)
    for rid in ids_given:
        if rid not in o.runs:
            o.lost += 1
            o.notes.append(f"run {rid} was given to the caller but is not in the workspace")
    executed = 0
    for rid in o.runs:
        try:
            w = lab.gantry("run", "wait", rid)
            st = w.stdout.strip().splitlines()[-1] if w.stdout.strip() else "?"
        except subprocess.TimeoutExpired:
            st, w = "still waiting", subprocess.CompletedProcess([], 1, "", f"no end after {HANG} s")
        o.states.append(st)
        if st not in ("Completed", "Failed", "Canceled"):
            o.stranded += 1
            o.notes.append(f"run {rid}: {st} {w.stderr.strip()[:200]}")
        d = lab.run_dir(target, rid)
        starts = (d / "starts.txt").read_text().count("start") if (d / "starts.txt").exists() else 0
        executed += 1 if starts else 0
        log = lab.ws / "runs" / rid / "logs" / "output.log"
        output = log.read_text() if log.exists() else ""
        _, missing, doubled = check_lines(output, d / "count.txt")
        o.lines_lost += missing
        o.duplicates += doubled
        if missing or doubled:
            o.notes.append(f"run {rid}: {missing} lines missing, {doubled} shown twice")
    if executed > 1:
        o.duplicates += executed - 1
        o.notes.append(f"{executed} runs executed the script for one submit")
    o.seconds = time.time() - fault_at
    return o


def loop(runs: int, seed: int, log=print) -> list[Outcome]:
    rng = random.Random(seed)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="gantry-faults-") as tmp:
        lab = Lab(Path(tmp), rng)
        try:
            for i in range(runs):
                target = rng.choice(["loc", "box"])
                faults = ["kernel", "agent", "submitter"] + (["sshd"] if target == "box" else [])
                fault = rng.choice(faults)
                o = iteration(lab, i, target, fault)
                outcomes.append(o)
                log(f"{i + 1:3d}/{runs} {target:3s} {fault:9s} runs={len(o.runs)} states={','.join(o.states)} "
                    f"lost={o.lost} stranded={o.stranded} lines_lost={o.lines_lost} dup={o.duplicates} "
                    f"{o.seconds:.1f}s {'; '.join(o.notes)}")
        finally:
            lab.close()
    return outcomes


def report(outcomes: list[Outcome], seed: int) -> str:
    by = defaultdict(list)
    for o in outcomes:
        by[(o.fault, o.target)].append(o)
    lines = ["| fault | target | iterations | runs | final states | lost | stranded | lines lost | duplicates | "
             "fault -> all ended, median / max |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (fault, target), os_ in sorted(by.items()):
        states = Counter(s for o in os_ for s in o.states)
        secs = [o.seconds for o in os_]
        lines.append(f"| {fault} | {target} | {len(os_)} | {sum(len(o.runs) for o in os_)} | "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(states.items()))} | {sum(o.lost for o in os_)} | "
                     f"{sum(o.stranded for o in os_)} | {sum(o.lines_lost for o in os_)} | "
                     f"{sum(o.duplicates for o in os_)} | {statistics.median(secs):.1f} s / {max(secs):.1f} s |")
    total = {k: sum(getattr(o, k) for o in outcomes) for k in ("lost", "stranded", "lines_lost", "duplicates")}
    lines.append(f"| **all** | | {len(outcomes)} | {sum(len(o.runs) for o in outcomes)} | | {total['lost']} | "
                 f"{total['stranded']} | {total['lines_lost']} | {total['duplicates']} | |")
    return (f"# Fault injection ({len(outcomes)} iterations, seed {seed})\n\n" + "\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "faults.md"))
    a = ap.parse_args()
    outcomes = loop(a.runs, a.seed)
    text = report(outcomes, a.seed)
    print(text)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))
    bad = sum(o.lost + o.stranded + o.lines_lost + o.duplicates for o in outcomes)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
