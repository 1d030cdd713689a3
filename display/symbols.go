package display

import "reflect"

// Symbols returns the symbol table that makes this package importable as
// "gantry/display" by a yaegi interpreter, in the form its Use method
// takes:
//
//	i := interp.New(interp.Options{})
//	i.Use(stdlib.Symbols)
//	i.Use(display.Symbols(display.New(p)))
//
// Under the key "gantry/display/display" are the constructors, Render, the
// MIME type constants, the types Bundle, MIMEBundler, HTMLer, Markdowner
// and SVGer, the interface wrappers yaegi needs for values of cell types
// to satisfy those interfaces (named with a leading underscore, as
// yaegi's extract tool names them), and Show, ShowID, Update, NewID and
// Clear bound to d's methods. Cells cannot reach New, Display or Publisher.
//
// Under the key "." is yaegi's MapTypes entry for Show, ShowID, Update and
// Render. It tells the interpreter to pass a value of a cell type to them
// wrapped as the first of MIMEBundler, HTMLer, Markdowner, SVGer, error
// and fmt.Stringer it implements, so that they can call its methods;
// without it they would receive the value's bare fields.
func Symbols(d *Display) map[string]map[string]reflect.Value {
	show := reflect.ValueOf(d.Show)
	showID := reflect.ValueOf(d.ShowID)
	update := reflect.ValueOf(d.Update)
	render := reflect.ValueOf(Render)

	// Wrapper types, most specific first: the interpreter wraps a value
	// as the first interface that its type implements.
	wrapAs := []reflect.Type{
		reflect.TypeFor[MIMEBundler](),
		reflect.TypeFor[HTMLer](),
		reflect.TypeFor[Markdowner](),
		reflect.TypeFor[SVGer](),
		reflect.TypeFor[error](),
		reflect.TypeFor[stringer](),
	}

	return map[string]map[string]reflect.Value{
		"gantry/display/display": {
			// Constructors.
			"Text":     reflect.ValueOf(Text),
			"HTML":     reflect.ValueOf(HTML),
			"Markdown": reflect.ValueOf(Markdown),
			"LaTeX":    reflect.ValueOf(LaTeX),
			"SVG":      reflect.ValueOf(SVG),
			"JSON":     reflect.ValueOf(JSON),
			"PNG":      reflect.ValueOf(PNG),
			"JPEG":     reflect.ValueOf(JPEG),
			"GIF":      reflect.ValueOf(GIF),
			"Image":    reflect.ValueOf(Image),
			"Render":   render,

			// Constants.
			"MIMEPlain":    reflect.ValueOf(MIMEPlain),
			"MIMEHTML":     reflect.ValueOf(MIMEHTML),
			"MIMEMarkdown": reflect.ValueOf(MIMEMarkdown),
			"MIMELaTeX":    reflect.ValueOf(MIMELaTeX),
			"MIMEJSON":     reflect.ValueOf(MIMEJSON),
			"MIMEPNG":      reflect.ValueOf(MIMEPNG),
			"MIMEJPEG":     reflect.ValueOf(MIMEJPEG),
			"MIMEGIF":      reflect.ValueOf(MIMEGIF),
			"MIMESVG":      reflect.ValueOf(MIMESVG),

			// Types.
			"Bundle":      reflect.ValueOf((*Bundle)(nil)),
			"MIMEBundler": reflect.ValueOf((*MIMEBundler)(nil)),
			"HTMLer":      reflect.ValueOf((*HTMLer)(nil)),
			"Markdowner":  reflect.ValueOf((*Markdowner)(nil)),
			"SVGer":       reflect.ValueOf((*SVGer)(nil)),

			// Interface wrappers.
			"_MIMEBundler": reflect.ValueOf((*wrapMIMEBundler)(nil)),
			"_HTMLer":      reflect.ValueOf((*wrapHTMLer)(nil)),
			"_Markdowner":  reflect.ValueOf((*wrapMarkdowner)(nil)),
			"_SVGer":       reflect.ValueOf((*wrapSVGer)(nil)),
			"_stringer":    reflect.ValueOf((*wrapStringer)(nil)),

			// Functions bound to d.
			"Show":   show,
			"ShowID": showID,
			"Update": update,
			"NewID":  reflect.ValueOf(d.NewID),
			"Clear":  reflect.ValueOf(d.Clear),
		},
		".": {
			"MapTypes": reflect.ValueOf(map[reflect.Value][]reflect.Type{
				show:   wrapAs,
				showID: wrapAs,
				update: wrapAs,
				render: wrapAs,
			}),
		},
	}
}

// stringer is fmt.Stringer, declared here so that its yaegi wrapper is in
// this package's symbols and does not depend on those of package fmt.
type stringer interface {
	String() string
}

// The wrap types below are yaegi interface wrappers: when a value of an
// interpreted type is converted to one of the interfaces, yaegi stores the
// value in IValue and its methods in the W fields. The layout (IValue
// first, then one field per method named W+method) is what yaegi expects.

// unwrap returns the value that v wraps if it is a yaegi interface wrapper
// (this package's, or another, such as the interpreter's for error), and v
// otherwise.
func unwrap(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct || rv.NumField() < 2 {
		return v
	}
	t := rv.Type()
	if f := t.Field(0); f.Name != "IValue" || f.Type.Kind() != reflect.Interface {
		return v
	}
	for i := 1; i < t.NumField(); i++ {
		if f := t.Field(i); f.Name[0] != 'W' || f.Type.Kind() != reflect.Func {
			return v
		}
	}
	return rv.Field(0).Interface()
}

type wrapMIMEBundler struct {
	IValue      any
	WMIMEBundle func() Bundle
}

func (w wrapMIMEBundler) MIMEBundle() Bundle {
	if w.WMIMEBundle == nil {
		return Bundle{}
	}
	return w.WMIMEBundle()
}

type wrapHTMLer struct {
	IValue any
	WHTML  func() string
}

func (w wrapHTMLer) HTML() string {
	if w.WHTML == nil {
		return ""
	}
	return w.WHTML()
}

type wrapMarkdowner struct {
	IValue    any
	WMarkdown func() string
}

func (w wrapMarkdowner) Markdown() string {
	if w.WMarkdown == nil {
		return ""
	}
	return w.WMarkdown()
}

type wrapSVGer struct {
	IValue any
	WSVG   func() string
}

func (w wrapSVGer) SVG() string {
	if w.WSVG == nil {
		return ""
	}
	return w.WSVG()
}

type wrapStringer struct {
	IValue  any
	WString func() string
}

func (w wrapStringer) String() string {
	if w.WString == nil {
		return ""
	}
	return w.WString()
}
