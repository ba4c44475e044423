package main

// The quickstart's sample application: a tiny Go web server with a test, a
// build file and deploy hooks. Kept as strings because a go.mod inside the
// module's tree would make it a separate module that go:embed refuses.
var sampleFiles = map[string]string{
	"go.mod": "module example.com/hello\n\ngo 1.22\n",
	"main.go": `package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func greeting(env, commit string) string {
	if len(commit) > 7 {
		commit = commit[:7]
	}
	return fmt.Sprintf("Hello from Greenlight! This is %s, release %s.\n", env, commit)
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	msg := greeting(os.Getenv("GREENLIGHT_ENVIRONMENT"), os.Getenv("GREENLIGHT_COMMIT"))
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, msg) })
	log.Printf("listening on 127.0.0.1:%s", port)
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, nil))
}
`,
	"main_test.go": `package main

import (
	"strings"
	"testing"
)

func TestGreeting(t *testing.T) {
	got := greeting("staging", "0123456789abcdef")
	if !strings.Contains(got, "staging, release 0123456") {
		t.Fatalf("greeting = %q", got)
	}
}
`,
	".greenlight.yml": `# Greenlight build file: how to test and build this app, and how to run it.
env: {CGO_ENABLED: "0", GOTOOLCHAIN: local, GOPROXY: "off", GOFLAGS: "-buildvcs=false"}
steps:
  - name: test
    run: go vet ./... && go test ./...
  - name: build
    run: go build -o dist/hello .
artifacts: [dist/, deploy/]
deploy:
  hooks:
    stop: deploy/stop.sh
    start: deploy/start.sh
`,
	"deploy/start.sh": `#!/bin/sh
# Starts the app in the background; Greenlight then checks /healthz.
set -e
nohup ./dist/hello > app.log 2>&1 < /dev/null &
echo $! > app.pid
`,
	"deploy/stop.sh": `#!/bin/sh
# Stops the app this release started, and waits until its port is free.
[ -f app.pid ] || exit 0
pid=$(cat app.pid)
# gone, or a zombie waiting for its parent to notice: either way the port is free
alive() { kill -0 "$1" 2>/dev/null && ! grep -qs '^State:.*Z' "/proc/$1/status"; }
kill "$pid" 2>/dev/null || exit 0
for i in $(seq 50); do alive "$pid" || exit 0; sleep 0.1; done
kill -9 "$pid" 2>/dev/null || true
`,
}

const quickstartConfig = `# Made by greenlight quickstart. Edit freely: see the README.
server:
  listen: 127.0.0.1:{{.Port}}
  public_url: http://127.0.0.1:{{.Port}}
  data_dir: ./data
pipelines:
  - name: hello
    source:
      repo: {{.Repo}}
      branch: main
      poll: 10s                 # new commits in the sample repository start a run
      webhook_secret: {{.Secret}}
    stages:
      - name: build
        type: build
        timeout: 10m
      - name: staging
        type: deploy
        environment: staging
      - name: approval
        type: approval
        approvers: [you@example.com]
        timeout: 72h
        review_url: http://127.0.0.1:{{.Staging}}/
      - name: production
        type: deploy
        environment: production
    environments:
      staging:
        targets:
          - local: {{.Dir}}/staging
            env: {PORT: "{{.Staging}}"}
        health: {url: "http://127.0.0.1:{{.Staging}}/healthz", timeout: 30s}
      production:
        targets:
          - local: {{.Dir}}/production
            env: {PORT: "{{.Production}}"}
        health: {url: "http://127.0.0.1:{{.Production}}/healthz", timeout: 30s}
`
