"""Magics end to end, through the real kernel: %%writefile, !cmd, %cd, %pwd,
%env, %time / %%time, %reset, %lsmagic, %help / ?name, %require, and how
magics mix with Go code in one cell.

Every timeout is a hang guard. The one timing assertion (live shell output)
is a causality check on the kernel's own message dates, not a speed limit.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import uuid

import pytest

from conftest import HANG, error_text, errors_of, stdout_of, summarize, wait_started, assert_error


def is_str(value: str, want: str) -> bool:
    """A string value as the kernel shows it: quoted Go syntax or bare."""
    return value in (json.dumps(want), want)


def rich_texts(outputs: list[dict]) -> list[str]:
    """text/plain of every execute_result and display_data."""
    return [m["content"]["data"].get("text/plain", "") for m in outputs
            if m["msg_type"] in ("execute_result", "display_data")]


def to_datetime(d) -> dt.datetime:
    if isinstance(d, dt.datetime):
        return d
    from dateutil.parser import isoparse
    return isoparse(d)


def getwd(k) -> str:
    v = k.value('import "os"\n__wd, _ := os.Getwd()\n__wd')
    return json.loads(v) if v.startswith('"') else v


# --- %%writefile ----------------------------------------------------------------

def test_writefile_then_cat(k, tmp_path):
    k.ok(f"%cd {tmp_path}")
    body = "hello body\nsecond line"
    _, outputs = k.ok("%%writefile hello.txt\n" + body)
    assert (tmp_path / "hello.txt").read_text() == body + "\n"
    assert "hello.txt" in stdout_of(outputs), summarize(outputs)
    _, outputs = k.ok("!cat hello.txt")
    assert stdout_of(outputs) == body + "\n", summarize(outputs)


def test_writefile_append(k, tmp_path):
    k.ok(f"%cd {tmp_path}")
    k.ok("%%writefile notes.txt\nfirst")
    k.ok("%%writefile -a notes.txt\nsecond\nthird")
    assert (tmp_path / "notes.txt").read_text() == "first\nsecond\nthird\n"
    _, outputs = k.ok("!cat notes.txt")
    assert stdout_of(outputs) == "first\nsecond\nthird\n", summarize(outputs)
    # without -a the file is replaced
    k.ok("%%writefile notes.txt\nonly")
    assert (tmp_path / "notes.txt").read_text() == "only\n"


def test_writefile_missing_directory(k, tmp_path):
    missing = tmp_path / "no_such_dir"
    assert_error(k, f"%%writefile {missing}/x.txt\nbody", str(missing))
    assert not missing.exists()
    assert k.value("1+1") == "2"


# --- !cmd -------------------------------------------------------------------------

def test_shell_output_is_streamed_live(k):
    reply, outputs = k.run("!for i in 1 2 3; do echo $i; sleep 0.3; done")
    assert reply["content"]["status"] == "ok", (reply["content"], summarize(outputs))
    assert stdout_of(outputs) == "1\n2\n3\n", summarize(outputs)
    msgs = k.last_iopub
    streams = [m for m in msgs if m["msg_type"] == "stream"]
    idle = msgs[-1]
    assert idle["msg_type"] == "status" and idle["content"]["execution_state"] == "idle"
    first = to_datetime(streams[0]["header"]["date"])
    done = to_datetime(idle["header"]["date"])
    gap = (done - first).total_seconds()
    # Causality: "1" is echoed 0.6 s of sleeping before the shell ends, so a
    # kernel that streams publishes it well before idle; one that buffers
    # the command's output until it exits cannot.
    assert gap >= 0.3, (
        f"first stream message dated only {gap:.3f}s before status idle: shell output is not streamed live; "
        f"streams: {[(str(m['header']['date']), m['content']['text']) for m in streams]}, idle: {idle['header']['date']}")


def test_shell_nonzero_exit_is_error(k):
    assert_error(k, "!exit 3", "status 3")
    assert k.value("1+1") == "2"


def test_shell_interrupt(kernel_factory):
    k = kernel_factory()
    k.ok("keepMe := 5")
    msg_id = k.execute("!sleep 60")
    wait_started(k, msg_id)
    time.sleep(1.0)
    k.km.interrupt_kernel()
    reply, outputs = k.collect(msg_id, timeout=HANG)
    assert reply["content"]["status"] in ("error", "aborted"), (reply["content"], summarize(outputs))
    assert "interrupt" in error_text(outputs, reply).lower(), summarize(outputs)
    assert k.value("1+1") == "2"
    assert k.value("keepMe") == "5", "interrupting a shell command lost the interpreter state"


# --- %cd / %pwd ----------------------------------------------------------------------

def test_cd_pwd(k, tmp_path):
    _, outputs = k.ok("%pwd")
    start = stdout_of(outputs).strip()
    assert start and os.path.isabs(start), summarize(outputs)
    assert os.path.realpath(getwd(k)) == os.path.realpath(start)

    _, outputs = k.ok(f"%cd {tmp_path}")
    assert str(tmp_path) in stdout_of(outputs), summarize(outputs)
    assert os.path.realpath(getwd(k)) == os.path.realpath(tmp_path)
    _, outputs = k.ok("%pwd")
    assert os.path.realpath(stdout_of(outputs).strip()) == os.path.realpath(tmp_path), summarize(outputs)
    _, outputs = k.ok("!pwd")
    assert os.path.realpath(stdout_of(outputs).strip()) == os.path.realpath(tmp_path), summarize(outputs)

    k.ok("%cd -")
    assert os.path.realpath(getwd(k)) == os.path.realpath(start)

    assert_error(k, "%cd /no/such", "/no/such")
    assert os.path.realpath(getwd(k)) == os.path.realpath(start), "a failed %cd moved the working directory"


# --- %env --------------------------------------------------------------------------

def test_env_set_and_read(k):
    _, outputs = k.ok("%env FOO=bar")
    assert "FOO" in stdout_of(outputs), summarize(outputs)
    v = k.value('import "os"\nos.Getenv("FOO")')
    assert is_str(v, "bar"), v
    _, outputs = k.ok("!echo $FOO")
    assert stdout_of(outputs) == "bar\n", summarize(outputs)
    _, outputs = k.ok("%env FOO")
    assert stdout_of(outputs).strip() == "bar", summarize(outputs)


def shown(k) -> str:
    """Everything the last cell published except its own code (execute_input)."""
    return json.dumps([m for m in k.last_iopub if m["msg_type"] != "execute_input"], default=str)


def test_env_listing_hides_secrets(kernel_factory):
    secret = "s3cr3t-" + uuid.uuid4().hex
    # The README's own example name, and short words such as PW.
    others = {name: f"{name.lower()}-{uuid.uuid4().hex}" for name in ("GPU_BOX_PASSPHRASE", "DB_PW", "SMTP_PASS")}
    k = kernel_factory(env={"MY_SECRET_TOKEN": secret, "GANTRY_PLAIN_VAR": "plainvalue", **others})
    _, outputs = k.ok("%env")
    listing = stdout_of(outputs)
    assert "MY_SECRET_TOKEN" in listing, f"%env does not list MY_SECRET_TOKEN: {listing[:2000]!r}"
    assert "GANTRY_PLAIN_VAR=plainvalue" in listing, listing[:2000]
    assert secret not in shown(k), "%env listing shows the secret value"
    for name, value in others.items():
        assert f"{name}=<hidden>" in listing, f"%env shows {name}: {listing[:2000]!r}"
        assert value not in shown(k), f"%env listing shows the value of {name}"
    # Asked for by name, a secret is shown.
    _, outputs = k.ok("%env DB_PW")
    assert stdout_of(outputs).strip() == others["DB_PW"]

    other = "other-" + uuid.uuid4().hex
    _, outputs = k.ok(f"%env MY_SECRET_TOKEN={other}")
    assert other not in shown(k), "%env NAME=VALUE echoes a secret value"
    _, outputs = k.ok("%env")
    assert "MY_SECRET_TOKEN" in stdout_of(outputs)
    assert other not in shown(k), "%env listing shows the secret value"
    # it was set all the same
    v = k.value('import "os"\nos.Getenv("MY_SECRET_TOKEN")')
    assert is_str(v, other), v


# --- %time / %%time -----------------------------------------------------------------

def test_time_line(k):
    _, outputs = k.ok("%time 1+1")
    assert re.search(r"^Wall time: \S", stdout_of(outputs), re.M), summarize(outputs)


def test_time_cell_shows_value(k):
    _, outputs = k.ok("%%time\ntimedX := 20\ntimedX + 22")
    assert re.search(r"^Wall time: \S", stdout_of(outputs), re.M), summarize(outputs)
    assert "42" in rich_texts(outputs), summarize(outputs)


# --- %reset --------------------------------------------------------------------------

def test_reset(kernel_factory):
    k = kernel_factory()
    k.ok("resetVictim := 7")
    assert k.value("resetVictim") == "7"
    k.ok("%reset")
    assert_error(k, "resetVictim", "resetVictim")
    assert k.value("1+1") == "2"


# --- %lsmagic / %help / ?name ---------------------------------------------------------

def test_lsmagic(k):
    _, outputs = k.ok("%lsmagic")
    text = stdout_of(outputs)
    assert "%%writefile" in text, text
    for name in ("cd", "env", "time", "reset", "require", "help", "lsmagic"):
        assert re.search(rf"(?<!%)%{name}\b", text), f"%lsmagic does not list %{name}: {text!r}"


def page_text(reply: dict) -> str:
    pages = [p for p in reply["content"].get("payload", []) if p.get("source") == "page"]
    assert pages, f"no page payload in execute_reply: {reply['content']}"
    return "\n".join(p["data"]["text/plain"] for p in pages)


@pytest.mark.parametrize("code", ["%help", "?fmt.Println", "fmt.Println?"])
def test_help_pages(k, code):
    k.ok('import "fmt"')
    reply, outputs = k.ok(code)
    assert "Println" in page_text(reply), reply["content"]


def test_help_magic(k):
    reply, _ = k.ok("%help cd")
    assert "%cd" in page_text(reply), reply["content"]


def test_help_unknown_name(k):
    assert_error(k, "?nosuchthing", "nosuchthing")
    assert k.value("1+1") == "2"


# --- %require -------------------------------------------------------------------------

def test_require_offline_from_module_cache(kernel_factory, tmp_path):
    # Go's own offline settings: no proxy, and the module cache trusted
    # without the checksum database (which is on the network too).
    gopath = tmp_path / "gopath"
    k = kernel_factory(env={"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOSUMDB": "off", "GANTRY_GOPATH": str(gopath)})
    _, outputs = k.ok("%require github.com/google/uuid@v1.6.0", timeout=300)
    assert "github.com/google/uuid" in stdout_of(outputs), summarize(outputs)
    k.ok('import "github.com/google/uuid"')
    assert k.value("len(uuid.NewString())") == "36"
    assert (gopath / "src" / "github.com" / "google" / "uuid").exists()


def test_require_checksum_database_unreachable(kernel_factory, tmp_path):
    # Offline but still asking the checksum database: the error says that
    # the database was unreachable and how to trust the module cache instead.
    k = kernel_factory(env={"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOSUMDB": "sum.golang.org http://127.0.0.1:9",
                            "GANTRY_GOPATH": str(tmp_path / "gopath")})
    text = assert_error(k, "%require github.com/google/uuid@v1.6.0", "github.com/google/uuid", "checksum database", "GONOSUMDB")
    assert "check the module path" not in text, text
    assert k.value("1+1") == "2"


def test_require_without_version(k):
    text = assert_error(k, "%require no/version", "no/version")
    assert "pin a version" in text, text


def test_import_not_fetched(k):
    assert_error(k, 'import "github.com/not/fetched"', "github.com/not/fetched", "%require")
    assert k.value("1+1") == "2"


# --- unknown magics, magics mixed with Go ----------------------------------------------

def test_unknown_magic(k):
    assert_error(k, "%nosuch", "%nosuch", "%lsmagic")


def test_line_magic_mixed_with_go(k):
    v = k.value('%env A=1\nimport "os"\nos.Getenv("A")')
    assert is_str(v, "1"), v
