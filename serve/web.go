package serve

import (
	"embed"
	"io/fs"
)

// web holds the page `gantry ui` shows: index.html, and app.js and
// app.css, which the project's build (make ui) bundles from ui/src.
//
//go:embed web
var web embed.FS

// WebUI returns the page's files, for Server.UI.
func WebUI() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}
