"""Code yaegi v0.16.1 gets wrong on its own, which the kernel works around."""
from __future__ import annotations


def test_multi_value_define_inside_top_level_block(k):
    """yaegi loses `n, err := f()` inside a for/if at the top level of a
    cell; the kernel runs such blocks as closures."""
    k.ok('import "strconv"')
    code = ('total := 0\n'
            'for _, s := range []string{"1", "2", "3"} {\n'
            '\tn, err := strconv.Atoi(s)\n'
            '\tif err != nil {\n\t\tpanic(err)\n\t}\n'
            '\ttotal += n\n'
            '}\n'
            'total')
    assert k.value(code) == "6"


def test_genuinely_undefined_name_still_reported(k):
    reply, _ = k.run("for i := 0; i < 1; i++ {\n\ta, b := nope()\n\t_, _ = a, b\n}")
    assert reply["content"]["status"] == "error"
    assert "nope" in reply["content"]["evalue"]
