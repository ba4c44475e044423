package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/greenlight-cd/greenlight"
)

// A deploy held by a lock, on the run page, wide and narrow.
func TestBrowserHeldDeploy(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	run := e.run(greenlight.RunWaiting, "Speed up the search")
	const why = "production is locked by admin: incident 123, the payment provider is down"
	done := e.clock.Now().Add(-time.Minute)
	for i := range run.Stages {
		s := &run.Stages[i]
		switch s.Name {
		case "production":
			s.Status, s.Reason, s.StartedAt = greenlight.StageWaiting, why, &done
		default:
			s.Status, s.StartedAt, s.FinishedAt = greenlight.StageSucceeded, &done, &done
		}
	}
	run.Reason = why
	if err := e.store.UpdateRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
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
	for _, width := range []int64{1280, 390} {
		if err := chromedp.Do(step,
			chromedp.EmulateViewport(width, 900),
			chromedp.Navigate(e.ts.URL+"/runs/"+itoa(run.ID)),
			chromedp.WaitVisible(chromedp.CSS("#stage-production p.reason")),
		); err != nil {
			t.Fatalf("open the run at %d px: %v", width, err)
		}
		text, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("#stage-production")))
		if err != nil || !strings.Contains(text, "P"+why[1:]+".") { // shown as a sentence
			t.Errorf("production's stage at %d px says %q, want the reason", width, text)
		}
		screenshot(t, step, "held-deploy-"+itoa(width))
	}
}
