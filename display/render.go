package display

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"reflect"
)

// A MIMEBundler renders itself as a bundle of any MIME types.
// If the bundle has no text/plain entry, [Render] adds one.
type MIMEBundler interface {
	MIMEBundle() Bundle
}

// An HTMLer renders itself as an HTML fragment.
type HTMLer interface {
	HTML() string
}

// A Markdowner renders itself as Markdown.
type Markdowner interface {
	Markdown() string
}

// An SVGer renders itself as an SVG document.
type SVGer interface {
	SVG() string
}

// Render returns the bundle that shows v. It is what Show publishes and
// what a cell's trailing expression displays. In order:
//
//   - a Bundle (or non-nil *Bundle) is returned as it is;
//   - a [MIMEBundler], [HTMLer], [Markdowner] or [SVGer], tried in that
//     order, gives the bundle of its method's result;
//   - a []byte holding a PNG, JPEG, GIF or SVG file gives [Image];
//   - an [image.Image] is encoded as PNG;
//   - an error gives its Error text, a [fmt.Stringer] its String text;
//   - a value whose kind is string is quoted, as by %q;
//   - nil gives "<nil>", and anything else is formatted with %+v.
//
// If a method Render calls panics, the result is a text bundle holding
// the panic in the style of package fmt, "%!v(PANIC=HTML method: ...)",
// or "<nil>" if v is a nil pointer.
func Render(v any) Bundle {
	switch x := v.(type) {
	case Bundle:
		return x
	case *Bundle:
		if x != nil {
			return *x
		}
	case MIMEBundler:
		return protect(v, "MIMEBundle", func() Bundle { return withPlain(x.MIMEBundle(), v) })
	case HTMLer:
		return protect(v, "HTML", func() Bundle { return HTML(x.HTML()) })
	case Markdowner:
		return protect(v, "Markdown", func() Bundle { return Markdown(x.Markdown()) })
	case SVGer:
		return protect(v, "SVG", func() Bundle { return SVG(x.SVG()) })
	case []byte:
		if sniff(x) != "" {
			return Image(x)
		}
	case image.Image:
		if b, ok := encodePNG(x); ok {
			return b
		}
	}
	switch x := v.(type) {
	case error:
		return protect(v, "Error", func() Bundle { return Text(x.Error()) })
	case fmt.Stringer:
		return protect(v, "String", func() Bundle { return Text(x.String()) })
	}
	return Text(textOf(v))
}

// protect returns f(), or, if f panics, a text bundle describing the panic
// of v's method name.
func protect(v any, name string, f func() Bundle) (b Bundle) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if rv := reflect.ValueOf(unwrap(v)); rv.Kind() == reflect.Pointer && rv.IsNil() {
			b = Text("<nil>")
			return
		}
		b = Text(fmt.Sprintf("%%!v(PANIC=%s method: %v)", name, r))
	}()
	return f()
}

// encodePNG returns a PNG bundle of m, or false if m cannot be encoded.
func encodePNG(m image.Image) (b Bundle, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		return Bundle{}, false
	}
	return PNG(buf.Bytes()), true
}

// withPlain returns b with a text/plain entry for v if it has none.
func withPlain(b Bundle, v any) Bundle {
	if _, ok := b.Data[MIMEPlain]; ok {
		return b
	}
	data := make(map[string]any, len(b.Data)+1)
	for k, e := range b.Data {
		data[k] = e
	}
	data[MIMEPlain] = textOf(v)
	return Bundle{Data: data, Metadata: b.Metadata}
}

// textOf formats v for text/plain: strings quoted, other values with %+v.
// Package fmt calls v's Error or String method if it has one, and reports
// a panic in it.
func textOf(v any) string {
	v = unwrap(v)
	if v == nil {
		return "<nil>"
	}
	if reflect.ValueOf(v).Kind() == reflect.String {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%+v", v)
}
