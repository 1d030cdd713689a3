"""Code yaegi v0.16.1 gets wrong on its own, which the kernel works around
(docs/INTERPRETER.md lists them; tests/test_language.py has the issue-16
items: range over int and func, min/max/clear, generics at the top level,
main, top-level defer, comma-ok and type switches at the top level)."""
from __future__ import annotations

from conftest import stdout_of


def test_multi_value_define_inside_top_level_block(k):
    """yaegi loses `n, err := f()` inside a for/if at the top level of a
    cell; the kernel runs such blocks as func literals."""
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


def test_defer_arguments_taken_at_the_defer(k):
    """yaegi evaluates a deferred call's arguments when it runs."""
    k.ok('import "fmt"')
    _, out = k.ok("func f() {\n\tx := 1\n\tdefer fmt.Println(\"x was\", x)\n\tx = 2\n"
                  "\tfor i := 0; i < 3; i++ {\n\t\tdefer fmt.Print(i)\n\t}\n}\nf()")
    assert stdout_of(out) == "210x was 1\n"


def test_loop_variables_per_iteration(k):
    """yaegi keeps one variable for all iterations of a loop (Go < 1.22)."""
    k.ok('import "fmt"')
    _, out = k.ok("var fs []func()\nfor i := 0; i < 3; i++ {\n\tfs = append(fs, func() { fmt.Print(i) })\n}\n"
                  "for _, s := range []string{\"a\", \"b\"} {\n\tfs = append(fs, func() { fmt.Print(s) })\n}\n"
                  "for _, f := range fs {\n\tf()\n}")
    assert stdout_of(out) == "012ab"


def test_var_initial_value_with_func_literal(k):
    """yaegi: `variable definition loop` for a var whose initial value uses a
    top-level name and a func literal; the kernel assigns it as a statement."""
    k.ok("base := 3\nfunc apply(x int, f func(int) int) int { return f(x) }")
    assert k.value("var nine = apply(base, func(i int) int { return i * i })\nnine") == "9"


def test_cell_the_checker_cannot_judge_still_runs(k):
    """A func of an earlier cell whose type a later cell declared again
    keeps the old type in the interpreter, which the checker cannot name:
    cells that use the func run unchecked, as the interpreter takes them."""
    k.ok("type Unit int\nfunc half(u Unit) Unit { return u / 2 }")
    k.ok("type Unit string")
    assert k.value("half(8)") == "4"


def test_call_defined_with_composite_literal(k):
    """yaegi loses the call's value in `got, want := f(), []int{1}`."""
    k.ok("func three() []int { return []int{1, 2, 3} }")
    assert k.value("got, want := three(), []int{1, 2, 3}\nlen(got) == len(want)") == "true"


def test_assign_to_variable_of_imported_package(k):
    """yaegi takes `pkg.Var = x` for an assignment to a constant."""
    k.ok('import "runtime"')
    assert k.value("old := runtime.MemProfileRate\nruntime.MemProfileRate = 4096\n"
                   "v := runtime.MemProfileRate\nruntime.MemProfileRate = old\nv") == "4096"


def test_generic_type_instance(k):
    """yaegi fails on many instances of generic types; the kernel declares
    a concrete copy of the type and its methods."""
    k.ok("type Stack[T any] struct{ items []T }\n"
         "func (s *Stack[T]) Push(v T) { s.items = append(s.items, v) }\n"
         "func (s *Stack[T]) Pop() T { v := s.items[len(s.items)-1]; s.items = s.items[:len(s.items)-1]; return v }")
    assert k.value('s := &Stack[string]{}\ns.Push("a")\ns.Push("b")\ns.Pop() + s.Pop()') == '"ba"'
