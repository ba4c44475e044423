// Command app is the application the deploy tests install: an HTTP server on
// 127.0.0.1:$PORT whose /healthz answers 200, or 500 when HEALTH=fail, and
// whose / answers the VERSION it was started with. It logs every request to
// stdout, as real apps do, so a test sees it survive the hook that started it.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	version := os.Getenv("VERSION")
	fmt.Println("app", version, "listening on", os.Getenv("PORT"))
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("GET /healthz")
		if os.Getenv("HEALTH") == "fail" {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("GET", r.URL.Path)
		fmt.Fprint(w, version)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
