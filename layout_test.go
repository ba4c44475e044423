package greenlight_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, for each package, the module's packages it may import, so
// that imports keep flowing one way: cmd → web → orchestrator → stage
// packages → greenlight, with store and mail as adapters that decide nothing.
var allowed = map[string][]string{
	"":             {},
	"config":       {"", "source", "window"},
	"window":       {},
	"source":       {""},
	"webhook":      {""},
	"sandbox":      {""},
	"runner":       {"", "sandbox"},
	"artifact":     {""},
	"junit":        {""},
	"deploy":       {"", "artifact", "sandbox"},
	"approval":     {""},
	"backup":       {"", "artifact"},
	"retention":    {"", "artifact"},
	"datadir":      {},
	"mail":         {""},
	"forge":        {""},
	"notify":       {"", "mail", "forge", "approval"}, // approval: tokens are made by approval.Mint at sending
	"store":        {"", "failpoint"},
	"failpoint":    {},
	"orchestrator": {"", "config", "source", "webhook", "runner", "artifact", "deploy", "approval", "junit", "window"},
	"web":          {"", "config", "webhook", "approval"},
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/greenlight-cd/greenlight"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		if strings.HasPrefix(name, "cmd/") || strings.Contains(name, "test") || strings.HasPrefix(name, "bench") || name == "e2e" {
			continue // wiring, test helpers and benchmarks may use anything
		}
		ok, known := allowed[name]
		if !known {
			t.Errorf("package %q is not in the import rules of layout_test.go: add it", name)
			continue
		}
		for _, imp := range p.Imports {
			if imp != mod && !strings.HasPrefix(imp, mod+"/") {
				if name == "" && strings.Contains(imp, ".") {
					t.Errorf("the root package imports %s: it may import only the standard library", imp)
				}
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
			if strings.HasSuffix(dep, "test") { // test helper packages such as mail/smtptest
				continue
			}
			if !contains(ok, dep) {
				t.Errorf("%s imports %s: not allowed (see layout_test.go)", p.ImportPath, imp)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
