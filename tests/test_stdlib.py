"""The running Go's standard library in cells, through the real kernel.

The tables are generated for the Go that built the kernel (kernel/gostd),
the generic packages compiled from their sources; each test calls real
functions and checks what they return. Funcs are declared in one cell and
called in the next: a generic call whose result is assigned at the top
level of a cell is yaegi's to fix (issue 16, part A), not this file's.
"""
from __future__ import annotations

import pytest

from conftest import error_text, errors_of, stdout_of, summarize


def out(k, code: str) -> str:
    """Run code; it must succeed with nothing on stderr; return its stdout."""
    reply, outputs = k.ok(code)
    err = stdout_of(outputs, "stderr")
    assert not err, f"cell {code!r} wrote to stderr: {err!r}"
    assert not errors_of(outputs), summarize(outputs)
    return stdout_of(outputs)


def run_func(k, imports: list[str], body: str) -> str:
    """Declare func probe() with body after the imports, call it, return its output."""
    out(k, "%reset")
    out(k, "\n".join(f'import "{p}"' for p in imports))
    out(k, "func probe() {\n" + body + "\n}")
    return out(k, "probe()")


def test_import_slices_and_maps_alone_keeps_state(k):
    """Issue 16: `import "slices"` reset the interpreter ("reflect: call of
    MakeFunc with non-Func type"), after which slices.Sort was undefined."""
    out(k, "%reset")
    out(k, "kept := 41")
    for p in ("slices", "maps", "iter", "cmp", "unique"):
        out(k, f'import "{p}"')
    assert out(k, 'import "fmt"\nkept++\nfmt.Println(kept)') == "42\n"
    assert out(k, "s := []int{3, 1, 2}\nslices.Sort(s)\nfmt.Println(s, slices.Contains(s, 2))") == "[1 2 3] true\n"


def test_slices(k):
    got = run_func(k, ["fmt", "slices", "strings"], """
	s := []int{5, 2, 8, 1, 2}
	slices.Sort(s)
	i, found := slices.BinarySearch(s, 5)
	fmt.Println(s, slices.Min(s), slices.Max(s), slices.Index(s, 8), i, found)
	c := slices.Compact(slices.Clone(s))
	c = slices.Insert(c, 0, 9)
	slices.Reverse(c)
	fmt.Println(c, slices.Equal(c, s), slices.Repeat([]string{"ab"}, 2))
	w := []string{"pear", "fig", "apple"}
	slices.SortFunc(w, func(a, b string) int { return strings.Compare(a, b) })
	fmt.Println(w, slices.IndexFunc(w, func(x string) bool { return len(x) == 3 }))
	fmt.Println(slices.Sorted(slices.Values([]int{3, 1, 2})), slices.Collect(slices.Chunk([]int{1, 2, 3}, 2)))""")
    assert got == "[1 2 2 5 8] 1 8 4 3 true\n[8 5 2 1 9] false [ab ab]\n[apple fig pear] 1\n[1 2 3] [[1 2] [3]]\n"


def test_maps_and_cmp(k):
    got = run_func(k, ["fmt", "maps", "slices", "cmp"], """
	m := map[string]int{"b": 2, "a": 1, "c": 3}
	c := maps.Clone(m)
	maps.DeleteFunc(c, func(k string, v int) bool { return v > 1 })
	fmt.Println(slices.Sorted(maps.Keys(m)), slices.Sorted(maps.Values(m)), c, maps.Equal(m, c))
	fmt.Println(maps.Collect(slices.All([]string{"x", "y"})))
	fmt.Println(cmp.Compare(2, 1), cmp.Less("a", "b"), cmp.Or(0, 7, 9))""")
    assert got == "[a b c] [1 2 3] map[a:1] false\nmap[0:x 1:y]\n1 true 7\n"


def test_iter_pull_and_seq(k):
    got = run_func(k, ["fmt", "iter", "slices"], """
	seq := slices.Values([]string{"p", "q"})
	next, stop := iter.Pull(seq)
	a, ok1 := next()
	b, ok2 := next()
	_, ok3 := next()
	stop()
	fmt.Println(a, ok1, b, ok2, ok3)
	seq(func(v string) bool { fmt.Print(v); return false })
	var odd iter.Seq2[int, string] = func(yield func(int, string) bool) { _ = yield(1, "one") && yield(3, "three") }
	next2, stop2 := iter.Pull2(odd)
	k, v, ok := next2()
	stop2()
	fmt.Println("", k, v, ok)""")
    assert got == "p true q true false\np 1 one true\n"


def test_unique(k):
    got = run_func(k, ["fmt", "unique"], """
	a, b := unique.Make("go"), unique.Make("go")
	fmt.Println(a == b, a.Value(), unique.Make(1) == unique.Make(2))""")
    assert got == "true go false\n"


def test_strings_and_bytes_iterators(k):
    """Go 1.24's iterator functions, compiled, feeding the interpreted slices.Collect."""
    got = run_func(k, ["fmt", "slices", "strings", "bytes"], """
	fmt.Printf("%q\\n", slices.Collect(strings.Lines("a\\nb\\n")))
	fmt.Println(slices.Collect(strings.SplitSeq("x,y", ",")), slices.Collect(strings.FieldsSeq(" p  q ")))
	n := 0
	bytes.SplitSeq([]byte("1-2-3"), []byte("-"))(func(b []byte) bool { n++; return true })
	fmt.Println(n)""")
    assert got == '["a\\n" "b\\n"]\n[x y] [p q]\n3\n'


def test_math_rand_v2_and_newer_packages(k):
    # rand.N is generic in a compiled package: not available (README, Known limits).
    got = run_func(k, ["fmt", "math/rand/v2", "crypto/sha3", "encoding/hex"], """
	r1, r2 := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
	fmt.Println(r1.IntN(1000) == r2.IntN(1000), rand.IntN(10) < 10)
	sum := sha3.Sum256([]byte("abc"))
	fmt.Println(hex.EncodeToString(sum[:4]))""")
    assert got == "true true\n3a985da7\n"


def test_go_version_specific_packages(k):
    """The tables are those of the Go that built the kernel: Go 1.27's uuid
    package is there exactly when the kernel was built by Go 1.27 or later."""
    out(k, "%reset")
    version = out(k, 'import "fmt"\nimport "runtime"\nfmt.Println(runtime.Version())').strip()
    minor = int(version.split(".")[1])
    reply, outputs = k.run('import "uuid"')
    if minor >= 27:
        assert reply["content"]["status"] == "ok", summarize(outputs)
        assert out(k, "u := uuid.New()\nfmt.Println(len(u.String()))") == "36\n"
    else:
        assert reply["content"]["status"] == "error"
        assert "uuid" in error_text(outputs, reply)


def test_unsafe(k):
    got = run_func(k, ["fmt", "unsafe"], """
	var x int64 = 42
	p := unsafe.Pointer(&x)
	type pair struct {
		a int8
		b int64
	}
	var v pair
	*(*int64)(unsafe.Add(unsafe.Pointer(&v), 8)) = 7
	fmt.Println(unsafe.Sizeof(x), unsafe.Alignof(x), unsafe.Sizeof(v), *(*int64)(p), v.b)""")
    assert got == "8 8 16 42 7\n"


@pytest.mark.parametrize("call,instead", [
    ("unsafe.Slice(&a[0], 2)", "(*[1 << 20]T)(unsafe.Pointer(p))[:n:n]"),
    ("unsafe.String(&b[0], 2)", "string((*[1 << 20]byte)"),
    ("unsafe.SliceData(a)", "&s[0]"),
])
def test_unsafe_builtins_the_interpreter_lacks_are_refused(k, call, instead):
    out(k, "%reset")
    out(k, 'import "unsafe"')
    reply, outputs = k.run(f"a := []int{{1, 2}}\nb := []byte(\"hi\")\n_, _ = a, b\n_ = {call}")
    assert reply["content"]["status"] == "error", summarize(outputs)
    text = error_text(outputs, reply)
    assert f"{call.split('(')[0]} is not supported by the interpreter" in text, text
    assert instead in text, text


@pytest.mark.parametrize("code,needle", [
    ('import "sync"\nf := sync.OnceValue(func() int { return 1 })', "sync.OnceValue is generic"),
    ('import "math/rand/v2"\nn := rand.N(10)', "rand.N is generic"),
    ('import "weak"', "weak has only generic funcs and types"),
])
def test_generic_symbols_of_compiled_packages_are_refused(k, code, needle):
    out(k, "%reset")
    reply, outputs = k.run(code)
    assert reply["content"]["status"] == "error", summarize(outputs)
    text = error_text(outputs, reply)
    assert needle in text, text
    assert "%require" not in text, text
