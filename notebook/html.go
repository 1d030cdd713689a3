package notebook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
)

// markdown renders Markdown as JupyterLab does: GitHub's flavour, HTML in
// it kept.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))

// ansi matches the terminal colour codes of tracebacks.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// StripANSI removes terminal escape codes from s.
func StripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

// HTML writes nb as one self-contained HTML page: Markdown cells
// rendered, code cells with their source and outputs, images inline. As
// nbconvert does by default, HTML that the notebook's cells or outputs
// carry is kept as it is: export only notebooks you trust to a place
// others open.
func HTML(w io.Writer, nb *Notebook, title string) error {
	type cellView struct {
		Kind    string
		Prompt  string
		Source  string
		Body    template.HTML
		Outputs []template.HTML
	}
	var cells []cellView
	for _, c := range nb.Cells {
		v := cellView{Kind: c.Type, Source: c.Source}
		switch c.Type {
		case Markdown:
			var b bytes.Buffer
			if err := markdown.Convert([]byte(c.Source), &b); err != nil {
				return fmt.Errorf("render markdown: %w", err)
			}
			v.Body = template.HTML(b.String())
		case Code:
			v.Prompt = "In [ ]:"
			if c.ExecutionCount != nil {
				v.Prompt = fmt.Sprintf("In [%d]:", *c.ExecutionCount)
			}
			for _, o := range c.Outputs {
				v.Outputs = append(v.Outputs, outputHTML(o))
			}
		}
		cells = append(cells, v)
	}
	return page.Execute(w, map[string]any{"Title": title, "Cells": cells})
}

// outputHTML renders one output, choosing its richest MIME type as
// JupyterLab does.
func outputHTML(o *Output) template.HTML {
	esc := template.HTMLEscapeString
	switch o.Type {
	case Stream:
		return template.HTML(`<pre class="stream ` + esc(o.Name) + `">` + esc(o.Text) + `</pre>`)
	case Error:
		text := o.EName + ": " + o.EValue
		if len(o.Traceback) > 0 {
			text = strings.Join(o.Traceback, "\n")
		}
		return template.HTML(`<pre class="error">` + esc(StripANSI(text)) + `</pre>`)
	}
	if s, ok := o.MIMEText("text/html"); ok {
		return template.HTML(`<div class="html">` + s + `</div>`)
	}
	if s, ok := o.MIMEText("image/svg+xml"); ok {
		return template.HTML(`<div class="svg">` + s + `</div>`)
	}
	for _, mime := range []string{"image/png", "image/jpeg", "image/gif"} {
		if s, ok := o.MIMEText(mime); ok {
			return template.HTML(`<img src="data:` + mime + `;base64,` + esc(strings.TrimSpace(s)) + `">`)
		}
	}
	if s, ok := o.MIMEText("text/markdown"); ok {
		var b bytes.Buffer
		if markdown.Convert([]byte(s), &b) == nil {
			return template.HTML(`<div class="markdown">` + b.String() + `</div>`)
		}
	}
	if v, ok := o.Data["application/json"]; ok {
		var b bytes.Buffer
		if json.Indent(&b, v, "", "  ") == nil {
			return template.HTML(`<pre class="json">` + esc(b.String()) + `</pre>`)
		}
	}
	if s, ok := o.MIMEText("text/plain"); ok {
		return template.HTML(`<pre class="result">` + esc(StripANSI(s)) + `</pre>`)
	}
	return ""
}

var page = template.Must(template.New("notebook").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }
.cell { margin: 1em 0; }
.prompt { font: 12px monospace; color: #307fc1; }
pre { margin: 0; padding: .5em; overflow-x: auto; white-space: pre-wrap; font: 13px/1.4 monospace; }
pre.source { background: #f5f5f5; border: 1px solid #e0e0e0; border-radius: 3px; }
pre.stderr { background: #fff5f5; }
pre.error { background: #fdd; }
.outputs img { max-width: 100%; }
.outputs > * { margin-top: .25em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2em .5em; }
</style>
</head>
<body>
{{range .Cells}}<div class="cell {{.Kind}}">
{{- if eq .Kind "markdown"}}{{.Body}}
{{- else if eq .Kind "code"}}
<div class="prompt">{{.Prompt}}</div>
<pre class="source">{{.Source}}</pre>
<div class="outputs">{{range .Outputs}}
{{.}}{{end}}
</div>
{{- else}}<pre class="raw">{{.Source}}</pre>{{end}}
</div>
{{end}}</body>
</html>
`))
