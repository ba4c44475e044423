// Command app is the application the end-to-end tests deploy: it answers
// GET / with its release and GET /healthz with 200, or 500 when the release
// ships a file deploy/unhealthy.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	version := os.Getenv("GREENLIGHT_COMMIT")
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat("deploy/unhealthy"); err == nil {
			http.Error(w, "unhealthy on purpose", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "version %s on %s\n", version, os.Getenv("GREENLIGHT_ENVIRONMENT"))
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
