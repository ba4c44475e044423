package web

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/greenlight-cd/greenlight"
)

// browser starts a headless Chromium for the test, or skips (fails on CI)
// when there is none.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if _, statErr := os.Stat("/usr/bin/chromium"); statErr != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("chromium is required on CI: %v", err)
			}
			t.Skipf("no chromium to drive: %v (apt-get install -y chromium)", err)
		}
		path = "/usr/bin/chromium"
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first Run starts the browser, without a timeout: a timeout on it
	// would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshot saves a PNG where $GREENLIGHT_SCREENSHOTS says, else in the
// test's temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("GREENLIGHT_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func TestBrowserRunPage(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	run := e.run(greenlight.RunRunning, "Speed up the search")
	started := e.clock.Now().Add(-90 * time.Second)
	finished := e.clock.Now().Add(-30 * time.Second)
	run.Stages[0].StartedAt, run.Stages[0].FinishedAt = &started, &finished
	run.Stages[1].Status, run.Stages[1].StartedAt = greenlight.StageRunning, &finished
	run.Stages[2].Status = greenlight.StagePending
	if err := e.store.UpdateRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	e.writeLog(run.ID, "build", "$ go test ./...\nok  \texample.com/hello\t0.012s\n$ go build -o dist/hello .\n")
	e.writeLog(run.ID, "staging", "installing release on /srv/hello/staging\nwaiting for http://127.0.0.1:8081/healthz\n")

	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(step,
		chromedp.Navigate(e.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("table.list")),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	screenshot(t, step, "pipelines")
	err = chromedp.Do(step,
		chromedp.Navigate(e.ts.URL+"/runs/"+itoa(run.ID)),
		chromedp.WaitVisible(chromedp.CSS("pre.log")),
	)
	if err != nil {
		t.Fatalf("open the run: %v", err)
	}
	text, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Run #" + itoa(run.ID), "Speed up the search", "go build -o dist/hello", "Cancel run", "1m0s"} {
		if !strings.Contains(text, s) {
			t.Errorf("the run page does not show %q:\n%s", s, text)
		}
	}
	screenshot(t, step, "run-page")

	// refresh.js reloads an unfinished run: a mark set now is gone after 2 s.
	if _, err := chromedp.Run(step, chromedp.Evaluate[bool](`window.mark = true`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	marked, err := chromedp.Run(step, chromedp.Evaluate[bool](`window.mark === true`))
	if err != nil || marked {
		t.Errorf("the page did not reload itself (mark still set: %v, %v)", marked, err)
	}
}
