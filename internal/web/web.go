// Package web holds the custos dashboard: static HTML, CSS and JavaScript
// embedded in the binary (no build step, no CDN, works offline). It talks
// to the HTTP API (/v1/...) and follows /v1/stream for live updates.
package web

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// Assets returns the dashboard files: index.html at the root, the rest
// under assets/.
func Assets() fs.FS { return assets }

// Handler serves "/" (index.html), "/favicon.ico" and "/assets/...".
func Handler() http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/index.html":
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, assets, "assets/index.html")
			return
		case "/favicon.ico":
			http.ServeFileFS(w, r, assets, "assets/favicon.svg")
			return
		}
		if fi, err := fs.Stat(assets, strings.TrimPrefix(r.URL.Path, "/")); err != nil || fi.IsDir() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, "{\"error\":%q,\"code\":\"not_found\"}\n", "no such file: "+r.URL.Path)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
