package notebook

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const sample = `{
 "cells": [
  {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": ["# Title\n", "text <b>bold</b>"]},
  {"cell_type": "code", "execution_count": null, "id": "p1", "metadata": {"tags": ["parameters"]},
   "outputs": [], "source": "alpha := 0.5\nvar name string = \"x\" // who\nvar (\n\tepochs = 3\n)"},
  {"cell_type": "code", "execution_count": 2, "id": "c1", "metadata": {"collapsed": true},
   "outputs": [
    {"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]},
    {"output_type": "execute_result", "execution_count": 2, "metadata": {},
     "data": {"text/plain": ["42"], "application/json": {"a": [1, 2]}}},
    {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo=\n", "text/html": ["<i>x</i>"]}},
    {"output_type": "error", "ename": "E", "evalue": "bad", "traceback": ["\u001b[31mE\u001b[0m: bad <x>"]}
   ],
   "source": "fmt.Println(alpha)"},
  {"cell_type": "raw", "id": "r1", "metadata": {}, "source": "raw & text"}
 ],
 "metadata": {"kernelspec": {"display_name": "Go (Gantry)", "language": "go", "name": "gantry"}, "custom": {"keep": [1, "x"]}},
 "nbformat": 4,
 "nbformat_minor": 5
}`

func TestReadWriteRoundTrip(t *testing.T) {
	nb, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if k, l := nb.Kernel(); k != "gantry" || l != "go" {
		t.Errorf("Kernel() = %q, %q", k, l)
	}
	if nb.Cells[0].Source != "# Title\ntext <b>bold</b>" || nb.Cells[2].Outputs[0].Text != "a\nb\n" {
		t.Errorf("multi-line strings not joined: %q, %q", nb.Cells[0].Source, nb.Cells[2].Outputs[0].Text)
	}
	if s, _ := nb.Cells[2].Outputs[1].MIMEText("text/plain"); s != "42" {
		t.Errorf("text/plain = %q", s)
	}
	var b bytes.Buffer
	if err := Write(&b, nb); err != nil {
		t.Fatal(err)
	}
	// Equal as JSON to the input once both are normalised.
	var in, out any
	json.Unmarshal([]byte(sample), &in)
	json.Unmarshal(b.Bytes(), &out)
	norm := func(v any) string {
		nb, err := Read(strings.NewReader(mustJSON(v)))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		Write(&b, nb)
		return b.String()
	}
	if norm(in) != b.String() || norm(out) != b.String() {
		t.Errorf("round trip changed the notebook:\n%s", b.String())
	}
	for _, keep := range []string{`"custom": {`, `"collapsed": true`, `"application/json": {`, `"id": "m1"`,
		`"text": [` + "\n" + `      "a\n",`} {
		if !strings.Contains(b.String(), keep) {
			t.Errorf("written notebook lacks %q:\n%s", keep, b.String())
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestReadRejects(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"nbformat": 3, "worksheets": []}`, "only version 4"},
		{`not json`, "not a notebook"},
		{`{"cells": []}`, "no nbformat"},
		{`{"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "weird", "source": ""}]}`, `cell 1: unknown cell type "weird"`},
	} {
		_, err := Read(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read(%s): err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestInjectAsPapermill(t *testing.T) {
	nb, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(nb.Declared(), ","); got != "alpha,name,epochs" {
		t.Errorf("Declared() = %q", got)
	}
	has, err := nb.Inject([]Param{{"alpha", 0.9}})
	if err != nil || !has {
		t.Fatalf("Inject: %v, %v", has, err)
	}
	c := nb.Cells[2]
	if !c.HasTag(InjectedTag) || c.Source != "// Parameters\nvar alpha = 0.9\n" || c.ID == "" {
		t.Fatalf("cell after the parameters cell: %+v", c)
	}
	// Again: the injected cell is replaced, not added.
	if _, err := nb.Inject([]Param{{"alpha", 0.1}}); err != nil {
		t.Fatal(err)
	}
	if len(nb.Cells) != 5 || nb.Cells[2].Source != "// Parameters\nvar alpha = 0.1\n" {
		t.Errorf("second injection: %d cells, cell 3 %q", len(nb.Cells), nb.Cells[2].Source)
	}
	// No parameters cell: at the top.
	nb.Cells = nb.Cells[3:]
	has, err = nb.Inject([]Param{{"x", "y"}})
	if err != nil || has || !nb.Cells[0].HasTag(InjectedTag) {
		t.Errorf("no parameters cell: has=%v err=%v first=%+v", has, err, nb.Cells[0])
	}
}

func TestHTML(t *testing.T) {
	nb, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := HTML(&b, nb, "t <1>"); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	for _, want := range []string{"<title>t &lt;1&gt;</title>", "<h1>Title</h1>", "<b>bold</b>", "In [2]:",
		`<pre class="stream stdout">a` + "\nb\n</pre>", "<i>x</i>", "E: bad &lt;x&gt;", "raw &amp; text",
		"fmt.Println(alpha)", "In [ ]:"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(h, "\x1b") {
		t.Error("HTML keeps ANSI escapes")
	}
}
