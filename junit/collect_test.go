package junit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

const (
	onePass = `<testsuite><testcase name="ok"/></testsuite>`
	oneFail = `<testsuite><testcase name="bad"><failure message="boom"/></testcase></testsuite>`
)

// workspace makes a workspace with files (name → content) and returns it.
func workspace(t *testing.T, files map[string]string) string {
	t.Helper()
	ws := filepath.Join(t.TempDir(), "ws")
	for name, body := range files {
		p := filepath.Join(ws, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	return ws
}

func collect(t *testing.T, ws string, patterns ...string) (*greenlight.TestSummary, string) {
	t.Helper()
	var log strings.Builder
	done := make(chan *greenlight.TestSummary)
	go func() { done <- Collect(ws, patterns, &log) }()
	select {
	case s := <-done:
		return s, log.String()
	case <-time.After(20 * time.Second):
		t.Fatal("Collect hangs")
	}
	return nil, ""
}

func TestCollect(t *testing.T) {
	ws := workspace(t, map[string]string{
		"reports/a.xml":        onePass,
		"reports/b.xml":        oneFail,
		"reports/bad.xml":      `<testsuite><testcase name="x">`,
		"reports/notes.txt":    onePass,
		"sub/one/TEST-x.xml":   onePass,
		"sub/two/TEST-y.xml":   oneFail,
		"sub/two/other.xml":    oneFail,
		"sub/file/TEST-no.xml": onePass, // "file" is matched as a directory: fine
	})
	s, log := collect(t, ws, "reports/*.xml", "sub/*/TEST-*.xml", "reports/a.xml", "missing/*.xml")
	want := greenlight.TestSummary{Passed: 3, Failed: 2, Failures: []greenlight.TestFailure{
		{Name: "bad", Message: "boom"}, {Name: "bad", Message: "boom"}}}
	if s == nil || s.Passed != want.Passed || s.Failed != want.Failed || len(s.Failures) != 2 {
		t.Fatalf("got %+v, want %+v\nlog:\n%s", s, want, log)
	}
	for _, line := range []string{
		"==> test report reports/bad.xml left out: not well-formed XML: line 1: unexpected EOF",
		"==> test reports missing/*.xml: no file matches",
		"==> tests: 3 passed, 2 failed, 0 skipped (5 reports)",
	} {
		if !strings.Contains(log, line+"\n") {
			t.Errorf("log lacks %q:\n%s", line, log)
		}
	}
}

func TestCollectNothing(t *testing.T) {
	ws := workspace(t, map[string]string{"reports/bad.xml": "<html/>"})
	if s, log := collect(t, ws, "reports/*.xml"); s != nil {
		t.Errorf("got %+v, want nil when no report could be read\n%s", s, log)
	}
	if s, _ := collect(t, ws); s != nil {
		t.Errorf("got %+v without patterns", s)
	}
	s, _ := collect(t, workspace(t, map[string]string{"r.xml": "<testsuites/>"}), "r.xml")
	if s == nil || s.Failures == nil {
		t.Errorf("an empty report: got %#v, want a zero summary with an empty failures list", s)
	}
}

// The build's code writes the reports: nothing it plants there may make the
// server read outside the workspace, hang or hold much memory.
func TestCollectUntrusted(t *testing.T) {
	outside := t.TempDir() // stands for the data directory
	if err := os.WriteFile(filepath.Join(outside, "secret.xml"), []byte(oneFail), 0o600); err != nil {
		t.Fatal(err)
	}
	ws := workspace(t, map[string]string{"reports/ok.xml": onePass})
	links := map[string]string{
		"reports/shadow.xml":   "/etc/shadow",
		"reports/data.xml":     filepath.Join(outside, "secret.xml"),
		"reports/relative.xml": "../../" + filepath.Base(outside) + "/secret.xml",
		"linked":               outside, // a directory link out: linked/*.xml
		"reports/inside.xml":   "ok.xml",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(ws, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Relative to ws/reports, "../../<outside>" only reaches outside if both
	// share a parent; make it so.
	if rel := filepath.Join(filepath.Dir(ws), filepath.Base(outside)); rel != outside {
		if err := os.Symlink(outside, rel); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(ws, "reports/fifo.xml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(ws, "fifodir"), 0o644); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(filepath.Join(ws, "reports/big.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(100 << 20); err != nil { // 100 MB, sparse
		t.Fatal(err)
	}
	big.Close()

	s, log := collect(t, ws, "reports/*.xml", "linked/*.xml", "fifodir/*.xml", "linked/secret.xml")
	// ok.xml and inside.xml (a link within the workspace) count; nothing else.
	if s == nil || s.Passed != 2 || s.Failed != 0 {
		t.Fatalf("got %+v, want 2 passed and nothing from outside\nlog:\n%s", s, log)
	}
	for _, line := range []string{
		"==> test report reports/shadow.xml left out: it is a link out of the workspace",
		"==> test report reports/data.xml left out: it is a link out of the workspace",
		"==> test report reports/relative.xml left out: it is a link out of the workspace",
		"==> test report reports/fifo.xml left out: not a regular file (p---------)",
		"==> test report reports/big.xml left out: report is too large: larger than 16 MiB",
		"==> test reports linked/*.xml: linked: it is a link out of the workspace",
		"==> test reports linked/secret.xml: it is a link out of the workspace",
		"==> test reports fifodir/*.xml: no file matches",
	} {
		if !strings.Contains(log, line+"\n") {
			t.Errorf("log lacks %q:\n%s", line, log)
		}
	}
}

// A report that grows past the limit while it is read is refused whole.
func TestLimitReader(t *testing.T) {
	body := `<testsuite><testcase name="a"/></testsuite>` + strings.Repeat(" ", 100)
	l := &limitReader{r: strings.NewReader(body), n: 40}
	var s greenlight.TestSummary
	if err := Parse(l, &s); err == nil || !l.over {
		t.Fatalf("got %v (over %v), want a too-large error", err, l.over)
	}
	l = &limitReader{r: strings.NewReader(body), n: int64(len(body))}
	if err := Parse(l, &s); err != nil || s.Passed != 1 {
		t.Fatalf("exactly at the limit: %v %+v", err, s)
	}
}

func TestCollectBounds(t *testing.T) {
	files := map[string]string{}
	for i := range MaxFiles + 50 {
		files[fmt.Sprintf("r/%03d.xml", i)] = onePass
	}
	s, log := collect(t, workspace(t, files), "r/*.xml")
	if s == nil || s.Passed != MaxFiles {
		t.Fatalf("got %+v, want %d passed", s, MaxFiles)
	}
	if !strings.Contains(log, fmt.Sprintf("only the first %d are read", MaxFiles)) {
		t.Errorf("log: %s", log)
	}

	// Many entries in a directory: only MaxDirEntries are looked at (here
	// lowered: making files is slow on some machines).
	defer func(n int) { dirEntries = n }(dirEntries)
	dirEntries = 50
	ws := workspace(t, map[string]string{"d/keep.xml": onePass})
	for i := range dirEntries + 10 {
		if err := os.WriteFile(filepath.Join(ws, "d", fmt.Sprintf("junk%05d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, log = collect(t, ws, "d/*.xml")
	if !strings.Contains(log, "d holds more than 50 entries") {
		t.Errorf("log: %s", log)
	}

	// Reports together past the total: the later ones are left out (the
	// bounds lowered: parsing 64 MiB is slow under the race detector).
	defer func(f, t int64) { fileSize, totalSize = f, t }(fileSize, totalSize)
	fileSize, totalSize = 4096, 10000
	ws = workspace(t, nil)
	pad := strings.Repeat(" ", int(fileSize)-len(onePass)-1)
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(ws, fmt.Sprintf("t%d.xml", i)), []byte(onePass+pad), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, log = collect(t, ws, "*.xml")
	if s == nil || s.Passed != 2 || !strings.Contains(log, "==> test report t2.xml left out: report is too large: the reports together may hold 10000 bytes\n") {
		t.Errorf("got %+v\n%s", s, log)
	}
}
