"""Papermill parameters for Gantry (Go) notebooks.

papermill -p/-r/-y/-f inject a cell of Go declarations after the cell
tagged ``parameters``: one ``var NAME = VALUE`` per parameter, with typed
literals (int, float64, string, bool; []T and map[K]V where the elements
agree, []any and map[K]any where they do not; ``var NAME any = nil`` for
None). Gantry allows a later cell to declare a name again, so the injected
values replace the parameters cell's defaults.

This is, byte for byte, the translation of ``gantry nbrun`` and of notebook
runs (Go package gantry/notebook, GoSource); the repository's tests hold the
two to that.

papermill 2.7 reads no entry point for translators, so this package makes
itself known through one it does read: ``papermill.engine``. papermill loads
every engine entry point when it starts, which registers the translator for
the kernel ``gantry`` and the language ``go``. The engine itself, ``gantry``,
is papermill's own nbclient engine under that name.
"""

import math
import re
import unicodedata

from papermill.engines import NBClientEngine
from papermill.exceptions import PapermillException
from papermill.models import Parameter
from papermill.translators import Translator, papermill_translators

__all__ = ["GoTranslator", "GantryEngine", "go_source"]

_KEYWORDS = frozenset(
    "break case chan const continue default defer else fallthrough for func go goto if import "
    "interface map package range return select struct switch type var".split()
)
# Go's predeclared identifiers, and math, which the injected cell may use:
# a parameter of such a name would shadow them.
_PREDECLARED = frozenset(
    "any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string "
    "uint uint8 uint16 uint32 uint64 uintptr true false iota nil append cap clear close complex copy delete imag len "
    "make max min new panic print println real recover math".split()
)
_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v",
            '"': r"\"", "\\": r"\\"}
_ESCAPED_CATEGORIES = frozenset(("Cc", "Cf", "Co", "Zs", "Zl", "Zp"))


def _is_ident(name):
    if not isinstance(name, str) or not name or name in _KEYWORDS:
        return False
    for i, ch in enumerate(name):
        cat = unicodedata.category(ch)
        if ch != "_" and not cat.startswith("L") and (i == 0 or cat != "Nd"):
            return False
    return True


def go_quote(s):
    """A Go string literal of s: printable characters as they are, escapes
    for quotes, backslashes, control and format characters, separators other
    than the space, and (from os.fsdecode's surrogateescape) raw bytes."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02x" % (o - 0xDC00))
        elif 0xD800 <= o <= 0xDFFF:
            raise PapermillException("a string parameter holds a lone surrogate (U+%04X), which is not Unicode text" % o)
        elif ch != " " and unicodedata.category(ch) in _ESCAPED_CATEGORIES:
            out.append("\\u%04x" % o if o < 0x10000 else "\\U%08x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_type(v):
    """The Go type of v's literal; "" for None (untyped nil)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, (list, tuple)):
        return "[]" + _unify(list(v))
    if isinstance(v, dict):
        if not v:
            return "map[string]any"
        return "map[%s]%s" % (_unify(list(v.keys())), _unify(list(v.values())))
    return "string"  # str, and anything else written as its str()


def _unify(values):
    """The one type a typed literal can hold the values in: theirs if they
    agree, float64 for ints and floats, else any."""
    if not values:
        return "any"
    types = [_go_type(v) for v in values]
    if all(t == types[0] for t in types) and types[0]:
        return types[0]
    if all(t in ("int", "float64") for t in types):
        return "float64"
    return "any"


class _Literals:
    def __init__(self):
        self.math = False  # a literal calls package math

    def literal(self, v, want=""):
        if v is None:
            return "nil"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            if not -(2 ** 63) <= v < 2 ** 63:
                raise PapermillException("%d does not fit in a Go int (64 bits): pass it as a float or a string" % v)
            return str(v)
        if isinstance(v, float):
            if math.isnan(v):
                self.math = True
                return "math.NaN()"
            if math.isinf(v):
                self.math = True
                return "math.Inf(1)" if v > 0 else "math.Inf(-1)"
            if v == 0 and math.copysign(1, v) < 0:
                self.math = True  # a constant -0.0 is 0 in Go
                return "math.Copysign(0, -1)"
            return repr(v)
        if isinstance(v, (list, tuple)):
            typ = _go_type(v)
            elem = typ[2:]
            parts = [self.literal(e, elem) for e in v]
            return ("" if typ == want else typ) + "{" + ", ".join(parts) + "}"
        if isinstance(v, dict):
            typ = _go_type(v)
            key, val = (_unify(list(v.keys())), _unify(list(v.values()))) if v else ("string", "any")
            parts = ["%s: %s" % (self.literal(k, key), self.literal(e, val)) for k, e in v.items()]
            return ("" if typ == want else typ) + "{" + ", ".join(parts) + "}"
        if not isinstance(v, str):
            v = v.isoformat() if hasattr(v, "isoformat") else str(v)
        return go_quote(v)


def go_source(parameters, comment="Parameters"):
    """The Go that sets parameters (a dict) in a Gantry notebook."""
    lit = _Literals()
    body = []
    for name, value in parameters.items():
        if not _is_ident(name):
            raise PapermillException(
                "parameter name %r is not a Go identifier: use letters, digits and _, not starting "
                "with a digit, and not a Go keyword" % (name,))
        if name in _PREDECLARED:
            raise PapermillException(
                "parameter name %r is predeclared in Go: the injected cell (and the cells after it) would not see "
                "the %s Go has; rename it" % (name, name))
        try:
            if value is None:
                body.append("var %s any = nil\n" % name)
            else:
                body.append("var %s = %s\n" % (name, lit.literal(value)))
        except PapermillException as e:
            raise PapermillException("parameter %s: %s" % (name, e)) from None
    head = ("// %s" % comment).strip() + "\n"
    if lit.math:
        head += 'import "math"\n\n'
    return head + "".join(body)


# `name := value`, `var name [T] = value` (also inside a var block), each
# with an optional `// help` comment.
_DECLARATION = re.compile(
    r"^\s*(?:var\s+)?(?P<target>[^\W\d]\w*)\s*(?P<annotation>[^=:]*?)\s*:?=\s*(?P<value>.*?)\s*(?://\s*(?P<help>.*))?$")


class GoTranslator(Translator):
    """papermill's translator for Gantry (Go) notebooks."""

    @classmethod
    def translate(cls, val):
        return _Literals().literal(val)

    @classmethod
    def comment(cls, cmt_str):
        return ("// %s" % cmt_str).strip()

    @classmethod
    def assign(cls, name, str_val):
        return "var %s = %s" % (name, str_val)

    @classmethod
    def codify(cls, parameters, comment="Parameters"):
        return go_source(parameters, comment)

    @classmethod
    def inspect(cls, parameters_cell):
        """The parameters a Gantry parameters cell declares, for papermill
        --help-notebook and its unknown-parameter warning."""
        params = []
        for line in parameters_cell["source"].splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("//") or stripped in ("var (", ")"):
                continue
            m = _DECLARATION.match(line)
            if m is None or m.group("target") == "var":
                continue
            params.append(Parameter(name=m.group("target"), inferred_type_name=m.group("annotation").strip() or "None",
                                    default=m.group("value"), help=(m.group("help") or "").strip()))
        return params


class GantryEngine(NBClientEngine):
    """papermill's nbclient engine, under the name gantry (see the module's
    doc: loading it is what registers the Go translator)."""


papermill_translators.register("go", GoTranslator)
papermill_translators.register("gantry", GoTranslator)
