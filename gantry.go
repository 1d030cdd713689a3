// Package gantry is the root of the Gantry module. It carries the source of
// the packages that notebook cells import (gantry/display, gantry/comm, gantry/input, gantry/sdk) so
// that the kernel can show their documentation without a checkout.
package gantry

import "embed"

// Sources holds the Go files of the packages importable from cells, by
// their paths relative to the module root (for example "display/display.go").
//
//go:embed display sdk comm input
var Sources embed.FS
