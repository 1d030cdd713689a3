"""gantry/input: prompts and password input through input_request."""
from __future__ import annotations

from conftest import stdout_of, summarize


def test_input_line_and_password(k):
    code = ('import "gantry/input"\nimport "fmt"\n'
            'name, err := input.Line("Name: ")\n'
            'secret, err2 := input.Password("Token: ")\n'
            'fmt.Println("hello", name, len(secret), err, err2)')
    reply, outputs = k.run(code, allow_stdin=True, stdin_replies=["ada", "s3cret"])
    assert reply["content"]["status"] == "ok", (reply["content"], summarize(outputs))
    reqs = [r["content"] for r in k.input_requests]
    assert reqs == [{"prompt": "Name: ", "password": False}, {"prompt": "Token: ", "password": True}], reqs
    out = stdout_of(outputs)
    assert "hello ada 6 <nil> <nil>" in out, out
    assert "s3cret" not in out


def test_input_refused_without_stdin(k):
    reply, outputs = k.run('import "gantry/input"\n_, err := input.Line("x")\nerr != nil')
    assert reply["content"]["status"] == "ok", reply["content"]
    results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
    assert results == ["true"], summarize(outputs)
