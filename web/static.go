package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var staticFiles embed.FS

//go:embed templates
var templateFiles embed.FS

// staticFS is the stylesheet and script, served from /static/.
func staticFS() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the directory is embedded above; cannot happen
	}
	return sub
}

// handleStatic serves the embedded files. They change only with the binary,
// so browsers may cache them for an hour.
func handleStatic(files fs.FS) http.Handler {
	fileServer := http.StripPrefix("/static/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	})
}
