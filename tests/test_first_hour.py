"""Issue 10, a new user's first hour, through the real kernel: exit and quit
in jupyter console, help that covers what the README shows (checked
mechanically against its magic forms), %help metrics and ?gantry_run,
get-or-create compute targets, and a failed environment build that says
where pip looked."""
from __future__ import annotations

import os
import re
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import KERNEL_NAME, ROOT, start_kernel, stdout_of, summarize

pytestmark = pytest.mark.skipif(KERNEL_NAME != "gantry", reason="Gantry's magics and SDK")

README = ROOT / "README.md"


def page_text(reply: dict) -> str:
    pages = [p for p in reply["content"].get("payload", []) if p.get("source") == "page"]
    assert pages, f"no page payload in execute_reply: {reply['content']}"
    return "\n".join(p["data"]["text/plain"] for p in pages)


def flat(s: str) -> str:
    """s with runs of white space as one space (help pages wrap long lines)."""
    return " ".join(s.split())


# --- exit / quit ----------------------------------------------------------------------

def test_exit_asks_the_client_to_end_the_session(k):
    for code in ("exit", "quit()"):
        reply, outputs = k.run(code)
        assert reply["content"]["status"] == "ok", summarize(outputs)
        assert {"source": "ask_exit", "keepkernel": False} in reply["content"]["payload"], reply["content"]
    # The kernel is still there for a client that does not act on it (a notebook).
    assert k.value("1 + 1") == "2"
    # A cell's own exit runs as Go.
    k.ok('func quit() string { return "my quit" }')
    reply, outputs = k.run("quit()")
    assert not reply["content"]["payload"] and "my quit" in str(summarize(outputs)), reply["content"]


@pytest.mark.parametrize("word", ["exit", "quit"])
def test_exit_in_jupyter_console(jupyter_env, word):
    """Typing exit or quit in jupyter console ends it and shuts its kernel
    down, as with ipykernel (before: "undefined: exit", and the console
    stayed)."""
    pexpect = pytest.importorskip("pexpect")
    jupyter = Path(sys.executable).with_name("jupyter")
    child = pexpect.spawn(str(jupyter), ["console", "--kernel", KERNEL_NAME, "--simple-prompt"],
                          encoding="utf-8", timeout=60, env=dict(os.environ, TERM="dumb"), dimensions=(40, 200))
    log = []

    class Log:
        def write(self, s):
            log.append(s)

        def flush(self):
            pass

    child.logfile_read = Log()
    try:
        child.expect(r"In \[\d+\]: ")
        child.sendline(word)
        child.expect("Shutting down kernel")
        child.expect(pexpect.EOF)
    except (pexpect.TIMEOUT, pexpect.EOF) as e:
        raise AssertionError(f"jupyter console: {type(e).__name__}; transcript:\n{''.join(log)}") from None
    finally:
        child.close(force=True)
    assert "undefined" not in "".join(log), "".join(log)


# --- help -----------------------------------------------------------------------------

SUBCOMMAND_MAGICS = {"compute", "run", "model"}  # magics whose first word is a subcommand
KINDS = {"local", "cluster", "ssh", "slurm"}


def readme_magic_forms() -> list[tuple[str, str]]:
    """(form, paragraph) for every magic form the README shows: the code
    spans of its magic table, and every code span in it that starts with %,
    ! or ?."""
    text = README.read_text()
    forms = []
    for para in re.split(r"\n\s*\n", text):
        for span in re.findall(r"`([^`]+)`", para):
            span = " ".join(span.replace("\\|", "|").split())
            if span[0] in "%!?" or (para.lstrip().startswith("|") and span in ("exit", "quit")):
                forms.append((span, para))
    return forms


def split_alternatives(rest: str) -> list[str]:
    """Split "list|show|create local" at the | that are not inside brackets."""
    alts, depth, cur = [], 0, ""
    for ch in rest:
        depth += ch in "[(" 
        depth -= ch in "])"
        if ch == "|" and depth == 0:
            alts.append(cur)
            cur = ""
        else:
            cur += ch
    return alts + [cur]


def test_help_covers_every_magic_form_in_the_readme(k):
    forms = readme_magic_forms()
    assert len(forms) > 20, forms  # the parse found the table and the prose
    overview = page_text(k.ok("%help")[0])
    pages: dict[str, str] = {}
    problems = []
    for form, para in forms:
        head, _, rest = form.partition(" ")
        if head[0] in "!?":
            want = "!COMMAND" if head[0] == "!" else "?name"
            if want not in overview:
                problems.append(f"{form!r}: %help's overview lacks {want}")
            continue
        name = head.lstrip("%")
        if name not in pages:
            reply, outputs = k.run(f"%help %{name}")
            if reply["content"]["status"] != "ok":
                problems.append(f"{form!r}: %help %{name} fails: {summarize(outputs)}")
                continue
            pages[name] = flat(page_text(reply))
        page = pages[name]
        for flag in re.findall(r"--[a-z][a-z-]*", form):
            if flag not in page:
                problems.append(f"{form!r}: %help {name} lacks {flag}")
        if name not in SUBCOMMAND_MAGICS:
            continue
        for alt in split_alternatives(rest):
            words = alt.split()
            if not words or not re.fullmatch(r"[a-z]+", words[0]):
                continue
            sub = words[0]
            kind = words[1] if sub in ("create", "attach") and len(words) > 1 and words[1] in KINDS else None
            if "--kind" in words and words.index("--kind") + 1 < len(words):
                kind = words[words.index("--kind") + 1]
            usage = page.split(" Manages ")[0] if name == "compute" else page
            if f"%{name} {sub}" not in usage:
                problems.append(f"{form!r}: %help {name} lacks the form %{name} {sub}")
            elif kind and not re.search(rf"%{name} {sub} (NAME --kind {kind}|{kind} NAME)", usage):
                problems.append(f"{form!r}: %help {name} lacks %{name} {sub} with kind {kind}")
    # Options the README's prose gives for a %compute form, as spans of their own.
    for para in README.read_text().split("\n\n"):
        # Prose only: the magic table's rows are checked form by form above.
        if "`%compute" in para and not para.lstrip().startswith("|"):
            for flag in re.findall(r"`(--[a-z][a-z-]*)", para):
                if flag not in pages["compute"]:
                    problems.append(f"README option {flag} (beside %compute): not in %help compute")
    assert not problems, "\n".join(problems)


def test_help_compute_lists_each_form_on_a_line(k):
    page = page_text(k.ok("%help compute")[0])
    lines = page.splitlines()
    for start in ("%compute attach NAME --kind ssh --address HOST", "%compute attach NAME --kind slurm --address HOST",
                  "%compute create cluster NAME --vm-size SIZE", "%compute status NAME", "%compute connect NAME",
                  "%compute update NAME --max-concurrent-runs N", "%compute create local NAME"):
        assert any(l.startswith(start) for l in lines), f"no line starts with {start!r}:\n{page}"


def test_help_metrics_is_the_magic(k):
    page = page_text(k.ok("%help metrics")[0])
    assert page.startswith("%metrics ID [ID ...]"), page
    assert "?runtime/metrics" in flat(page) and "stable interface" not in page, page
    assert page_text(k.ok("?metrics")[0]).startswith("%metrics"), "?metrics"
    # Imported, the Go package is what the name means in the cells.
    k.ok('import "runtime/metrics"')
    assert page_text(k.ok("%help metrics")[0]).startswith('package metrics // import "runtime/metrics"')


def test_help_gantry_run_documents_the_python_helper(k):
    page = page_text(k.ok("?gantry_run")[0])
    for want in ("Python module gantry_run", "gantry_run.log(name, value, step=None)", "gantry_run.log_list(name, values)",
                 "gantry_run.outputs_dir()", "GANTRY_TRACK_FILE"):
        assert want in page, page
    page = page_text(k.ok("?gantry_run.log_image")[0])
    assert page.startswith("gantry_run.log_image(name, path=None, data=None)") and "PNG" in page, page


def test_help_sdk_shows_goals_and_get_or_create(k):
    page = flat(page_text(k.ok("?sdk")[0]))
    for want in ("var ErrNotFound, ErrExists", "const ByName, Minimize, Maximize", "func Best(", "func GoalFor("):
        assert want in page, page
    page = flat(page_text(k.ok("?sdk.Workspace.CreateLocalCompute")[0]))
    assert "get-or-create" in page and "ErrExists" in page, page


# --- the SDK ----------------------------------------------------------------------------

GET_OR_CREATE = r'''
import (
	"context"
	"errors"
	"fmt"

	"gantry/sdk"
)
ctx := context.Background()
ws, err := sdk.OpenWorkspace(ctx, WSDIR)
if err != nil {
	panic(err)
}
_, err = ws.ComputeTarget(ctx, "local")
fmt.Println("missing:", errors.Is(err, sdk.ErrNotFound))
for i := 0; i < 2; i++ {
	fmt.Println("create:", ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{MaxConcurrentRuns: 2}))
}
err = ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{})
fmt.Println("other settings:", errors.Is(err, sdk.ErrExists), err)
'''


def test_get_or_create_from_a_cell(k, tmp_path):
    _, outputs = k.ok(GET_OR_CREATE.replace("WSDIR", f'"{tmp_path / "ws"}"'))
    out = stdout_of(outputs)
    assert "missing: true" in out and out.count("create: <nil>") == 2, out
    assert "other settings: true" in out and "max_concurrent_runs: 2 there, unset here" in out, out


def write_wheel(dirpath: Path, name: str, version: str) -> Path:
    """A pure-Python wheel of one empty module."""
    dist = f"{name}-{version}.dist-info"
    path = dirpath / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}/__init__.py", "")
        z.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{dist}/RECORD", "")
    return path


PIN = r'''
import (
	"context"
	"fmt"
	"os"

	"gantry/sdk"
	"gantry/sdk/environment"
)
ctx := context.Background()
ws, err := sdk.OpenWorkspace(ctx, WSDIR)
if err != nil {
	panic(err)
}
if err := ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{}); err != nil {
	panic(err)
}
os.Chdir(os.TempDir()) // the spec's relative wheelhouse must not depend on where the kernel is
deps, err := environment.ReadCondaFile(SPEC)
if err != nil {
	panic(err)
}
fmt.Println("find-links:", deps.PipOptions.FindLinks)
env := environment.New("pinned")
env.Python.CondaDependencies = deps
run, err := ws.Experiment("pin").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: SRC, Script: "hi.py",
	RunConfig: sdk.RunConfiguration{Target: "local", Environment: env}})
if err != nil {
	panic(err)
}
_, _, err = run.WaitForCompletion(ctx, sdk.WaitOptions{RaiseOnError: true})
fmt.Println("wait:", err)
'''


def test_pip_no_match_comes_back_with_a_hint(k, tmp_path):
    project = tmp_path / "project"
    (project / "wheels").mkdir(parents=True)
    write_wheel(project / "wheels", "tinypin", "0.1.0")
    spec = project / "conda_dependencies.yml"
    spec.write_text("name: pinned\ndependencies:\n  - pip:\n    - --no-index\n    - --find-links wheels\n    - tinypin==0.2.0\n")
    (project / "src").mkdir()
    (project / "src" / "hi.py").write_text("import tinypin\n")
    code = (PIN.replace("WSDIR", f'"{tmp_path / "ws"}"').replace("SPEC", f'"{spec}"')
            .replace("SRC", f'"{project / "src"}"'))
    _, outputs = k.ok(code, timeout=180)
    out = stdout_of(outputs)
    assert f"find-links: [{project / 'wheels'}]" in out, out
    assert "hint: pip found no distribution of tinypin==0.2.0" in out, out
    assert f"--find-links {project / 'wheels'}, which holds tinypin-0.1.0-py3-none-any.whl" in out, out


def test_nil_error_as_last_line_shows_nothing(k):
    """`ws.Close()` as a notebook's last cell printed <nil>: a nil error (any
    nil interface) as the trailing value shows nothing, as IPython shows
    nothing for None; a non-nil error and a nil pointer still show."""
    k.ok('import "errors"\nfunc closeIt() error { return nil }\nfunc failIt() error { return errors.New("it broke") }')
    _, outputs = k.ok("closeIt()")
    assert not [o for o in outputs if o["msg_type"] == "execute_result"], outputs
    _, outputs = k.ok("var anyNil any\nanyNil")
    assert not [o for o in outputs if o["msg_type"] == "execute_result"], outputs
    _, outputs = k.ok("failIt()")
    results = [o for o in outputs if o["msg_type"] == "execute_result"]
    assert results and "it broke" in results[0]["content"]["data"]["text/plain"], outputs
    _, outputs = k.ok("var nilPtr *int\nnilPtr")
    results = [o for o in outputs if o["msg_type"] == "execute_result"]
    assert results and results[0]["content"]["data"]["text/plain"] == "<nil>", outputs


# --- an error no line reads stops the cell ----------------------------------------------

def test_unread_error_stops_the_cell(k):
    """Go as short as Python without hiding errors: a top-level `v, err :=
    f()` whose err no later line of the cell reads stops the cell there when
    err is not nil, reported at the statement's line; read, or discarded with
    _, the error is the cell's to handle."""
    k.ok('import ("fmt"; "strconv")')
    reply, outputs = k.run('n, err := strconv.Atoi("forty")\nfmt.Println("after", n)')
    assert reply["content"]["status"] == "error", summarize(outputs)
    err = reply["content"]
    assert err["ename"] == "*strconv.NumError", err
    assert re.match(r"cell\[\d+\]:1:1: strconv.Atoi: parsing \"forty\": invalid syntax", err["evalue"]), err
    assert "after" not in stdout_of(outputs), "the cell went on after the error"
    assert "no later line of the cell reads" in "\n".join(err["traceback"]), err

    _, outputs = k.ok('m, err := strconv.Atoi("42")\nfmt.Println("m is", m)')
    assert "m is 42" in stdout_of(outputs)

    _, outputs = k.ok('p, err := strconv.Atoi("x")\nif err != nil { fmt.Println("handled:", p) }')
    assert "handled: 0" in stdout_of(outputs)

    _, outputs = k.ok('q, _ := strconv.Atoi("x")\nfmt.Println("discarded:", q)')
    assert "discarded: 0" in stdout_of(outputs)

    # Inside a func it is Go as usual: nothing is added.
    _, outputs = k.ok('func parse() int { v, err := strconv.Atoi("x"); _ = err; return v }\nfmt.Println("parse:", parse())')
    assert "parse: 0" in stdout_of(outputs)
