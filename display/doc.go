// Package display shows rich output (HTML, Markdown, images, JSON, LaTeX)
// in a notebook, in the manner of IPython's display module.
//
// Import it in a cell:
//
//	import "gantry/display"
//
// # Bundles
//
// Output is a [Bundle]: the same content in one or more MIME types, from
// which the notebook picks the richest it can show. Every constructor adds a
// text/plain version for clients that show text only.
//
//	display.HTML("<b>bold</b> & <i>italic</i>")   // text/html
//	display.Markdown("# Title\n\n*some* text")     // text/markdown
//	display.LaTeX(`$e^{i\pi} + 1 = 0$`)            // text/latex
//	display.JSON(map[string]any{"a": []int{1, 2}}) // application/json
//	display.SVG(`<svg ...>...</svg>`)              // image/svg+xml
//	display.PNG(data)                              // image/png, from the file's bytes
//	display.JPEG(data)                             // image/jpeg
//	display.GIF(data)                              // image/gif
//	display.Image(data)                            // PNG, JPEG, GIF or SVG, by content
//	display.Text("plain")                          // text/plain only
//
// A bundle that is the last expression of a cell becomes the cell's
// result:
//
//	display.Markdown("**done** in 3 steps")
//
// To show output from the middle of a cell, or several outputs, use Show:
//
//	data, _ := os.ReadFile("plot.png")
//	display.Show(display.Image(data), display.HTML("<hr>"))
//
// The image constructors take the bytes of an encoded image (a file's
// contents), not pixels. When the bytes are not the format asked for, the
// result is a text bundle that says so, so a bad file shows a message
// rather than a broken image. PNG, JPEG and GIF bundles record the image's
// size in their metadata.
//
// # Showing values
//
// Show, and a value left as the last expression of a cell, turn any value
// into a bundle with [Render]. A type renders richly by having one of these
// methods, tried in this order:
//
//	MIMEBundle() display.Bundle // any MIME types ([MIMEBundler])
//	HTML() string               // text/html ([HTMLer])
//	Markdown() string           // text/markdown ([Markdowner])
//	SVG() string                // image/svg+xml ([SVGer])
//
// For example, in one cell:
//
//	type Point struct{ X, Y int }
//
//	func (p Point) HTML() string {
//		return fmt.Sprintf("<b>(%d, %d)</b>", p.X, p.Y)
//	}
//
// and then in another:
//
//	display.Show(Point{1, 2}) // shows (1, 2) in bold
//	Point{3, 4}               // the cell's result, also in bold
//
// Other values render as follows:
//   - a []byte that holds a PNG, JPEG, GIF or SVG image shows the image;
//   - an [image.Image] (such as an *image.RGBA drawn in a cell) is shown as
//     a PNG;
//   - an error shows its Error text, and a [fmt.Stringer] its String text;
//   - a string, or a value of another string type, is quoted as by %q;
//   - anything else is formatted with %+v, which names struct fields;
//   - nil shows <nil>.
//
// If a rendering method panics, the output is the panic message in the
// style of package fmt ("%!v(PANIC=HTML method: ...)") instead of a
// failed cell, or <nil> when the value is a nil pointer.
//
// # Updating output
//
// ShowID shows a value under a display ID; Update replaces what that ID
// shows, wherever it is in the notebook; NewID makes a fresh ID. Clear
// removes the current cell's output; Clear(true) waits until new output
// arrives, so repeated redraws do not flicker.
//
//	id := display.NewID()
//	display.ShowID(id, display.Markdown("starting"))
//	for i := 1; i <= 10; i++ {
//		work(i)
//		display.Update(id, display.Markdown(fmt.Sprintf("step %d of 10", i)))
//	}
//
//	for i := 0; i < 5; i++ {
//		display.Clear(true)
//		display.Show(frame(i))
//	}
//
// # Types defined in cells
//
// Types declared in cells are interpreted: their methods exist only in the
// interpreter, which must wrap a value to let this package call them. The
// package asks the interpreter to do so for Show, ShowID, Update and
// Render, and the wrapping is reliable when the argument's own type is the
// cell type, a pointer to it, or one of this package's interface types:
//
//	p := Point{1, 2}
//	display.Show(p, &p, Point{3, 4}) // all three rendered by Point.HTML
//	for _, q := range points {       // points is a []Point
//		display.Show(q)
//	}
//	var h display.HTMLer = p
//	display.Show(h)
//
// The wrapping falls short in these cases:
//
//   - The direct result of a call, as in display.Show(makePoint()), is
//     formatted as plain text. Assign it to a variable first.
//   - A variable of type any (var v any = p) is formatted as plain text.
//   - A parameter of type any is unreliable: the interpreter (yaegi, whose
//     fmt.Println has the same fault with String methods) can call the
//     method on the wrong value, or fail. See below.
//   - Spreading a []any, display.Show(values...), shows cell types as the
//     interpreter's internal representation.
//   - A value inside another value (a slice, a map, a struct field) is
//     formatted with %+v, which does not see a cell type's Error or String
//     method.
//
// So a helper function should not take the value to show as an any:
//
//	func card(title string, v any) { ... display.Show(v) ... } // unreliable
//
// but as a Bundle, made by Render where the value's type is known, or as
// one of this package's interfaces:
//
//	func card(title string, b display.Bundle) { ... display.Show(b) ... }
//	card("Point", display.Render(p))
//
//	func card(title string, v display.HTMLer) { ... display.Show(v) ... }
//	card("Point", p)
//
// # Use from Go
//
// The kernel creates a [Display] on a [Publisher] of its own and hands
// [Symbols] to the interpreter; the package-level Show, ShowID, Update,
// NewID and Clear that cells call are that Display's methods. Programs
// other than the kernel can use New and the Display methods directly.
package display
