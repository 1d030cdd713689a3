package display

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
)

// MIME types of the bundles this package makes.
const (
	MIMEPlain    = "text/plain"
	MIMEHTML     = "text/html"
	MIMEMarkdown = "text/markdown"
	MIMELaTeX    = "text/latex"
	MIMEJSON     = "application/json"
	MIMEPNG      = "image/png"
	MIMEJPEG     = "image/jpeg"
	MIMEGIF      = "image/gif"
	MIMESVG      = "image/svg+xml"
)

// A Bundle is a MIME bundle: the same content in one or more formats, keyed
// by MIME type, as in Jupyter's display_data message. Text formats are
// strings, binary formats (images) are base64 strings, and
// application/json is a JSON value (map[string]any, []any, string,
// float64, int64, bool or nil).
//
// Metadata is keyed by MIME type too; the image constructors set
// Metadata["image/png"] (and so on) to {"width": w, "height": h}.
//
// Every constructor in this package includes a text/plain entry, which
// clients that cannot show the richer formats display instead.
type Bundle struct {
	Data     map[string]any
	Metadata map[string]any
}

// Plain returns the bundle's text/plain entry, or "" if it has none.
func (b Bundle) Plain() string {
	s, _ := b.Data[MIMEPlain].(string)
	return s
}

// Text returns a bundle holding s as text/plain only.
func Text(s string) Bundle {
	return Bundle{Data: map[string]any{MIMEPlain: s}}
}

// HTML returns a bundle holding s as text/html. Its text/plain version is
// the text of s with tags removed, entities decoded and runs of white space
// reduced to one space; it is "<HTML>" if no text remains.
func HTML(s string) Bundle {
	plain := htmlText(s)
	if plain == "" {
		plain = "<HTML>"
	}
	return Bundle{Data: map[string]any{MIMEHTML: s, MIMEPlain: plain}}
}

// htmlText returns the text of the HTML fragment s, for a text/plain
// version of it.
func htmlText(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		b.WriteByte(' ') // tags separate words (<td>a</td><td>b</td>)
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		s = s[i+j+1:]
	}
	return strings.Join(strings.Fields(html.UnescapeString(b.String())), " ")
}

// Markdown returns a bundle holding s as text/markdown, and s itself as
// its text/plain version.
func Markdown(s string) Bundle {
	return Bundle{Data: map[string]any{MIMEMarkdown: s, MIMEPlain: s}}
}

// LaTeX returns a bundle holding s as text/latex, and s itself as its
// text/plain version. s is passed on as given: write math between $ or $$
// signs, as the notebook expects, for example LaTeX(`$\sqrt{2}$`).
func LaTeX(s string) Bundle {
	return Bundle{Data: map[string]any{MIMELaTeX: s, MIMEPlain: s}}
}

// SVG returns a bundle holding the SVG document s as image/svg+xml. Its
// text/plain version is "<SVG image, N bytes>".
func SVG(s string) Bundle {
	return Bundle{Data: map[string]any{
		MIMESVG:   s,
		MIMEPlain: fmt.Sprintf("<SVG image, %d bytes>", len(s)),
	}}
}

// JSON returns a bundle holding v, marshaled as by [json.Marshal], as
// application/json, and the indented JSON text as its text/plain version.
// Notebooks show application/json as a tree that can be folded. If v
// cannot be marshaled, JSON returns a text bundle describing the error.
func JSON(v any) Bundle {
	text, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return Text("display.JSON: " + err.Error())
	}
	// Carry the JSON value itself, not v, so that the bundle holds what
	// the client will read whatever v's type and its JSON methods.
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	var data any
	if err := d.Decode(&data); err != nil {
		return Text("display.JSON: " + err.Error())
	}
	return Bundle{Data: map[string]any{MIMEJSON: jsonNumbers(data), MIMEPlain: string(text)}}
}

// jsonNumbers replaces each json.Number in v, decoded with UseNumber, by an
// int64 when it is an integer that fits and by a float64 otherwise.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonNumbers(e)
		}
	}
	return v
}

// PNG returns a bundle holding the PNG file b as image/png, with the
// image's width and height, read from its header, in the metadata. If b is
// not a PNG file, PNG returns a text bundle saying so.
func PNG(b []byte) Bundle {
	return encoded(b, MIMEPNG, "PNG", png.DecodeConfig)
}

// JPEG returns a bundle holding the JPEG file b as image/jpeg, with the
// image's width and height, read from its header, in the metadata. If b is
// not a JPEG file, JPEG returns a text bundle saying so.
func JPEG(b []byte) Bundle {
	return encoded(b, MIMEJPEG, "JPEG", jpeg.DecodeConfig)
}

// GIF returns a bundle holding the GIF file b as image/gif, with the
// image's width and height, read from its header, in the metadata. An
// animated GIF plays in the notebook. If b is not a GIF file, GIF returns a
// text bundle saying so.
func GIF(b []byte) Bundle {
	return encoded(b, MIMEGIF, "GIF", gif.DecodeConfig)
}

// encoded returns the bundle for the image file b of the given MIME type,
// whose header decodeConfig reads.
func encoded(b []byte, mime, name string, decodeConfig func(r io.Reader) (image.Config, error)) Bundle {
	c, err := decodeConfig(bytes.NewReader(b))
	if err != nil {
		return Text(fmt.Sprintf("<not a %s image: %d bytes: %v>", name, len(b), err))
	}
	return Bundle{
		Data: map[string]any{
			mime:      base64.StdEncoding.EncodeToString(b),
			MIMEPlain: fmt.Sprintf("<%s image %dx%d, %d bytes>", name, c.Width, c.Height, len(b)),
		},
		Metadata: map[string]any{
			mime: map[string]any{"width": c.Width, "height": c.Height},
		},
	}
}

// Image returns a bundle for the image file b, whose format it finds from
// the content: PNG, JPEG, GIF or SVG. Otherwise it returns a text bundle
// saying the format is not recognized.
func Image(b []byte) Bundle {
	switch sniff(b) {
	case MIMEPNG:
		return PNG(b)
	case MIMEJPEG:
		return JPEG(b)
	case MIMEGIF:
		return GIF(b)
	case MIMESVG:
		return SVG(string(b))
	}
	return Text(fmt.Sprintf("<not an image in a known format (PNG, JPEG, GIF, SVG): %d bytes>", len(b)))
}

// sniff returns the MIME type of the image file b, or "" if b is not a
// PNG, JPEG, GIF or SVG file.
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return MIMEPNG
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return MIMEJPEG
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return MIMEGIF
	}
	// SVG: an XML document whose root is <svg>, possibly after an XML
	// declaration, a doctype or comments.
	t := bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
	if !bytes.HasPrefix(t, []byte("<")) {
		return ""
	}
	if len(t) > 4096 {
		t = t[:4096]
	}
	if bytes.HasPrefix(t, []byte("<svg")) ||
		(bytes.HasPrefix(t, []byte("<?xml")) || bytes.HasPrefix(t, []byte("<!"))) && bytes.Contains(t, []byte("<svg")) {
		return MIMESVG
	}
	return ""
}
