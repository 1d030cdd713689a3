// Package input reads a line from the person at the notebook, the way
// Python's input() and getpass() do in IPython.
//
// In a cell:
//
//	import "gantry/input"
//
//	name, err := input.Line("Your name: ")
//	token, err := input.Password("API token: ") // typed text is hidden
//
// Plain reads of os.Stdin (fmt.Scanln, bufio.Scanner) work too and ask for
// input the same way. When the client does not allow input (allow_stdin is
// false, as when nbclient runs a notebook), every read returns an error
// that says so.
package input

import "reflect"

// Asker asks the client for one line of input; the executor provides it.
type Asker interface {
	Ask(prompt string, password bool) (string, error)
}

// Reader reads from the person at the notebook through an Asker.
type Reader struct{ a Asker }

// New returns a Reader that asks through a.
func New(a Asker) *Reader { return &Reader{a: a} }

// Line shows prompt and returns the line typed, without its newline.
func (r *Reader) Line(prompt string) (string, error) { return r.a.Ask(prompt, false) }

// Password shows prompt and returns the line typed; the client hides it
// while it is typed.
func (r *Reader) Password(prompt string) (string, error) { return r.a.Ask(prompt, true) }

// Symbols returns the interpreter export table for import path
// "gantry/input", bound to r.
func Symbols(r *Reader) map[string]map[string]reflect.Value {
	return map[string]map[string]reflect.Value{
		"gantry/input/input": {
			"Line":     reflect.ValueOf(r.Line),
			"Password": reflect.ValueOf(r.Password),
		},
	}
}
