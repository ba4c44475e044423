package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/store/storetest"
	"github.com/greenlight-cd/greenlight/webhook"
)

// fakePush records the deliveries it is given and answers by the commit:
// "e…" fails for a while (EUNAVAILABLE), "b…" is a bad request, "c…" is an
// internal error; others start run n.
type fakePush struct {
	mu       sync.Mutex
	calls    []string // pipeline/delivery/after
	failures int      // how many more times "e…" fails
	runs     int64
}

func (f *fakePush) Push(ctx context.Context, pipeline string, p *webhook.Push) (*greenlight.Run, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, pipeline+"/"+p.DeliveryID+"/"+p.After)
	switch {
	case strings.HasPrefix(p.After, "e") && f.failures > 0:
		f.failures--
		return nil, "", greenlight.Errorf(greenlight.EUNAVAILABLE, "git remote unreachable")
	case strings.HasPrefix(p.After, "b"):
		return nil, "", greenlight.Errorf(greenlight.EINVALID, "commit is not on the branch")
	case strings.HasPrefix(p.After, "c"):
		return nil, "", errors.New("disk on fire at /srv/secret/path")
	case p.Branch == "skip":
		return nil, "branch skip is not main", nil
	}
	f.runs++
	return &greenlight.Run{ID: f.runs}, "", nil
}

func (f *fakePush) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

type inboxEnv struct {
	t     *testing.T
	store greenlight.Store
	clock *testClock
	push  *fakePush
	inbox *Inbox
	heads map[string]string
	repos map[string]string // configured source repository by pipeline
	stop  func()
}

func newInboxEnv(t *testing.T) *inboxEnv {
	e := &inboxEnv{t: t, store: storetest.SQLite(t), clock: &testClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)},
		push: &fakePush{}, heads: map[string]string{}, repos: map[string]string{}}
	head := func(ctx context.Context, repo, branch string) (string, error) {
		if sha, ok := e.heads[repo+"#"+branch]; ok {
			return sha, nil
		}
		return "", greenlight.Errorf(greenlight.ENOTFOUND, "no branch %s", branch)
	}
	repo := func(pipeline string) (string, error) {
		if r, ok := e.repos[pipeline]; ok {
			return r, nil
		}
		return "/srv/git/" + pipeline + ".git", nil
	}
	in, err := NewInbox(InboxConfig{Store: e.store, Push: e.push.Push, Head: head, Repo: repo, Now: e.clock.Now, Retry: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.inbox = in
	return e
}

func (e *inboxEnv) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.inbox.Run(ctx); close(done) }()
	e.stop = func() { cancel(); <-done }
	e.t.Cleanup(e.stop)
}

// queue stores a delivery as the webhook handler does.
func (e *inboxEnv) queue(pipeline, id string, p webhook.Push) *greenlight.Delivery {
	e.t.Helper()
	p.DeliveryID = id
	b, _ := json.Marshal(p)
	d := &greenlight.Delivery{Pipeline: pipeline, DeliveryID: id, Forge: p.Forge, Event: p.Kind(), Ref: p.Ref,
		Commit: p.After, Payload: string(b), Status: greenlight.DeliveryQueued, ReceivedAt: e.clock.Now()}
	if ok, err := e.store.EnqueueDelivery(context.Background(), d); err != nil || !ok {
		e.t.Fatalf("enqueue %s: %v %v", id, ok, err)
	}
	e.inbox.Wake()
	return d
}

// done waits until the delivery is no longer queued.
func (e *inboxEnv) done(id string) *greenlight.Delivery {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		list, err := e.store.Deliveries(context.Background(), "", 0)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, d := range list {
			if d.DeliveryID == id && d.Status != greenlight.DeliveryQueued {
				return d
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("delivery %s not processed", id)
	return nil
}

func (e *inboxEnv) attempts(id string) int {
	list, _ := e.store.Deliveries(context.Background(), "", 0)
	for _, d := range list {
		if d.DeliveryID == id {
			return d.Attempts
		}
	}
	return -1
}

// waitAttempts waits until the delivery was tried at least n times.
func (e *inboxEnv) waitAttempts(id string, n int) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.attempts(id) < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("delivery %s: %d attempts, want %d", id, e.attempts(id), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// retryUntil moves the clock past retry waits until the delivery was tried
// at least n times. (The clock moves in a loop: a wait computed after a move
// would otherwise never end.)
func (e *inboxEnv) retryUntil(id string, n int) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.attempts(id) < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("delivery %s: %d attempts, want %d", id, e.attempts(id), n)
		}
		e.clock.Add(time.Hour)
		e.inbox.Wake()
		time.Sleep(10 * time.Millisecond)
	}
}

func sha(c string) string { return strings.Repeat(c, 40) }

func branchPush(branch, after string) webhook.Push {
	return webhook.Push{Forge: "github", Ref: "refs/heads/" + branch, Branch: branch, After: after}
}

// Queued deliveries become runs in order; the outcome of each is recorded.
func TestInboxProcessesInOrder(t *testing.T) {
	e := newInboxEnv(t)
	e.queue("hello", "d1", branchPush("main", sha("1")))
	e.queue("hello", "d2", branchPush("skip", sha("2")))
	e.queue("hello", "d3", branchPush("main", sha("b")))
	e.queue("hello", "d4", branchPush("main", sha("c")))
	e.start() // the deliveries above are leftovers of a stopped server
	tests := []struct {
		id     string
		status greenlight.DeliveryStatus
		run    int64
		result string
	}{
		{"d1", greenlight.DeliveryStarted, 1, ""},
		{"d2", greenlight.DeliveryIgnored, 0, "branch skip is not main"},
		{"d3", greenlight.DeliveryFailed, 0, "commit is not on the branch"},
	}
	for _, tt := range tests {
		d := e.done(tt.id)
		if d.Status != tt.status || d.RunID != tt.run || d.Result != tt.result || d.DoneAt == nil || d.Attempts != 1 {
			t.Errorf("%s: got %s run %d %q (attempts %d), want %s run %d %q", tt.id, d.Status, d.RunID, d.Result, d.Attempts,
				tt.status, tt.run, tt.result)
		}
	}
	// An internal error is retried, and its detail stays in the log.
	e.retryUntil("d4", 2)
	list, _ := e.store.Deliveries(context.Background(), "hello", 1)
	if strings.Contains(list[0].Result, "/srv/secret") || !strings.Contains(list[0].Result, "will retry") {
		t.Errorf("internal error recorded as %q, want a retry without the detail", list[0].Result)
	}
	want := []string{"hello/d1/" + sha("1"), "hello/d2/" + sha("2"), "hello/d3/" + sha("b"), "hello/d4/" + sha("c")}
	if got := e.push.seen(); len(got) < 4 || strings.Join(got[:4], " ") != strings.Join(want, " ") {
		t.Errorf("Push calls %v, want %v first", got, want)
	}
}

// A delivery that fails for a reason that may pass waits, with its
// pipeline's later deliveries; other pipelines go on.
func TestInboxRetryHoldsPipeline(t *testing.T) {
	e := newInboxEnv(t)
	e.push.failures = 2
	e.start()
	e.queue("hello", "h1", branchPush("main", sha("e")))
	e.queue("hello", "h2", branchPush("main", sha("2")))
	e.queue("other", "o1", branchPush("main", sha("3")))
	if d := e.done("o1"); d.Status != greenlight.DeliveryStarted {
		t.Fatalf("other pipeline's delivery: %+v", d)
	}
	e.waitAttempts("h1", 1)
	// The clock has not moved: h1 waits, and h2 behind it.
	e.inbox.Wake()
	e.queue("other", "o2", branchPush("main", sha("4")))
	e.done("o2")
	if n := e.attempts("h2"); n != 0 {
		t.Fatalf("h2 was tried %d times while h1 waits for its retry", n)
	}
	e.retryUntil("h1", 3) // two failures, then success
	h1, h2 := e.done("h1"), e.done("h2")
	if h1.Status != greenlight.DeliveryStarted || h1.Attempts != 3 || h2.Status != greenlight.DeliveryStarted || h1.RunID > h2.RunID {
		t.Fatalf("after the retries: h1 %+v, h2 %+v; want both started, h1 first after 3 attempts", h1, h2)
	}
}

// One pipeline's backlog behind a retry does not hide other pipelines'
// deliveries, however long it is (longer than the worker's batch), nor do
// more blocked pipelines than a batch holds.
func TestInboxBacklogHoldsOnlyItsPipeline(t *testing.T) {
	for _, tc := range []struct {
		name               string
		pipelines, backlog int // blocked pipelines; deliveries behind each head
	}{
		{"one long backlog", 1, 150},
		{"many blocked pipelines", 120, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newInboxEnv(t)
			e.push.failures = 1 << 20
			var want []string
			for p := range tc.pipelines {
				name := fmt.Sprint("busy", p)
				e.queue(name, name+"-0", branchPush("main", sha("e")))
				want = append(want, name+"/"+name+"-0/"+sha("e"))
				for i := 1; i <= tc.backlog; i++ {
					e.queue(name, fmt.Sprint(name, "-", i), branchPush("main", sha("2")))
				}
			}
			e.start()
			// (The deliveries list is newest first and limited: the
			// heads are not in it.)
			deadline := time.Now().Add(20 * time.Second)
			for len(e.push.seen()) < len(want) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			e.queue("calm", "c1", branchPush("main", sha("3")))
			if d := e.done("c1"); d.Status != greenlight.DeliveryStarted {
				t.Fatalf("calm pipeline's delivery behind the blocked ones: %+v", d)
			}
			want = append(want, "calm/c1/"+sha("3"))
			if calls := e.push.seen(); !slices.Equal(calls, want) {
				t.Fatalf("Push calls %v,\nwant %v: each backlog waits behind its head's retry", calls, want)
			}
		})
	}
}

// A delivery tried too often (it failed, or the server died, each time) is
// given up.
func TestInboxGivesUp(t *testing.T) {
	e := newInboxEnv(t)
	d := e.queue("hello", "doomed", branchPush("main", sha("5")))
	d.Attempts, d.Result = maxAttempts, "will retry: git remote unreachable"
	if _, err := e.store.UpdateDelivery(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	e.start()
	got := e.done("doomed")
	if got.Status != greenlight.DeliveryFailed || !strings.Contains(got.Result, "given up after 10 attempts") {
		t.Fatalf("got %+v, want failed, given up", got)
	}
	if calls := e.push.seen(); len(calls) != 0 {
		t.Fatalf("Push called %v", calls)
	}
}

// Bitbucket pull requests name their head by 12 hex digits; the inbox
// completes it from the head branch, or ignores the event if the branch has
// moved on.
func TestInboxAbbreviatedHead(t *testing.T) {
	e := newInboxEnv(t)
	repo := "https://bitbucket.org/team/repo.git"
	e.heads[repo+"#feature"] = "d3022fc0ca3d" + strings.Repeat("7", 28)
	e.heads[repo+"#moved"] = strings.Repeat("9", 40)
	pr := func(branch string) webhook.Push {
		return webhook.Push{Forge: "bitbucket", After: "d3022fc0ca3d", PullRequest: &greenlight.PullRequest{Number: 1,
			HeadBranch: branch, BaseBranch: "main", HeadRepo: repo}}
	}
	e.start()
	e.queue("hello", "pr-ok", pr("feature"))
	e.queue("hello", "pr-moved", pr("moved"))
	noRepo := pr("feature")
	noRepo.PullRequest.HeadRepo = ""
	e.queue("hello", "pr-norepo", noRepo)
	if d := e.done("pr-ok"); d.Status != greenlight.DeliveryStarted {
		t.Errorf("resolvable head: %+v", d)
	}
	if d := e.done("pr-moved"); d.Status != greenlight.DeliveryIgnored || !strings.Contains(d.Result, "has moved on") {
		t.Errorf("moved head: %+v", d)
	}
	if d := e.done("pr-norepo"); d.Status != greenlight.DeliveryFailed {
		t.Errorf("no head repository: %+v", d)
	}
	if calls := e.push.seen(); len(calls) != 1 || calls[0] != "hello/pr-ok/d3022fc0ca3d"+strings.Repeat("7", 28) {
		t.Errorf("Push calls %v, want one with the full sha", calls)
	}
}

// A Bitbucket pull request from the pipeline's own private repository is
// resolved through the configured URL, which has the credentials; one from a
// fork that cannot be read is ignored at once, with the reason, not retried.
func TestInboxAbbreviatedHeadPrivate(t *testing.T) {
	e := newInboxEnv(t)
	own := "https://x-token-auth:s3cret@bitbucket.org/Team/private.git"
	e.repos["hello"] = own
	full := "d3022fc0ca3d" + strings.Repeat("7", 28)
	e.heads[own+"#feature"] = full // readable only with the credentials
	pr := func(repo string) webhook.Push {
		return webhook.Push{Forge: "bitbucket", After: "d3022fc0ca3d", PullRequest: &greenlight.PullRequest{Number: 1,
			HeadBranch: "feature", BaseBranch: "main", HeadRepo: repo}}
	}
	e.start()
	e.queue("hello", "pr-own", pr("https://bitbucket.org/team/private.git"))
	e.queue("hello", "pr-fork", pr("https://bitbucket.org/someone/private.git"))
	if d := e.done("pr-own"); d.Status != greenlight.DeliveryStarted {
		t.Errorf("pull request from the private repository itself: %+v", d)
	}
	d := e.done("pr-fork")
	if d.Status != greenlight.DeliveryIgnored || d.Attempts != 1 || !strings.Contains(d.Result, "fork https://bitbucket.org/someone/private.git") {
		t.Errorf("unreadable fork: %+v, want ignored after one attempt, naming the fork", d)
	}
	if strings.Contains(d.Result, "s3cret") {
		t.Errorf("result shows the credentials: %s", d.Result)
	}
	if calls := e.push.seen(); len(calls) != 1 || calls[0] != "hello/pr-own/"+full {
		t.Errorf("Push calls %v, want one with the full sha", calls)
	}
}

func TestSameRepo(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"https://x-token-auth:tok@bitbucket.org/team/repo.git", "https://bitbucket.org/team/repo.git", true},
		{"https://bitbucket.org/Team/Repo", "https://bitbucket.org/team/repo.git", true},
		{"git@bitbucket.org:team/repo.git", "https://bitbucket.org/team/repo.git", true},
		{"ssh://git@bitbucket.org:22/team/repo.git", "https://bitbucket.org/team/repo.git", true},
		{"https://bitbucket.org/team/repo.git", "https://bitbucket.org/fork/repo.git", false},
		{"https://bitbucket.org/team/repo.git", "https://bitbucket.org/team/repo2.git", false},
		{"https://example.com/team/repo.git", "https://bitbucket.org/team/repo.git", false},
		{"/srv/git/team/repo.git", "https://bitbucket.org/team/repo.git", false},
		{"file:///team/repo.git", "file:///team/repo.git", false},
		{"", "https://bitbucket.org/team/repo.git", false},
		{"https://bitbucket.org/", "https://bitbucket.org/", false},
	} {
		if got := sameRepo(tc.a, tc.b); got != tc.want {
			t.Errorf("sameRepo(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// Old done deliveries are pruned when the worker starts.
func TestInboxPrunes(t *testing.T) {
	e := newInboxEnv(t)
	old := e.queue("hello", "old", branchPush("main", sha("6")))
	old.Status, old.DoneAt = greenlight.DeliveryIgnored, ptrTime(e.clock.Now())
	if _, err := e.store.UpdateDelivery(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(9 * 24 * time.Hour)
	e.start()
	e.queue("hello", "new", branchPush("main", sha("7")))
	e.done("new")
	list, err := e.store.Deliveries(context.Background(), "hello", 0)
	if err != nil || len(list) != 1 || list[0].DeliveryID != "new" {
		t.Fatalf("after pruning: %d deliveries (%v), want only the new one", len(list), err)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
