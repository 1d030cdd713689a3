// Package generic contains Go sources of standard library generic
// packages, which yaegi interprets when stdlib symbols are used.
//
// Gantry patch (see DEPENDENCIES.md): empty. yaegi v0.16.1 ships Go 1.22's
// cmp, maps and slices here and compiles them into every interpreter that
// uses the fmt table; Gantry compiles the generic packages of the Go that
// built it (gantry/kernel/gostd) instead.
package generic

// Sources contains the list of generic packages source strings.
var Sources = [...]string{}
