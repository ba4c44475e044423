package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// widths are the screens every approval page is looked at on: a laptop and
// a phone (390 px, an iPhone 12 to 15).
var widths = []struct {
	name string
	w, h int64
}{{"1280", 1280, 900}, {"390", 390, 844}}

// look opens url at each width, checks what every page must hold at any
// width (no sideways scrolling: nothing wider than the screen), and saves a
// screenshot named name-WIDTH.
func look(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	for _, w := range widths {
		step, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(step, chromedp.EmulateViewport(w.w, w.h), chromedp.Navigate(url),
			chromedp.WaitReady(chromedp.CSS("body")))
		if err != nil {
			cancel()
			t.Fatalf("open %s at %s: %v", name, w.name, err)
		}
		sw, err := chromedp.Run(step, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil || sw > int(w.w) {
			t.Errorf("%s at %s px: the page is %d px wide (%v): it scrolls sideways", name, w.name, sw, err)
		}
		screenshot(t, step, name+"-"+w.name)
		cancel()
	}
}

// TestBrowserDecisionPage drives the decision page of the real engine in
// Chromium. On a phone, the page opens at its top with nothing focused,
// whichever of the mail's links opened it (they used to land 636 px down,
// on a focused Approve button, past what ships); the two choices weigh the
// same, and what ships comes before them. Then one approver approves with
// a comment, reloads their used link (a thank-you, not an error), and the
// other approver sees the comment. Screenshots of every state, the run page
// and the approval mail, at 1280 and 390 px.
func TestBrowserDecisionPage(t *testing.T) {
	ctx := browser(t)
	e := newRealEnv(t, false, gateOptions{})
	run := e.trigger("Add the pricing page", "dana@example.com")
	mails := e.mail(2)
	tokens := map[string]string{}
	for to, m := range mails {
		l := m.Link("decision=approve")
		tokens[to] = strings.TrimSuffix(strings.TrimPrefix(l, e.srv.PublicURL+"/approvals/"), "?decision=approve")
	}
	pm := tokens["pm@example.com"]

	// The mail, as a mail client would show its HTML part.
	mailFile := filepath.Join(t.TempDir(), "approval-mail.html")
	if err := os.WriteFile(mailFile, []byte(mails["pm@example.com"].HTML), 0o644); err != nil {
		t.Fatal(err)
	}
	look(t, ctx, "file://"+mailFile, "mail-approval")

	for _, q := range []string{"?decision=approve", "?decision=reject"} {
		step, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(step, chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(e.ts.URL+"/approvals/"+pm+q),
			chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)))
		if err != nil {
			cancel()
			t.Fatalf("open %s: %v", q, err)
		}
		// Let any autofocus or scroll happen before looking.
		time.Sleep(300 * time.Millisecond)
		got, err := chromedp.Run(step, chromedp.Evaluate[map[string]any](`({
			scrollY: window.scrollY,
			active: document.activeElement === document.body,
			activeTag: document.activeElement ? document.activeElement.tagName : "",
			shipsTop: document.querySelector("h2").getBoundingClientRect().top,
			shipsText: document.querySelector("h2").textContent,
			choicesTop: document.querySelector(".choices").getBoundingClientRect().top,
			approve: getComputedStyle(document.querySelector("button[value=approve]")).backgroundColor,
			reject: getComputedStyle(document.querySelector("button[value=reject]")).backgroundColor,
			approveW: document.querySelector("button[value=approve]").getBoundingClientRect().width,
			rejectW: document.querySelector("button[value=reject]").getBoundingClientRect().width,
			approveFont: getComputedStyle(document.querySelector("button[value=approve]")).fontSize,
			rejectFont: getComputedStyle(document.querySelector("button[value=reject]")).fontSize,
		})`))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if got["scrollY"] != float64(0) || got["active"] != true {
			t.Errorf("%s at 390 px: scrollY = %v, focused %v; want the top of the page and nothing focused", q, got["scrollY"], got["activeTag"])
		}
		if got["shipsText"] != "What ships to production" || got["shipsTop"].(float64) >= got["choicesTop"].(float64) {
			t.Errorf("%s: the first heading is %q at %v, the choices at %v: what ships must come first", q, got["shipsText"], got["shipsTop"], got["choicesTop"])
		}
		if got["approve"] != got["reject"] || got["approveW"] != got["rejectW"] || got["approveFont"] != got["rejectFont"] {
			t.Errorf("%s: the choices weigh differently: %v", q, got)
		}
		if got["approve"] != "rgb(255, 255, 255)" {
			t.Errorf("Approve background = %v, want the stylesheet's white (did it load under the CSP?)", got["approve"])
		}
	}
	look(t, ctx, e.ts.URL+"/approvals/"+pm+"?decision=approve", "decision-open")

	// pm approves with a comment, in the browser.
	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := chromedp.Do(step,
		chromedp.SendKeys(chromedp.ID("comment"), "Checked the pricing page on staging.\nLooks right."),
		chromedp.Click(chromedp.CSS(`button[value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(".result")),
	)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if h1, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("h1"))); err != nil || h1 != "You approved — thank you" {
		t.Fatalf("result page heading = %q (%v)", h1, err)
	}
	look(t, ctx, e.ts.URL+"/approvals/"+pm, "decision-used")
	if text, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("main"))); err != nil ||
		!strings.Contains(text, "Checked the pricing page on staging.") || !strings.Contains(text, "approvals so far: approvers (1 of 2)") {
		t.Errorf("used link page = %q (%v)", text, err)
	}
	look(t, ctx, e.ts.URL+"/approvals/"+tokens["cto@example.com"], "decision-with-comments")
	if text, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("main"))); err != nil || !strings.Contains(text, "Looks right.") {
		t.Errorf("the other approver's page does not show the comment: %q (%v)", text, err)
	}

	// The run page, logged in.
	err = chromedp.Do(step,
		chromedp.Navigate(e.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("table.list")),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	look(t, ctx, e.ts.URL+"/runs/"+itoa(run.ID), "run-page-gate")
	if text, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(".gate"))); err != nil ||
		!strings.Contains(text, "approvers: 1 of 2") || !strings.Contains(text, "Looks right.") {
		t.Errorf("the run page's approval card = %q (%v)", text, err)
	}
}

// TestBrowserMails renders every mail's HTML part (the golden files of
// package notify) at both widths: none may be wider than a phone.
func TestBrowserMails(t *testing.T) {
	ctx := browser(t)
	files, err := filepath.Glob("../notify/testdata/*.html.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("no mail golden files: %v", err)
	}
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".html.golden")
		page := filepath.Join(dir, name+".html") // a .html name, so that it is shown as HTML
		if err := os.WriteFile(page, b, 0o644); err != nil {
			t.Fatal(err)
		}
		look(t, ctx, "file://"+page, "mail-"+name)
	}
}
