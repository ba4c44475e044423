package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

// TestBrowserCommentRequired: a gate of two rules shows each rule's
// progress; rejecting without the comment the gate requires answers 422,
// keeps the page with what is missing, and records nothing. Screenshots at
// 1280 and 390 pixels wide.
func TestBrowserCommentRequired(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	run := e.run(greenlight.RunWaiting, "Add the checkout page")
	a := &greenlight.Approval{RunID: run.ID, Pipeline: run.Pipeline, Stage: "approval",
		Approvers: []string{"pm@example.com", "qa@example.com"}, Required: 2,
		Rules: []greenlight.ApprovalRule{{Name: "product", Approvers: []string{"pm@example.com"}, Required: 1},
			{Name: "qa", Approvers: []string{"qa@example.com", "pm@example.com"}, Required: 1}},
		CommentRequired: greenlight.CommentReject, OnTimeout: greenlight.TimeoutExpire,
		Deadline: e.clock.Now().Add(72 * time.Hour), Status: greenlight.ApprovalPending, CreatedAt: e.clock.Now()}
	if err := e.store.CreateApproval(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	raw, hash := greenlight.NewToken()
	if err := e.store.CreateToken(context.Background(), &greenlight.ApprovalToken{Hash: hash, ApprovalID: a.ID, RunID: run.ID,
		Approver: "pm@example.com", ExpiresAt: a.Deadline}); err != nil {
		t.Fatal(err)
	}

	for _, width := range []int64{1280, 390} {
		step, cancel := context.WithTimeout(ctx, 30*time.Second)
		size := chromedp.EmulateViewport(width, 900)
		if width < 500 {
			size = chromedp.Emulate(device.IPhone12)
		}
		err := chromedp.Do(step, size,
			chromedp.Navigate(e.ts.URL+"/approvals/"+raw+"?decision=reject"),
			chromedp.WaitVisible(chromedp.CSS(`button[value="reject"]`)),
		)
		if err != nil {
			cancel()
			t.Fatalf("open the decision page: %v", err)
		}
		text, _ := chromedp.Run(step, chromedp.Text(chromedp.CSS("main")))
		for _, s := range []string{"product: 0 of 1", "qa: 0 of 1", "required to reject"} {
			if !strings.Contains(text, s) {
				t.Errorf("the page does not show %q:\n%s", s, text)
			}
		}
		err = chromedp.Do(step, chromedp.Click(chromedp.CSS(`button[value="reject"]`)), chromedp.WaitVisible(chromedp.CSS(".alert")))
		if err != nil {
			cancel()
			t.Fatalf("reject without a comment: %v", err)
		}
		text, _ = chromedp.Run(step, chromedp.Text(chromedp.CSS(".alert")))
		if !strings.Contains(text, "A comment is required to reject") {
			t.Errorf("alert = %q", text)
		}
		screenshot(t, step, "decision-comment-required-"+map[bool]string{true: "390", false: "1280"}[width < 500])
		cancel()
	}
	got, err := e.store.Approval(context.Background(), a.ID)
	if err != nil || len(got.Decisions) != 0 || got.Status != greenlight.ApprovalPending {
		t.Fatalf("after refused rejections: %+v, %v", got, err)
	}

	// pm's approval counts for product; the run page shows it per rule.
	if _, err := e.eng.Decide(context.Background(), raw, approval.Input{Verdict: greenlight.Approve, Comment: "Looks right"}); err != nil {
		t.Fatal(err)
	}
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = chromedp.Do(step, chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(e.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("table.list")),
		chromedp.Navigate(e.ts.URL+"/runs/"+itoa(run.ID)),
		chromedp.WaitVisible(chromedp.CSS(".gate")),
	)
	if err != nil {
		t.Fatalf("open the run page: %v", err)
	}
	text, _ := chromedp.Run(step, chromedp.Text(chromedp.CSS(".gate")))
	for _, s := range []string{"product: 1 of 1", "qa: 0 of 1", "pm@example.com for product", "Looks right"} {
		if !strings.Contains(text, s) {
			t.Errorf("the run page's gate does not show %q:\n%s", s, text)
		}
	}
	screenshot(t, step, "run-gate-1280")
}
