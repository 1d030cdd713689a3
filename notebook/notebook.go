// Package notebook reads, parameterizes, writes and exports Jupyter
// notebooks (nbformat 4): the document side of running a notebook
// headless, which package nbrun does.
//
// Parameters follow papermill: their values are injected as a new code
// cell tagged "injected-parameters" right after the first cell tagged
// "parameters" (at the top when there is none), replacing an injected cell
// a previous run left. The cell's source is written for the notebook's
// language by [Translate]: Go for Gantry notebooks, with exactly the
// translation of Gantry's papermill translator (papermill/ in the
// repository), and Python as papermill writes it.
package notebook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Notebook is an nbformat 4 document. Metadata keeps whatever the file
// had, so a notebook read and written again loses nothing of it.
type Notebook struct {
	Metadata    map[string]json.RawMessage
	FormatMinor int // nbformat_minor; the major version is always 4
	Cells       []*Cell
}

// Cell types.
const (
	Code     = "code"
	Markdown = "markdown"
	Raw      = "raw"
)

// Cell is one cell of a notebook.
type Cell struct {
	ID       string // nbformat 4.5 and later
	Type     string // Code, Markdown or Raw
	Metadata map[string]json.RawMessage
	Source   string
	// Code cells only.
	ExecutionCount *int
	Outputs        []*Output
	// Markdown and raw cells only: attached files, kept as they were.
	Attachments json.RawMessage
}

// Output types.
const (
	Stream        = "stream"
	DisplayData   = "display_data"
	ExecuteResult = "execute_result"
	Error         = "error"
)

// Output is one output of a code cell.
type Output struct {
	Type string
	// Stream: "stdout" or "stderr", and the text.
	Name, Text string
	// DisplayData and ExecuteResult: MIME type to value (a JSON string,
	// or any JSON value for JSON types such as application/json).
	Data     map[string]json.RawMessage
	Metadata map[string]json.RawMessage
	// ExecuteResult only.
	ExecutionCount *int
	// Error.
	EName, EValue string
	Traceback     []string
	// DisplayID is the transient display_id of a display, which later
	// updates name; it is not written to the file.
	DisplayID string
}

// ReadFile reads the notebook at path.
func ReadFile(path string) (*Notebook, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read notebook: %w", err)
	}
	nb, err := Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read notebook %s: %w", path, err)
	}
	return nb, nil
}

// Read decodes a notebook; only nbformat 4 is read.
func Read(r io.Reader) (*Notebook, error) {
	var f struct {
		Format      *int                       `json:"nbformat"`
		FormatMinor int                        `json:"nbformat_minor"`
		Metadata    map[string]json.RawMessage `json:"metadata"`
		Cells       []json.RawMessage          `json:"cells"`
	}
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("not a notebook (JSON): %w", err)
	}
	if f.Format == nil {
		return nil, errors.New("not a notebook: no nbformat field")
	}
	if *f.Format != 4 {
		return nil, fmt.Errorf("nbformat %d: only version 4 notebooks are read; convert it with jupyter nbconvert --to notebook", *f.Format)
	}
	nb := &Notebook{Metadata: f.Metadata, FormatMinor: f.FormatMinor}
	if nb.Metadata == nil {
		nb.Metadata = map[string]json.RawMessage{}
	}
	for i, raw := range f.Cells {
		c, err := readCell(raw)
		if err != nil {
			return nil, fmt.Errorf("cell %d: %w", i+1, err)
		}
		nb.Cells = append(nb.Cells, c)
	}
	return nb, nil
}

// multiline is a string that nbformat may store as a list of lines.
type multiline string

func (m *multiline) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*m = multiline(s)
		return nil
	}
	var lines []string
	if err := json.Unmarshal(b, &lines); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*m = multiline(strings.Join(lines, ""))
	return nil
}

func readCell(raw json.RawMessage) (*Cell, error) {
	var f struct {
		ID             string                     `json:"id"`
		Type           string                     `json:"cell_type"`
		Metadata       map[string]json.RawMessage `json:"metadata"`
		Source         multiline                  `json:"source"`
		ExecutionCount *int                       `json:"execution_count"`
		Outputs        []json.RawMessage          `json:"outputs"`
		Attachments    json.RawMessage            `json:"attachments"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	switch f.Type {
	case Code, Markdown, Raw:
	default:
		return nil, fmt.Errorf("unknown cell type %q", f.Type)
	}
	c := &Cell{ID: f.ID, Type: f.Type, Metadata: f.Metadata, Source: string(f.Source)}
	if c.Metadata == nil {
		c.Metadata = map[string]json.RawMessage{}
	}
	if c.Type != Code {
		c.Attachments = f.Attachments
		return c, nil
	}
	c.ExecutionCount = f.ExecutionCount
	for i, o := range f.Outputs {
		out, err := readOutput(o)
		if err != nil {
			return nil, fmt.Errorf("output %d: %w", i+1, err)
		}
		c.Outputs = append(c.Outputs, out)
	}
	return c, nil
}

func readOutput(raw json.RawMessage) (*Output, error) {
	var f struct {
		Type           string                     `json:"output_type"`
		Name           string                     `json:"name"`
		Text           multiline                  `json:"text"`
		Data           map[string]json.RawMessage `json:"data"`
		Metadata       map[string]json.RawMessage `json:"metadata"`
		ExecutionCount *int                       `json:"execution_count"`
		EName          string                     `json:"ename"`
		EValue         string                     `json:"evalue"`
		Traceback      []string                   `json:"traceback"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	o := &Output{Type: f.Type, Name: f.Name, Text: string(f.Text), Metadata: f.Metadata,
		ExecutionCount: f.ExecutionCount, EName: f.EName, EValue: f.EValue, Traceback: f.Traceback}
	if len(f.Data) > 0 {
		o.Data = map[string]json.RawMessage{}
		for mime, v := range f.Data {
			var m multiline
			if !isJSONMime(mime) && m.UnmarshalJSON(v) == nil {
				v, _ = json.Marshal(string(m))
			}
			o.Data[mime] = v
		}
	}
	return o, nil
}

// isJSONMime reports whether values of mime are JSON values rather than
// text (application/json, application/*+json).
func isJSONMime(mime string) bool {
	return mime == "application/json" || strings.HasPrefix(mime, "application/") && strings.HasSuffix(mime, "+json")
}

// MIMEText returns the value of mime as text, if the output has it and
// it is a string.
func (o *Output) MIMEText(mime string) (string, bool) {
	v, ok := o.Data[mime]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// WriteFile writes nb to path, through a temporary file renamed into
// place, so a reader never sees half a notebook.
func WriteFile(path string, nb *Notebook) error {
	var b bytes.Buffer
	if err := Write(&b, nb); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write notebook: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write notebook: %w", err)
	}
	return nil
}

// Write encodes nb as nbformat writes it: keys sorted, one-space indent,
// multi-line strings as lists of lines.
func Write(w io.Writer, nb *Notebook) error {
	cells := make([]any, 0, len(nb.Cells))
	for _, c := range nb.Cells {
		cells = append(cells, c.encode(nb.FormatMinor))
	}
	meta := nb.Metadata
	if meta == nil {
		meta = map[string]json.RawMessage{}
	}
	doc := map[string]any{"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": nb.FormatMinor}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write notebook: %w", err)
	}
	return nil
}

func (c *Cell) encode(minor int) map[string]any {
	meta := c.Metadata
	if meta == nil {
		meta = map[string]json.RawMessage{}
	}
	m := map[string]any{"cell_type": c.Type, "metadata": meta, "source": lines(c.Source)}
	if c.ID != "" && minor >= 5 {
		m["id"] = c.ID
	}
	if c.Type != Code {
		if len(c.Attachments) > 0 {
			m["attachments"] = c.Attachments
		}
		return m
	}
	m["execution_count"] = c.ExecutionCount
	outs := make([]any, 0, len(c.Outputs))
	for _, o := range c.Outputs {
		outs = append(outs, o.encode())
	}
	m["outputs"] = outs
	return m
}

func (o *Output) encode() map[string]any {
	m := map[string]any{"output_type": o.Type}
	switch o.Type {
	case Stream:
		m["name"], m["text"] = o.Name, lines(o.Text)
	case DisplayData, ExecuteResult:
		data := map[string]any{}
		for mime, v := range o.Data {
			var s string
			if !isJSONMime(mime) && json.Unmarshal(v, &s) == nil {
				data[mime] = lines(s)
			} else {
				data[mime] = v
			}
		}
		meta := o.Metadata
		if meta == nil {
			meta = map[string]json.RawMessage{}
		}
		m["data"], m["metadata"] = data, meta
		if o.Type == ExecuteResult {
			m["execution_count"] = o.ExecutionCount
		}
	case Error:
		tb := o.Traceback
		if tb == nil {
			tb = []string{}
		}
		m["ename"], m["evalue"], m["traceback"] = o.EName, o.EValue, tb
	}
	return m
}

// lines splits s after each newline, as nbformat stores text.
func lines(s string) []string {
	out := []string{}
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// Tags returns the cell's tags (metadata.tags).
func (c *Cell) Tags() []string {
	var tags []string
	_ = json.Unmarshal(c.Metadata["tags"], &tags)
	return tags
}

// HasTag reports whether the cell is tagged tag.
func (c *Cell) HasTag(tag string) bool {
	for _, t := range c.Tags() {
		if t == tag {
			return true
		}
	}
	return false
}

// Kernel returns the name of the notebook's kernelspec and its language
// (metadata.kernelspec, else metadata.language_info.name), "" where the
// notebook does not say.
func (nb *Notebook) Kernel() (name, language string) {
	var ks struct {
		Name     string `json:"name"`
		Language string `json:"language"`
	}
	_ = json.Unmarshal(nb.Metadata["kernelspec"], &ks)
	var li struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(nb.Metadata["language_info"], &li)
	language = ks.Language
	if language == "" {
		language = li.Name
	}
	return ks.Name, language
}

// SetMetadata sets the notebook's metadata key to v, encoded as JSON.
func (nb *Notebook) SetMetadata(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("notebook metadata %s: %w", key, err)
	}
	if nb.Metadata == nil {
		nb.Metadata = map[string]json.RawMessage{}
	}
	nb.Metadata[key] = b
	return nil
}
