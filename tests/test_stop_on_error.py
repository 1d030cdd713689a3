"""stop_on_error: requests queued behind a failing cell are aborted, as
JupyterLab's "Run All" expects."""
from __future__ import annotations

from conftest import HANG


def test_queued_cells_after_error_are_aborted(k):
    ids = [k.kc.execute('panic("first fails")'),
           k.kc.execute('shouldNotRun := 1'),
           k.kc.execute('1 + 1', stop_on_error=False)]
    replies = {}
    while len(replies) < len(ids):
        msg = k.kc.get_shell_msg(timeout=HANG)
        replies[msg["parent_header"]["msg_id"]] = msg["content"]["status"]
    assert [replies[i] for i in ids] == ["error", "aborted", "aborted"], replies
    # The aborted cell did not run, and the kernel goes on.
    assert "undefined" in k.run("shouldNotRun")[0]["content"]["evalue"]
    assert k.value("2 + 2") == "4"


def test_without_stop_on_error_later_cells_run(k):
    ids = [k.kc.execute('panic("fails")', stop_on_error=False), k.kc.execute('3 + 3')]
    replies = {}
    while len(replies) < len(ids):
        msg = k.kc.get_shell_msg(timeout=HANG)
        replies[msg["parent_header"]["msg_id"]] = msg["content"]["status"]
    assert [replies[i] for i in ids] == ["error", "ok"], replies
