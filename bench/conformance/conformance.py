#!/usr/bin/env python3
"""Go's own conformance programs through the Gantry kernel, beside the raw yaegi CLI.

    .venv/bin/python bench/conformance/conformance.py [--subset] [--peers kernel,yaegi,go]
        [--goroot DIR] [--gantry BIN] [--timeout 30] [--only PATTERN ...] [--out bench/results]

Selection (the rule GOROOT/src/cmd/internal/testdir applies, narrowed as issue 16
counts): every *.go file directly in $GOROOT/test, test/ken, test/chan,
test/interface and test/typeparam whose recipe -- the first non-empty line
that is not a build constraint -- is exactly `// run`. That leaves out
`// run ARGS` and `// run -gcflags=...` (they need arguments or compiler
flags), `// runoutput` (a generator whose output is the test), `// rundir`,
`// runindir` and `// buildrun` (programs of several files or packages), and
everything that is not run at all (errorcheck, compile, skip). Programs
with a build constraint line are "constrained": the issue's 337 leave all
of them out; `--constrained` adds those whose constraint holds on this
GOOS/GOARCH (11 on linux/amd64: they exec the go command, time the map and
channel implementations, or test the GC, signals and nil-pointer faults).

Judgement, as testdir's "run" action judges `go run`: the program passes
when it ends with exit status 0 and its combined stdout+stderr equals the
.out file beside it, or is empty where there is none. A panic, a non-zero
os.Exit, a compile error or output that differs fails; a program still
running after --timeout seconds fails with reason "timeout".

* kernel: the real `gantry kernel` over jupyter_client, as Jupyter drives
  it. Per program: a `%reset` cell, then the whole file pasted as one cell.
  Main runs as `go run` runs it: if the kernel runs a cell's `func main` by
  itself (probed once at start with a one-line program) nothing more is
  sent, else a `main()` cell follows; the report says which ("main: auto" or
  "main: called"). The kernel's stdout and stderr are separate pipes, so the
  program's output passes when the expected text is an interleaving, line
  by line, of what arrived on stdout and on stderr in order. A cell that
  calls os.Exit(N) ends the executor; the kernel says so and the exit status
  is judged like any other. After a failure, timeout or crash the next
  program gets a fresh kernel, so a leftover goroutine cannot print into it.
* yaegi: the yaegi v0.16.1 CLI (`go install github.com/traefik/yaegi/cmd/yaegi@v0.16.1`,
  built once into build/conformance/), `yaegi run FILE`, stdout and stderr
  on one pipe as testdir runs programs.
* go: `go run FILE` (a check of the selection and of the judge: every
  program should pass).

Writes conformance.md and conformance.json (with --subset: conformance-subset.*)
under --out: per-directory counts for every peer, the failing programs with
the first line of their error, and the failure reasons grouped.

The quick subset (bench/conformance/subset.json, `--subset`) is a fixed
list of ~40 programs with the kernel's expected result; tests/test_conformance_subset.py
runs it in `make test` and fails when a program that passed stops passing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from queue import Empty

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DIRS = [".", "ken", "chan", "interface", "typeparam"]
SUBSET_FILE = HERE / "subset.json"
YAEGI_VERSION = "v0.16.1"
PROBE = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("gantry-conformance-probe") }\n'


# -- selection -----------------------------------------------------------------

@dataclass
class Program:
    dir: str  # "." for the top level
    name: str  # file name, e.g. "append.go"
    path: Path
    constrained: bool = False

    @property
    def id(self) -> str:
        return self.name if self.dir == "." else f"{self.dir}/{self.name}"

    def expected(self) -> str:
        out = self.path.with_suffix(".out")
        return out.read_text() if out.exists() else ""


def is_constraint(line: str) -> bool:
    return line.startswith("//go:build") or line.startswith("// +build")


def recipe(src: str) -> str:
    """The test recipe: the first non-empty line that is not a build constraint."""
    for line in src.split("\n"):
        if is_constraint(line):
            continue
        action = line.strip().removeprefix("//").strip()
        if action:
            return action
    return ""


def header_constraints(src: str) -> list[str]:
    out = []
    for line in src.split("\n"):
        if line.startswith("package "):
            break
        if line.startswith("//go:build"):
            out.append(line[len("//go:build"):].strip())
    return out


def tag_holds(tag: str, goos: str, goarch: str, release: int) -> bool:
    if tag in (goos, goarch, "gc", "cgo", "test_run"):
        return True
    if tag == "unix":
        return goos in ("linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly", "solaris", "aix",
                        "illumos", "android", "ios")
    m = re.fullmatch(r"go1\.(\d+)", tag)
    return bool(m) and int(m.group(1)) <= release


def constraint_holds(expr: str, goos: str, goarch: str, release: int) -> bool:
    """Evaluate a //go:build expression (||, &&, !, parentheses, tags)."""
    toks = re.findall(r"\|\||&&|!|\(|\)|[\w.]+", expr)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def or_():
        v = and_()
        while peek() == "||":
            take()
            v = and_() or v
        return v

    def and_():
        v = not_()
        while peek() == "&&":
            take()
            v = not_() and v
        return v

    def not_():
        if peek() == "!":
            take()
            return not not_()
        if peek() == "(":
            take()
            v = or_()
            take()  # ")"
            return v
        return tag_holds(take(), goos, goarch, release)

    return or_()


def go_release(goroot: Path) -> int:
    v = (goroot / "VERSION").read_text().split()[0] if (goroot / "VERSION").exists() else "go1.99"
    m = re.match(r"go1\.(\d+)", v)
    return int(m.group(1)) if m else 99


def select(goroot: Path, constrained: bool = False) -> list[Program]:
    testdir = goroot / "test"
    if not testdir.is_dir():
        raise SystemExit(f"{testdir} does not exist: pass --goroot a Go installation that has its test/ directory "
                         "(the official tarball has it; the golang.org/toolchain module does not)")
    goos = os.environ.get("GOOS") or ("linux" if sys.platform.startswith("linux") else sys.platform)
    goarch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    release = go_release(goroot)
    progs = []
    for d in DIRS:
        for p in sorted((testdir / d).glob("*.go")):
            src = p.read_text(errors="replace")
            if recipe(src) != "run":
                continue
            cons = header_constraints(src)
            if cons:
                if not constrained or not all(constraint_holds(c, goos, goarch, release) for c in cons):
                    continue
            progs.append(Program(dir=d, name=p.name, path=p, constrained=bool(cons)))
    return progs


# -- judging -------------------------------------------------------------------

def lines(s: str) -> list[str]:
    return s.splitlines(keepends=True)


def interleaves(want: str, a: str, b: str) -> bool:
    """Whether want is an interleaving of a's and b's lines, each kept in order."""
    if not b:
        return want == a
    if not a:
        return want == b
    if len(want) != len(a) + len(b):
        return False
    w, x, y = lines(want), lines(a), lines(b)
    if len(w) != len(x) + len(y):
        # A line split across the pipes: fall back to the two simple orders.
        return want in (a + b, b + a)
    if len(x) * len(y) > 4_000_000:
        return want in (a + b, b + a)
    # reach[j] after row i: w[:i+j] is an interleaving of x[:i] and y[:j]
    reach = [True] * (len(y) + 1)
    for j in range(1, len(y) + 1):
        reach[j] = reach[j - 1] and y[j - 1] == w[j - 1]
    for i in range(1, len(x) + 1):
        reach[0] = reach[0] and x[i - 1] == w[i - 1]
        for j in range(1, len(y) + 1):
            k = i + j - 1
            reach[j] = (reach[j] and x[i - 1] == w[k]) or (reach[j - 1] and y[j - 1] == w[k])
    return reach[len(y)]


@dataclass
class Result:
    ok: bool
    reason: str = ""  # first line of what went wrong; "" when ok
    seconds: float = 0.0
    output: str = ""  # for the JSON, trimmed

    def as_dict(self) -> dict:
        d = {"ok": self.ok, "seconds": round(self.seconds, 3)}
        if self.reason:
            d["reason"] = self.reason
        return d


def first_line(s: str, limit: int = 200) -> str:
    for line in s.splitlines():
        line = line.strip()
        if line:
            return line[:limit]
    return ""


def mismatch_reason(want: str, got: str) -> str:
    if not want:
        return "unexpected output: " + first_line(got)
    wl, gl = want.splitlines(), got.splitlines()
    for i, (w, g) in enumerate(zip(wl, gl)):
        if w != g:
            return f"output differs at line {i + 1}: got {g[:80]!r}, want {w[:80]!r}"
    if len(gl) < len(wl):
        return f"output ends early after {len(gl)} of {len(wl)} lines"
    return f"output has {len(gl) - len(wl)} extra lines: {first_line(chr(10).join(gl[len(wl):]))}"


# -- the kernel ------------------------------------------------------------------

class KernelPeer:
    """The gantry kernel over jupyter_client, from a kernelspec of its own."""

    name = "kernel"

    def __init__(self, gantry: Path, timeout: float):
        from jupyter_client import KernelManager  # noqa: F401 (fail early without the venv)

        self.gantry = gantry
        self.timeout = timeout
        self.tmp = tempfile.TemporaryDirectory(prefix="gantry-conformance-")
        prefix = Path(self.tmp.name) / "prefix"
        subprocess.run([str(gantry), "install", "--prefix", str(prefix)], check=True,
                       stdout=subprocess.DEVNULL, timeout=120)
        self.env = {**os.environ, "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
                    "JUPYTER_DATA_DIR": str(Path(self.tmp.name) / "data"),
                    "JUPYTER_RUNTIME_DIR": str(Path(self.tmp.name) / "runtime"),
                    "GANTRY_HISTORY": str(Path(self.tmp.name) / "history.db"),
                    "GANTRY_WORKSPACE": str(Path(self.tmp.name) / "workspace")}
        self.km = None
        self.kc = None
        self.restarts = 0
        self.main_mode = ""

    # lifecycle
    def start(self) -> None:
        from jupyter_client import KernelManager

        saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR")}
        os.environ.update({k: self.env[k] for k in saved})
        try:
            self.km = KernelManager(kernel_name="gantry")
            self.km.start_kernel(env=self.env)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        if not self.main_mode:
            self.main_mode = self._probe_main()

    def stop(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001 - it may be dead already
                pass
            self.km = None

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    def close(self) -> None:
        self.stop()
        self.tmp.cleanup()

    # cells
    def cell(self, code: str, timeout: float) -> dict:
        """Run one cell: {"status", "stdout", "stderr", "errors": [(ename, evalue)], "timeout"}."""
        msg_id = self.kc.execute(code, store_history=False)
        got = {"status": "", "stdout": "", "stderr": "", "errors": [], "timeout": False}
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                got["timeout"] = True
                return got
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except Empty:
                if not self.km.is_alive():
                    got["errors"].append(("KernelDied", "the kernel process ended"))
                    got["status"] = "error"
                    return got
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            t, c = msg["msg_type"], msg["content"]
            if t == "stream":
                got[c["name"]] = got.get(c["name"], "") + c["text"]
            elif t == "error":
                got["errors"].append((c.get("ename", ""), c.get("evalue", "")))
            elif t == "status" and c["execution_state"] == "idle":
                break
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                got["timeout"] = True
                return got
            try:
                reply = self.kc.get_shell_msg(timeout=min(left, 1.0))
            except Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                got["status"] = reply["content"]["status"]
                if got["status"] == "error" and not got["errors"]:
                    got["errors"].append((reply["content"].get("ename", ""), reply["content"].get("evalue", "")))
                return got

    def _probe_main(self) -> str:
        self.cell("%reset", 60)
        got = self.cell(PROBE, 60)
        self.cell("%reset", 60)
        return "auto" if "gantry-conformance-probe" in got["stdout"] else "called"

    def run(self, prog: Program) -> Result:
        t0 = time.monotonic()
        if self.km is None:
            self.start()
        reset = self.cell("%reset", 60)
        if reset["timeout"] or reset["status"] != "ok":
            self.restart()
            reset = self.cell("%reset", 60)
        deadline = t0 + self.timeout
        src = prog.path.read_text()
        cells = [src] if self.main_mode == "auto" else [src, "main()"]
        out, err = "", ""
        exit_code = 0
        failure = ""
        for code in cells:
            got = self.cell(code, max(1.0, deadline - time.monotonic()))
            out += got["stdout"]
            err += got["stderr"]
            if got["timeout"]:
                self._after_hang()
                return Result(False, "timeout", time.monotonic() - t0, out + err)
            if got["status"] != "ok":
                ename, evalue = got["errors"][0] if got["errors"] else ("", "error with no message")
                m = re.search(r"called os\.Exit\((-?\d+)\)", evalue)
                if m:
                    exit_code = int(m.group(1))
                    if exit_code != 0:
                        failure = f"exit status {exit_code}"
                else:
                    failure = f"{ename}: {first_line(evalue)}" if ename else first_line(evalue)
                    if "KernelDied" in ename:
                        self.restart()
                break
        dt = time.monotonic() - t0
        if failure:
            self.restart()
            return Result(False, failure, dt, out + err)
        want = prog.expected()
        if not interleaves(want, out, err):
            self.restart()
            reason = "stderr: " + first_line(err) if err and not want else mismatch_reason(want, out + err)
            return Result(False, reason, dt, out + err)
        return Result(True, "", dt, out + err)

    def _after_hang(self) -> None:
        try:
            self.km.interrupt_kernel()
        except Exception:  # noqa: BLE001
            pass
        self.restart()


# -- command-line peers ----------------------------------------------------------

class CommandPeer:
    """A program run as a command: stdout and stderr on one pipe, as testdir does."""

    def __init__(self, name: str, argv: list[str], timeout: float, env: dict | None = None):
        self.name = name
        self.argv = argv
        self.timeout = timeout
        self.env = env

    def run(self, prog: Program) -> Result:
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"conformance-{self.name}-") as tmp:
            f = Path(tmp) / prog.name
            shutil.copyfile(prog.path, f)
            p = subprocess.Popen([*self.argv, str(f)], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
            try:
                raw, _ = p.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
                return Result(False, "timeout", time.monotonic() - t0)
            finally:
                if p.poll() is None:  # the run itself is ending (SIGTERM, ^C)
                    os.killpg(p.pid, signal.SIGKILL)
        dt = time.monotonic() - t0
        got = raw.decode(errors="replace").replace("\r\n", "\n")
        if p.returncode != 0:
            return Result(False, command_reason(got) or f"exit status {p.returncode}", dt, got)
        want = prog.expected()
        if got != want:
            return Result(False, mismatch_reason(want, got), dt, got)
        return Result(True, "", dt, got)

    def close(self) -> None:
        pass


def command_reason(out: str) -> str:
    """The line of a failed command's output that says why: not the lines
    yaegi prints while a panic unwinds ("f.go:3:4: panic: main.main(...)"),
    and without the temporary file's path."""
    for line in out.splitlines():
        line = line.strip()
        if not line or re.search(r":\d+:\d+: panic: [\w.]+\(\.\.\.\)$", line) or line.startswith("goroutine "):
            continue
        return re.sub(r"/tmp/conformance-[^/]+/", "", line)[:200]
    return ""


def build_yaegi(go: str, dest: Path) -> Path:
    """The yaegi CLI at YAEGI_VERSION, built once from the module cache (go install
    path@version ignores this module's go.mod, so it is the released yaegi)."""
    exe = dest / "yaegi"
    stamp = dest / "yaegi.version"
    if exe.exists() and stamp.exists() and stamp.read_text() == YAEGI_VERSION:
        return exe
    dest.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(dest), "GOFLAGS": "-mod=mod"}
    subprocess.run([go, "install", f"github.com/traefik/yaegi/cmd/yaegi@{YAEGI_VERSION}"], check=True, env=env,
                   cwd=dest)
    stamp.write_text(YAEGI_VERSION)
    return exe


# -- reasons and the report ------------------------------------------------------

# Failure reasons, most specific first: the map of what the interpreter
# lacks. A reason is the first line of the error; the group is the first
# pattern that matches it.
REASON_GROUPS = [
    ("timeout (hang or too slow)", r"^timeout$"),
    ("unsafe builtin the interpreter lacks", r'package unsafe "unsafe" has no symbol|import "unsafe"'),
    ("syscall symbols not loaded", r'package syscall "syscall"'),
    ("package missing from the interpreter's tables", r"unable to find source related to"),
    ("min/max/clear builtin, or constant definition loop", r"undefined: (min|max|clear)\b|constant definition loop"),
    ("generics: instantiation or inference", r"undefined type for|not a generic type|type not found: \S*\[|incomplete type \S*\["
                                             r"|does not implement|impossible type assertion|type definition not implemented"),
    ("yaegi compiler panic (CFG, nil type)", r"CFG post-order panic|cannot compile this code|nil type|nil reflect type"),
    ("too many arguments (method values, method expressions)", r"too many arguments"),
    ("other compile error of yaegi's type checker", r"^CompileError|^SyntaxError|^run: "),
    ("stack overflow in the interpreter", r"stack overflow"),
    ("panic inside yaegi (reflect) at run time", r"reflect|interface conversion|invalid memory address|index out of range"),
    ("a goroutine's panic ended the executor", r"goroutine started by the cell panicked"),
    ("wrong result: the program's own check failed", r"^panic:"),
    ("non-zero exit (os.Exit, log.Fatal)", r"exit status|executor exited|executor ended"),
    ("output differs", r"output differs|output ends early|extra lines|unexpected output|stderr:"),
]


def group(reason: str) -> str:
    for name, pat in REASON_GROUPS:
        if re.search(pat, reason):
            return name
    return "other"


def normalize(reason: str) -> str:
    """A failure reason without positions, numbers and quoted text, to count alike ones."""
    r = re.sub(r"(cell(\[\d+\])?|\S+\.go|\d+):\d+:\d+:?\s*", "", reason)
    r = re.sub(r"'[^']*'|\"[^\"]*\"", "…", r)
    r = re.sub(r"\b\d+\b", "N", r)
    r = r.split("; it may use a Go feature")[0]
    return r[:110]


def dir_label(d: str) -> str:
    return "top level" if d == "." else d


def report(progs: list[Program], results: dict[str, dict[str, Result]], peers: list[str], meta: dict) -> tuple[str, dict]:
    by_dir = {d: [p for p in progs if p.dir == d] for d in DIRS}
    md = [f"# Go conformance programs: {meta['title']}", ""]
    md.append(f"{meta['when']}; {meta['go']}; {meta['machine']}. Kernel main: {meta.get('main_mode', '-')}. "
              f"Per-program timeout {meta['timeout']} s. Selection: {meta['selection']}.")
    md.append("")
    head = "| directory | programs | " + " | ".join(peers) + " |"
    md += [head, "|---|---:|" + "---:|" * len(peers)]

    def counts(ps: list[Program]) -> list[str]:
        cells = []
        for peer in peers:
            n = sum(1 for p in ps if results[peer].get(p.id) and results[peer][p.id].ok)
            cells.append(f"{n} ({100 * n / len(ps):.0f}%)" if ps else "-")
        return cells

    for d in DIRS:
        if by_dir[d]:
            md.append(f"| {dir_label(d)} | {len(by_dir[d])} | " + " | ".join(counts(by_dir[d])) + " |")
    plain = [p for p in progs if not p.constrained]
    md.append(f"| **all without constraints** | **{len(plain)}** | " +
              " | ".join(f"**{c}**" for c in counts(plain)) + " |")
    if len(plain) != len(progs):
        md.append(f"| with the constrained ones | {len(progs)} | " + " | ".join(counts(progs)) + " |")
    md.append("")
    data = {"meta": meta, "peers": {}, "programs": [p.id for p in progs],
            "constrained": [p.id for p in progs if p.constrained]}
    for peer in peers:
        res = results[peer]
        failing = [(p, res[p.id]) for p in progs if p.id in res and not res[p.id].ok]
        groups = Counter(group(r.reason) for _, r in failing)
        secs = sorted(r.seconds for r in res.values())
        med = secs[len(secs) // 2] if secs else 0
        md += [f"## {peer}: failure reasons ({len(failing)} failing, median {med * 1e3:.0f} ms a program)", "",
               "| reason | programs |", "|---|---:|"]
        md += [f"| {g} | {n} |" for g, n in groups.most_common()]
        md.append("")
        messages = Counter(normalize(r.reason) for _, r in failing)
        md += [f"Most frequent messages ({peer}; positions, numbers and names stripped):", "",
               "| message | programs |", "|---|---:|"]
        md += [f"| {m.replace('|', '/')} | {n} |" for m, n in messages.most_common(15) if n > 1]
        md.append("")
        md += [f"<details><summary>{peer}: failing programs</summary>", "", "| program | reason |", "|---|---|"]
        md += [f"| {p.id} | {r.reason.replace('|', '/')} |" for p, r in failing]
        md += ["", "</details>", ""]
        data["peers"][peer] = {
            "passed": sum(1 for r in res.values() if r.ok),
            "total": len(res),
            "by_dir": {dir_label(d): {"passed": sum(1 for p in by_dir[d] if res.get(p.id) and res[p.id].ok),
                                      "total": len(by_dir[d])} for d in DIRS},
            "reasons": dict(groups.most_common()),
            "results": {pid: r.as_dict() for pid, r in res.items()},
        }
    return "\n".join(md) + "\n", data


# -- main --------------------------------------------------------------------------

def load_subset() -> dict[str, str]:
    return json.loads(SUBSET_FILE.read_text())["programs"]


def run(args: argparse.Namespace) -> tuple[str, dict]:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    goroot = Path(args.goroot or subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True,
                                                check=True).stdout.strip())
    progs = select(goroot, constrained=args.constrained)
    if args.subset:
        subset = load_subset()
        progs = [p for p in progs if p.id in subset]
        missing = set(subset) - {p.id for p in progs}
        if missing:
            raise SystemExit(f"subset programs not found under {goroot}/test: {sorted(missing)}")
    if args.only:
        progs = [p for p in progs if any(re.search(o, p.id) for o in args.only)]
    peers = []
    for name in args.peers.split(","):
        if name == "kernel":
            peers.append(KernelPeer(Path(args.gantry), args.timeout))
        elif name == "yaegi":
            exe = build_yaegi(go, ROOT / "build" / "conformance")
            peers.append(CommandPeer("yaegi", [str(exe), "run"], args.timeout))
        elif name == "go":
            peers.append(CommandPeer("go", [go, "run"], args.timeout,
                                     env={**os.environ, "GOENV": "off", "GOFLAGS": "", "GO111MODULE": "off"}))
        else:
            raise SystemExit(f"unknown peer {name!r}: want kernel, yaegi or go")
    results: dict[str, dict[str, Result]] = {p.name: {} for p in peers}
    t0 = time.monotonic()
    try:
        for i, prog in enumerate(progs):
            line = [f"[{i + 1}/{len(progs)}] {prog.id}"]
            for peer in peers:  # alternate peers program by program: noise hits both alike
                r = peer.run(prog)
                results[peer.name][prog.id] = r
                line.append(f"{peer.name}={'ok' if r.ok else 'FAIL'}")
                if not r.ok and args.verbose:
                    line.append(f"({r.reason})")
            if not args.quiet:
                print(" ".join(line), flush=True)
    finally:
        for peer in peers:
            peer.close()
    kernel = next((p for p in peers if isinstance(p, KernelPeer)), None)
    gover = subprocess.run([go, "version"], capture_output=True, text=True).stdout.strip()
    if kernel is not None:
        gover += "; kernel: " + subprocess.run([args.gantry, "version"], capture_output=True,
                                               text=True).stdout.strip()
    meta = {
        "title": "the quick subset" if args.subset else "the full run",
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "go": gover,
        "goroot": str(goroot),
        "machine": f"{os.cpu_count()} CPUs",
        "timeout": args.timeout,
        "selection": ("`// run` recipe, no arguments, " +
                      ("constraints that hold here included" if args.constrained else "no build constraint")),
        "main_mode": kernel.main_mode if kernel else "",
        "kernel_restarts": kernel.restarts if kernel else 0,
        "wall_seconds": round(time.monotonic() - t0, 1),
    }
    return report(progs, results, [p.name for p in peers], meta)


def main(argv: list[str] | None = None) -> int:
    # SIGTERM ends the run through the finally blocks, which stop the kernel.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subset", action="store_true", help="only the quick subset (subset.json)")
    ap.add_argument("--constrained", action="store_true",
                    help="add programs with a build constraint that holds on this machine")
    ap.add_argument("--peers", default="kernel,yaegi", help="comma-separated: kernel, yaegi, go")
    ap.add_argument("--goroot", help="Go installation whose test/ holds the programs (default: go env GOROOT)")
    ap.add_argument("--gantry", default=str(ROOT / "bin" / "gantry"), help="the gantry binary under test")
    ap.add_argument("--timeout", type=float, default=30, help="seconds a program may run (hang guard)")
    ap.add_argument("--only", action="append", help="regexp on program ids (dir/name.go); repeatable")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"), help="directory for the report")
    ap.add_argument("--verbose", "-v", action="store_true", help="print reasons as programs fail")
    ap.add_argument("--quiet", "-q", action="store_true")
    args = ap.parse_args(argv)
    md, data = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "conformance-subset" if args.subset else "conformance"
    (out / f"{stem}.md").write_text(md)
    (out / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    print(md)
    print(f"wrote {out / (stem + '.md')} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
