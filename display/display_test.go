package display_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"gantry/display"
)

// keys returns the MIME types of b, sorted.
func keys(b display.Bundle) []string {
	ks := make([]string, 0, len(b.Data))
	for k := range b.Data {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		name  string
		b     display.Bundle
		mime  string // the rich type, "" for text only
		data  any    // b.Data[mime]
		plain string
	}{
		{"Text", display.Text("hi\nthere"), "", nil, "hi\nthere"},
		{"HTML", display.HTML("<b>x</b> &amp; <i>y</i>"), "text/html", "<b>x</b> &amp; <i>y</i>", "x & y"},
		{"HTML/cells", display.HTML("<table><tr><td>a</td><td>b</td></tr></table>"), "text/html", "<table><tr><td>a</td><td>b</td></tr></table>", "a b"},
		{"HTML/no text", display.HTML("<hr/>"), "text/html", "<hr/>", "<HTML>"},
		{"HTML/unclosed tag", display.HTML("a <b"), "text/html", "a <b", "a"},
		{"Markdown", display.Markdown("# T\n*x*"), "text/markdown", "# T\n*x*", "# T\n*x*"},
		{"LaTeX", display.LaTeX(`$\frac{1}{2}$`), "text/latex", `$\frac{1}{2}$`, `$\frac{1}{2}$`},
		{"SVG", display.SVG(`<svg width="1"/>`), "image/svg+xml", `<svg width="1"/>`, "<SVG image, 16 bytes>"},
		{"JSON", display.JSON(map[string]any{"a": []int{1, 2}}), "application/json",
			map[string]any{"a": []any{int64(1), int64(2)}}, "{\n  \"a\": [\n    1,\n    2\n  ]\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := []string{"text/plain"}
			if tt.mime != "" {
				want = append(want, tt.mime)
				slices.Sort(want)
			}
			if got := keys(tt.b); !slices.Equal(got, want) {
				t.Errorf("MIME types = %q, want %q", got, want)
			}
			if tt.mime != "" && !reflect.DeepEqual(tt.b.Data[tt.mime], tt.data) {
				t.Errorf("Data[%q] = %#v, want %#v", tt.mime, tt.b.Data[tt.mime], tt.data)
			}
			if got := tt.b.Plain(); got != tt.plain {
				t.Errorf("Plain() = %q, want %q", got, tt.plain)
			}
		})
	}
}

type jsonTagged struct {
	Name  string  `json:"name"`
	Big   int64   `json:"big"`
	Ratio float64 `json:"ratio"`
	Skip  string  `json:"-"`
}

func TestJSON(t *testing.T) {
	tests := []struct {
		name  string
		v     any
		data  any
		plain string
	}{
		{"struct tags", jsonTagged{Name: "n", Big: 1 << 60, Ratio: 0.5, Skip: "s"},
			map[string]any{"name": "n", "big": int64(1 << 60), "ratio": 0.5},
			"{\n  \"name\": \"n\",\n  \"big\": 1152921504606846976,\n  \"ratio\": 0.5\n}"},
		{"scalar", 3, int64(3), "3"},
		{"null", nil, nil, "null"},
		{"array", []string{"a"}, []any{"a"}, "[\n  \"a\"\n]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := display.JSON(tt.v)
			data, ok := b.Data["application/json"]
			if !ok {
				t.Fatalf("no application/json in %v", b.Data)
			}
			if !reflect.DeepEqual(data, tt.data) {
				t.Errorf("application/json = %#v, want %#v", data, tt.data)
			}
			if got := b.Plain(); got != tt.plain {
				t.Errorf("Plain() = %q, want %q", got, tt.plain)
			}
		})
	}

	b := display.JSON(make(chan int))
	if got := keys(b); !slices.Equal(got, []string{"text/plain"}) {
		t.Errorf("JSON(chan): MIME types = %q, want text/plain only", got)
	}
	if got, want := b.Plain(), "display.JSON: json: unsupported type: chan int"; got != want {
		t.Errorf("JSON(chan).Plain() = %q, want %q", got, want)
	}
}

// testImage returns a w×h image with some colour in it.
func testImage(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		m.Set(x, 0, color.RGBA{R: 255, A: 255})
	}
	return m
}

func encode(t *testing.T, enc func(*bytes.Buffer, image.Image) error, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := enc(&buf, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImages(t *testing.T) {
	pngData := encode(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }, 5, 3)
	jpegData := encode(t, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) }, 7, 2)
	gifData := encode(t, func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) }, 4, 9)
	const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`

	tests := []struct {
		name  string
		b     display.Bundle
		mime  string // "" for a text bundle
		data  []byte
		w, h  int
		plain string // for a text bundle, a substring of its text
	}{
		{"PNG", display.PNG(pngData), "image/png", pngData, 5, 3, "<PNG image 5x3, "},
		{"JPEG", display.JPEG(jpegData), "image/jpeg", jpegData, 7, 2, "<JPEG image 7x2, "},
		{"GIF", display.GIF(gifData), "image/gif", gifData, 4, 9, "<GIF image 4x9, "},
		{"Image/PNG", display.Image(pngData), "image/png", pngData, 5, 3, "<PNG image 5x3, "},
		{"Image/JPEG", display.Image(jpegData), "image/jpeg", jpegData, 7, 2, "<JPEG image 7x2, "},
		{"Image/GIF", display.Image(gifData), "image/gif", gifData, 4, 9, "<GIF image 4x9, "},
		{"Image/SVG", display.Image([]byte(svg)), "image/svg+xml", []byte(svg), 0, 0, "<SVG image, "},
		{"Image/SVG with prolog", display.Image([]byte("\ufeff<?xml version=\"1.0\"?>\n<!-- c -->\n" + svg)), "image/svg+xml", nil, 0, 0, "<SVG image, "},
		{"PNG/invalid", display.PNG([]byte("not an image")), "", nil, 0, 0, "not a PNG image"},
		{"PNG/empty", display.PNG(nil), "", nil, 0, 0, "not a PNG image"},
		{"PNG/truncated", display.PNG(pngData[:20]), "", nil, 0, 0, "not a PNG image"},
		{"PNG/of JPEG", display.PNG(jpegData), "", nil, 0, 0, "not a PNG image"},
		{"JPEG/of PNG", display.JPEG(pngData), "", nil, 0, 0, "not a JPEG image"},
		{"GIF/invalid", display.GIF([]byte("GIF89a")), "", nil, 0, 0, "not a GIF image"},
		{"Image/unknown", display.Image([]byte("hello")), "", nil, 0, 0, "not an image in a known format"},
		{"Image/HTML", display.Image([]byte("<html><svg/></html>")), "", nil, 0, 0, "not an image in a known format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.b.Plain(), tt.plain) {
				t.Errorf("Plain() = %q, want it to contain %q", tt.b.Plain(), tt.plain)
			}
			if tt.mime == "" {
				if got := keys(tt.b); !slices.Equal(got, []string{"text/plain"}) {
					t.Errorf("MIME types = %q, want text/plain only", got)
				}
				return
			}
			if got, want := keys(tt.b), []string{tt.mime, "text/plain"}; !slices.Equal(got, want) {
				t.Fatalf("MIME types = %q, want %q", got, want)
			}
			s, ok := tt.b.Data[tt.mime].(string)
			if !ok {
				t.Fatalf("Data[%q] is %T, want string", tt.mime, tt.b.Data[tt.mime])
			}
			if tt.mime == "image/svg+xml" {
				if tt.data != nil && s != string(tt.data) {
					t.Errorf("Data[%q] = %q, want %q", tt.mime, s, tt.data)
				}
				return
			}
			got, err := base64.StdEncoding.DecodeString(s)
			if err != nil || !bytes.Equal(got, tt.data) {
				t.Errorf("Data[%q] does not decode to the image: %v", tt.mime, err)
			}
			want := map[string]any{tt.mime: map[string]any{"width": tt.w, "height": tt.h}}
			if !reflect.DeepEqual(tt.b.Metadata, want) {
				t.Errorf("Metadata = %v, want %v", tt.b.Metadata, want)
			}
		})
	}
}

// rich implements every rendering interface, and String.
type rich struct{}

func (rich) MIMEBundle() display.Bundle {
	return display.Bundle{Data: map[string]any{"text/csv": "a,b", "text/plain": "csv"}}
}
func (rich) HTML() string     { return "<b>html</b>" }
func (rich) Markdown() string { return "*md*" }
func (rich) SVG() string      { return "<svg/>" }
func (rich) String() string   { return "string" }

// noBundle implements all but MIMEBundler.
type noBundle struct{}

func (noBundle) HTML() string     { return "<b>html</b>" }
func (noBundle) Markdown() string { return "*md*" }
func (noBundle) SVG() string      { return "<svg/>" }
func (noBundle) Error() string    { return "error" }

// mdSVG implements Markdowner and SVGer.
type mdSVG struct{}

func (mdSVG) Markdown() string { return "*md*" }
func (mdSVG) SVG() string      { return "<svg/>" }

// svgOnly implements SVGer and fmt.Stringer, which comes after it.
type svgOnly struct{}

func (svgOnly) SVG() string    { return "<svg/>" }
func (svgOnly) String() string { return "string" }

// csvOnly's bundle has no text/plain.
type csvOnly struct{ N int }

func (c csvOnly) MIMEBundle() display.Bundle {
	return display.Bundle{Data: map[string]any{"text/csv": "n\n1"}}
}

// panicky's HTML method panics.
type panicky struct{ S string }

func (p *panicky) HTML() string { return p.S } // panics for a nil *panicky

type boom struct{}

func (boom) Markdown() string { panic("boom") }

type errAndString struct{}

func (errAndString) Error() string  { return "error" }
func (errAndString) String() string { return "string" }

type color3 string

type point struct {
	X, Y int
	Tag  string
}

func TestRender(t *testing.T) {
	pngData := encode(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }, 2, 2)
	html := display.HTML("<p>x</p>")

	tests := []struct {
		name  string
		v     any
		mime  []string // MIME types of the result
		plain string
	}{
		{"Bundle", html, []string{"text/html", "text/plain"}, "x"},
		{"*Bundle", &html, []string{"text/html", "text/plain"}, "x"},
		{"nil *Bundle", (*display.Bundle)(nil), []string{"text/plain"}, "<nil>"},
		{"all interfaces: MIMEBundle first", rich{}, []string{"text/csv", "text/plain"}, "csv"},
		{"then HTML", noBundle{}, []string{"text/html", "text/plain"}, "html"},
		{"then Markdown", mdSVG{}, []string{"text/markdown", "text/plain"}, "*md*"},
		{"then SVG", svgOnly{}, []string{"image/svg+xml", "text/plain"}, "<SVG image, 6 bytes>"},
		{"MIMEBundle without text/plain", csvOnly{N: 1}, []string{"text/csv", "text/plain"}, "{N:1}"},
		{"PNG bytes", pngData, []string{"image/png", "text/plain"}, display.PNG(pngData).Plain()},
		{"other bytes", []byte("hi"), []string{"text/plain"}, "[104 105]"},
		{"image.Image", testImage(3, 1), []string{"image/png", "text/plain"}, ""}, // plain: byte count depends on the encoder
		{"empty image.Image", image.NewRGBA(image.Rectangle{}), []string{"text/plain"}, "&{Pix:[] Stride:0 Rect:(0,0)-(0,0)}"},
		{"nil *image.RGBA", (*image.RGBA)(nil), []string{"text/plain"}, "<nil>"},
		{"error", errors.New("bad"), []string{"text/plain"}, "bad"},
		{"error before String", errAndString{}, []string{"text/plain"}, "error"},
		{"Stringer", stringerOnly{}, []string{"text/plain"}, "string"},
		{"string", "a\"b\n", []string{"text/plain"}, `"a\"b\n"`},
		{"string type", color3("red"), []string{"text/plain"}, `"red"`},
		{"struct", point{1, 2, "t"}, []string{"text/plain"}, "{X:1 Y:2 Tag:t}"},
		{"pointer to struct", &point{1, 2, "t"}, []string{"text/plain"}, "&{X:1 Y:2 Tag:t}"},
		{"int", 42, []string{"text/plain"}, "42"},
		{"float", 1.5, []string{"text/plain"}, "1.5"},
		{"map", map[string]int{"b": 2, "a": 1}, []string{"text/plain"}, "map[a:1 b:2]"},
		{"nil", nil, []string{"text/plain"}, "<nil>"},
		{"panicking method", boom{}, []string{"text/plain"}, "%!v(PANIC=Markdown method: boom)"},
		{"nil pointer receiver", (*panicky)(nil), []string{"text/plain"}, "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := display.Render(tt.v)
			if got := keys(b); !slices.Equal(got, tt.mime) {
				t.Errorf("MIME types = %q, want %q", got, tt.mime)
			}
			if tt.plain != "" && b.Plain() != tt.plain {
				t.Errorf("Plain() = %q, want %q", b.Plain(), tt.plain)
			}
		})
	}

	// Adding text/plain must not change the bundle the method returned.
	orig := display.Bundle{Data: map[string]any{"text/csv": "x"}}
	display.Render(bundler(orig))
	if _, ok := orig.Data["text/plain"]; ok {
		t.Error("Render added text/plain to the MIMEBundle method's map")
	}
}

// stringerOnly is a fmt.Stringer and nothing else.
type stringerOnly struct{}

func (stringerOnly) String() string { return "string" }

// bundler returns a fixed bundle.
type bundler display.Bundle

func (b bundler) MIMEBundle() display.Bundle { return display.Bundle(b) }

// call is one call to a recorder.
type call struct {
	Clear  bool
	Wait   bool
	MIME   []string
	Plain  string
	ID     string
	Update bool
}

// recorder is a Publisher that records the calls made to it.
type recorder struct{ calls []call }

func (r *recorder) Publish(b display.Bundle, id string, update bool) {
	r.calls = append(r.calls, call{MIME: keys(b), Plain: b.Plain(), ID: id, Update: update})
}

func (r *recorder) Clear(wait bool) {
	r.calls = append(r.calls, call{Clear: true, Wait: wait})
}

// take returns the calls recorded since the last take.
func (r *recorder) take() []call {
	c := r.calls
	r.calls = nil
	return c
}

var (
	plainOnly = []string{"text/plain"}
	htmlPlain = []string{"text/html", "text/plain"}
)

func TestDisplay(t *testing.T) {
	r := &recorder{}
	d := display.New(r)
	tests := []struct {
		name string
		do   func()
		want []call
	}{
		{"Show nothing", func() { d.Show() }, nil},
		{"Show", func() { d.Show(display.HTML("<b>a</b>"), 2) }, []call{
			{MIME: htmlPlain, Plain: "a"},
			{MIME: plainOnly, Plain: "2"},
		}},
		{"ShowID", func() { d.ShowID("id1", "s") }, []call{{MIME: plainOnly, Plain: `"s"`, ID: "id1"}}},
		{"ShowID without ID", func() { d.ShowID("", 1) }, []call{{MIME: plainOnly, Plain: "1"}}},
		{"Update", func() { d.Update("id1", noBundle{}) }, []call{{MIME: htmlPlain, Plain: "html", ID: "id1", Update: true}}},
		{"Update without ID", func() { d.Update("", 1) }, nil},
		{"Clear", func() { d.Clear(false) }, []call{{Clear: true}}},
		{"Clear wait", func() { d.Clear(true) }, []call{{Clear: true, Wait: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.do()
			if got := r.take(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("calls = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	d := display.New(&recorder{})
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		id := d.NewID()
		if !hex32.MatchString(id) {
			t.Fatalf("NewID() = %q, want 32 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID() returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestSymbols(t *testing.T) {
	syms := display.Symbols(display.New(&recorder{}))
	pkg := syms["gantry/display/display"]
	for _, name := range []string{
		"Text", "HTML", "Markdown", "LaTeX", "SVG", "JSON", "PNG", "JPEG", "GIF", "Image", "Render",
		"Bundle", "MIMEBundler", "HTMLer", "Markdowner", "SVGer",
		"_MIMEBundler", "_HTMLer", "_Markdowner", "_SVGer",
		"Show", "ShowID", "Update", "NewID", "Clear",
	} {
		if !pkg[name].IsValid() {
			t.Errorf("Symbols has no %s", name)
		}
	}
	for _, name := range []string{"New", "Display", "Publisher", "Symbols"} {
		if pkg[name].IsValid() {
			t.Errorf("Symbols exports %s to cells", name)
		}
	}
	// Each wrapper must implement its interface, which yaegi relies on.
	for _, name := range []string{"MIMEBundler", "HTMLer", "Markdowner", "SVGer"} {
		w, i := pkg["_"+name].Type().Elem(), pkg[name].Type().Elem()
		if !w.Implements(i) {
			t.Errorf("_%s (%v) does not implement %v", name, w, i)
		}
	}
	if _, ok := syms["."]["MapTypes"].Interface().(map[reflect.Value][]reflect.Type); !ok {
		t.Error(`Symbols has no MapTypes under "."`)
	}
}

// TestInterpreter runs cells in yaegi and checks what they publish. The
// cells run in order in one interpreter, as in a notebook.
func TestInterpreter(t *testing.T) {
	r := &recorder{}
	i := interp.New(interp.Options{})
	if err := i.Use(stdlib.Symbols); err != nil {
		t.Fatal(err)
	}
	if err := i.Use(display.Symbols(display.New(r))); err != nil {
		t.Fatal(err)
	}
	html := func(plain string) call { return call{MIME: htmlPlain, Plain: plain} }
	text := func(plain string) call { return call{MIME: plainOnly, Plain: plain} }

	tests := []struct {
		cell string
		want []call
	}{
		{`import "gantry/display"`, nil},
		{`import "fmt"`, nil},
		{`display.Show(display.HTML("<b>x</b>"))`, []call{html("x")}},
		{`display.Show(42, "s", display.Markdown("*m*"))`, []call{text("42"), text(`"s"`), {MIME: []string{"text/markdown", "text/plain"}, Plain: "*m*"}}},

		// Cell types offering each interface.
		{`type T struct{ N int }`, nil},
		{`func (t T) HTML() string { return fmt.Sprintf("<i>t%d</i>", t.N) }`, nil},
		{`type P struct{}`, nil},
		{`func (*P) Markdown() string { return "*p*" }`, nil},
		{`type G int`, nil},
		{`func (g G) SVG() string { return fmt.Sprintf("<svg>%d</svg>", int(g)) }`, nil},
		{`type M struct{}`, nil},
		{`func (M) MIMEBundle() display.Bundle { return display.Bundle{Data: map[string]any{"text/csv": "a,b"}} }`, nil},
		{`type E struct{}`, nil},
		{`func (E) Error() string { return "cell error" }`, nil},
		{`type S struct{}`, nil},
		{`func (S) String() string { return "cell string" }`, nil},
		{`type HM struct{}`, nil},
		{`func (HM) HTML() string { return "<b>hm</b>" }`, nil},
		{`func (HM) Markdown() string { return "*hm*" }`, nil},

		{`display.Show(T{1})`, []call{html("t1")}},
		{`t := T{2}`, nil},
		{`display.Show(t, &t)`, []call{html("t2"), html("t2")}},
		{`display.Show(&P{})`, []call{{MIME: []string{"text/markdown", "text/plain"}, Plain: "*p*"}}},
		{`display.Show(G(3))`, []call{{MIME: []string{"image/svg+xml", "text/plain"}, Plain: "<SVG image, 12 bytes>"}}},
		{`display.Show(M{})`, []call{{MIME: []string{"text/csv", "text/plain"}, Plain: "{}"}}},
		{`display.Show(E{}, S{})`, []call{text("cell error"), text("cell string")}},
		{`display.Show(HM{})`, []call{html("hm")}},
		{`for _, x := range []T{{4}, {5}} { display.Show(x) }`, []call{html("t4"), html("t5")}},
		{`display.ShowID("a", T{6})`, []call{{MIME: htmlPlain, Plain: "t6", ID: "a"}}},
		{`display.Update("a", T{7})`, []call{{MIME: htmlPlain, Plain: "t7", ID: "a", Update: true}}},
		{`display.Show(display.Render(T{8}))`, []call{html("t8")}},

		// Through this package's interface types.
		{`var h display.HTMLer = T{9}`, nil},
		{`display.Show(h)`, []call{html("t9")}},
		{`func card(v display.HTMLer) { display.Show(v) }`, nil},
		{`func cards() { a := T{10}; card(a); card(&a) }`, nil},
		{`cards()`, []call{html("t10"), html("t10")}},
		{`func showBundle(b display.Bundle) { display.Show(b) }`, nil},
		{`func bundles() { a := T{11}; showBundle(display.Render(a)) }`, nil},
		{`bundles()`, []call{html("t11")}},

		// Documented limitations: the direct result of a call, and a
		// variable of type any, are formatted as plain text.
		{`func mk() T { return T{12} }`, nil},
		{`display.Show(mk())`, []call{text("{N:12}")}},
		{`var a any = T{13}`, nil},
		{`display.Show(a)`, []call{text("{N:13}")}},

		{`display.Clear(true)`, []call{{Clear: true, Wait: true}}},
	}
	for _, tt := range tests {
		if _, err := i.Eval(tt.cell); err != nil {
			t.Fatalf("%s: %v", tt.cell, err)
		}
		if got := r.take(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.cell, got, tt.want)
		}
	}

	// NewID and ShowID together.
	v, err := i.Eval(`id := display.NewID(); display.ShowID(id, T{14}); id`)
	if err != nil {
		t.Fatal(err)
	}
	id := v.String()
	want := []call{{MIME: htmlPlain, Plain: "t14", ID: id}}
	if got := r.take(); len(id) != 32 || !reflect.DeepEqual(got, want) {
		t.Errorf("NewID and ShowID: id %q, calls %+v, want %+v", id, got, want)
	}
}
