package display

import (
	"crypto/rand"
	"encoding/hex"
)

// A Publisher sends display messages to the notebook client. The kernel
// implements it; a Display calls it.
type Publisher interface {
	// Publish sends b as a display_data message, or as an
	// update_display_data message if update is true. A non-empty
	// displayID goes in the message's transient display_id.
	Publish(b Bundle, displayID string, update bool)
	// Clear sends a clear_output message.
	Clear(wait bool)
}

// A Display shows values through a Publisher. Its methods are what cells
// call as display.Show, display.ShowID, display.Update, display.NewID and
// display.Clear (see [Symbols]). A Display is safe for concurrent use if
// its Publisher is.
type Display struct {
	p Publisher
}

// New returns a Display that publishes to p, which must not be nil.
func New(p Publisher) *Display {
	if p == nil {
		panic("display.New: nil Publisher")
	}
	return &Display{p: p}
}

// Show publishes [Render](v) for each of vs, in order, as display_data.
func (d *Display) Show(vs ...any) {
	for _, v := range vs {
		d.p.Publish(Render(v), "", false)
	}
}

// ShowID publishes Render(v) as display_data under the display ID id, so
// that [Display.Update] can later replace it. Showing the same ID again
// adds another output that later updates also change. With id "", ShowID
// is Show(v).
func (d *Display) ShowID(id string, v any) {
	d.p.Publish(Render(v), id, false)
}

// Update replaces the outputs shown under the display ID id with Render(v),
// by publishing update_display_data. The outputs may be in any cell,
// including ones that have finished running. Update does nothing if id is
// "", and the client ignores an ID it has not shown.
func (d *Display) Update(id string, v any) {
	if id == "" {
		return
	}
	d.p.Publish(Render(v), id, true)
}

// NewID returns a new random display ID: 32 hexadecimal digits.
func (d *Display) NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Clear clears the output of the running cell. If wait is true, the output
// is cleared only when the next output arrives, which avoids flicker when
// a loop redraws the same output.
func (d *Display) Clear(wait bool) {
	d.p.Clear(wait)
}
