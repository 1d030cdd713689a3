"""jupyter_kernel_test's conformance suite (12 tests) for the gantry kernel.

Every attribute is set, so no test skips. The suite starts its own kernel
(start_new_kernel) after conftest's session fixture has installed the
kernelspec. Each sample imports what it uses: the kernel pre-imports nothing
and re-importing a package is harmless.

Notes on what the suite checks (jupyter_kernel_test 0.7.0):
* test_error wants exactly one iopub output (the error) for
  code_generate_error.
* test_history runs code_execute_result several times; with unique=True the
  search for code_history_pattern must find exactly one distinct source, and
  with n=3 three entries, and output=True entries must be (input, output).
* test_completion compares match *sets* exactly.
* test_pager wants exactly one payload, source "page", with text/plain.
"""
from __future__ import annotations

import os
import tempfile

import jupyter_kernel_test as jkt
from jupyter_client.manager import start_new_kernel

from conftest import KERNEL_NAME

# Give slow machines room: the suite's own default is 15 s per reply.
jkt.TIMEOUT = 60


class GantryKernelTests(jkt.KernelTests):
    kernel_name = KERNEL_NAME

    language_name = "go"
    file_extension = ".go"

    code_hello_world = 'import "fmt"\nfmt.Println("hello, world")'

    code_stderr = 'import "os"\nos.Stderr.WriteString("some error\\n")'

    completion_samples = [
        {"text": "%lsmag", "matches": {"%lsmagic"}},
        {"text": "printl", "matches": {"println"}},  # builtin
        {"text": 'import "fmt"\nfmt.Printl'},  # reply validated; match shape is checked in test_protocol
    ]

    complete_code_samples = ["1", 'fmt.Println("hi")', "x := 1", "func f() int { return 1 }",
                             "for i := 0; i < 3; i++ {\n\tfmt.Println(i)\n}"]
    incomplete_code_samples = ["func f() {", "for i := 0; i < 3; i++ {", "x := []int{1,", "s := `raw"]
    invalid_code_samples = ["}", "x := (1))"]

    code_page_something = "?fmt.Println"

    code_generate_error = 'panic("conformance error")'

    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": "1+2", "result": "3"},
    ]

    code_display_data = [
        {"code": 'import "gantry/display"\ndisplay.Show(display.HTML("<b>hi</b>"))', "mime": "text/html"},
    ]

    code_history_pattern = "6?7"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "fmt.Println"

    code_clear_output = 'import "gantry/display"\ndisplay.Clear(false)'

    @classmethod
    def setUpClass(cls) -> None:
        # A history database of its own, so test_history sees only this suite's cells.
        cls._tmp = tempfile.TemporaryDirectory(prefix="gantry-conformance-")
        env = {**os.environ, "GANTRY_HISTORY": os.path.join(cls._tmp.name, "history.db")}
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name, env=env)

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        cls._tmp.cleanup()

    def setUp(self) -> None:
        # code_inspect_sample needs fmt in scope, as a person would have it.
        if getattr(type(self), "_imported", False):
            return
        self.flush_channels()
        self.execute_helper('import "fmt"')
        type(self)._imported = True
