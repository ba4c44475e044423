package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/webhook"
)

// InboxConfig holds the dependencies of the webhook inbox's worker.
type InboxConfig struct {
	Store greenlight.Store
	// Push handles one delivery's event: (*Engine).Push. It must start at
	// most one run per delivery id, however often it is called with it.
	Push func(ctx context.Context, pipeline string, p *webhook.Push) (*greenlight.Run, string, error)
	// Head returns the sha a branch of a repository points to
	// ((*source.Git).Head), to complete the abbreviated head commits of
	// Bitbucket pull requests. Optional: without it they fail.
	Head func(ctx context.Context, repo, branch string) (string, error)
	// Repo returns a pipeline's configured source repository
	// ((*Engine).SourceRepo), with its credentials: a pull request from the
	// repository itself is resolved there, as the URL in the event has none
	// and a private repository refuses it. Optional: without it every head
	// is read from the event's URL.
	Repo func(pipeline string) (string, error)
	Now  greenlight.Now
	Log  *slog.Logger
	// Retain is how long done deliveries, and so their ids, are kept
	// (default 8 days: forges redeliver for up to a few days).
	Retain time.Duration
	// Retry is the first wait after a delivery failed for a reason that may
	// pass (git unreachable, shutting down); it doubles up to 5 minutes.
	Retry time.Duration
}

// maxAttempts bounds how often one delivery is tried, so that a delivery that
// fails every time (or brings the server down every time) is given up.
const maxAttempts = 10

// Inbox processes the webhook deliveries the web layer stored and
// acknowledged: in inbox order, one at a time, each through the engine's push
// path, recording the outcome for GET /api/v1/deliveries.
//
// Lifecycle: Run until its context ends; Wake may be called at any time,
// from any goroutine, and never blocks. Processing is at least once: a
// delivery cut off by a crash is processed again at the next start, and Push
// keys run creation by the delivery id, so it never starts two runs.
type Inbox struct {
	cfg       InboxConfig
	wake      chan struct{}
	notBefore map[int64]time.Time // deliveries waiting to be retried; Run's goroutine only
}

// NewInbox returns an inbox worker; Run starts it.
func NewInbox(cfg InboxConfig) (*Inbox, error) {
	if cfg.Store == nil || cfg.Push == nil {
		return nil, errors.New("inbox: Store and Push are required")
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Retain <= 0 {
		cfg.Retain = 8 * 24 * time.Hour
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 5 * time.Second
	}
	return &Inbox{cfg: cfg, wake: make(chan struct{}, 1), notBefore: map[int64]time.Time{}}, nil
}

// Wake tells the worker a delivery was queued.
func (in *Inbox) Wake() {
	select {
	case in.wake <- struct{}{}:
	default: // already woken: the next pass sees every queued delivery
	}
}

// Run processes the deliveries left queued by an earlier run of the server,
// then each one queued later, until ctx ends. It prunes old deliveries at
// the start and hourly.
func (in *Inbox) Run(ctx context.Context) {
	in.prune(ctx)
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		wait := in.drain(ctx)
		var retry <-chan time.Time
		var timer *time.Timer
		if wait > 0 {
			timer = time.NewTimer(wait)
			retry = timer.C
		}
		select {
		case <-ctx.Done():
		case <-in.wake:
		case <-retry:
		case <-prune.C:
			in.prune(ctx)
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// drain processes every queued delivery that may be processed now, and
// returns how long until the next retry is due (0: none waits). A delivery
// waiting for a retry holds back the later deliveries of its pipeline, so
// that each pipeline's pushes are handled in the order they came.
func (in *Inbox) drain(ctx context.Context) time.Duration {
	const batch = 100
	var next time.Duration
	// The store lists every pipeline's head before any second delivery, so
	// a batch reaches every pipeline's queue unless more than a batch of
	// pipelines have one; a full batch that is all held back is read again,
	// larger, until the list ends or something can be done.
	limit := batch
	for ctx.Err() == nil {
		queued, err := in.cfg.Store.QueuedDeliveries(ctx, limit)
		if err != nil {
			in.cfg.Log.Error("inbox: list queued deliveries", "err", err)
			return in.cfg.Retry
		}
		blocked := map[string]bool{}
		progress := false
		now := in.cfg.Now()
		for _, d := range queued {
			if ctx.Err() != nil {
				return 0
			}
			if blocked[d.Pipeline] {
				continue
			}
			if due, ok := in.notBefore[d.ID]; ok && now.Before(due) {
				blocked[d.Pipeline] = true
				if wait := due.Sub(now); next == 0 || wait < next {
					next = wait
				}
				continue
			}
			if wait := in.process(ctx, d); wait > 0 {
				in.notBefore[d.ID] = in.cfg.Now().Add(wait)
				blocked[d.Pipeline] = true
				if next == 0 || wait < next {
					next = wait
				}
				continue
			}
			delete(in.notBefore, d.ID)
			progress = true
		}
		if len(queued) < limit {
			return next
		}
		if !progress {
			limit *= 2
			continue
		}
		limit = batch
		next = 0 // a full batch was done: look again, the waits are re-read
	}
	return 0
}

// process handles one delivery and records its outcome; it returns how long
// to wait before trying it again, or 0 when it is done.
func (in *Inbox) process(ctx context.Context, d *greenlight.Delivery) time.Duration {
	log := in.cfg.Log.With("pipeline", d.Pipeline, "delivery", d.DeliveryID)
	finish := func(status greenlight.DeliveryStatus, run int64, result string) time.Duration {
		now := in.cfg.Now()
		d.Status, d.RunID, d.Result, d.DoneAt = status, run, result, &now
		if _, err := in.cfg.Store.UpdateDelivery(ctx, d); err != nil {
			// Left queued: processed again later, and Push starts no
			// second run for it.
			log.Error("inbox: record the outcome", "err", err)
			return in.cfg.Retry
		}
		log.Info("webhook delivery processed", "status", status, "run", run, "result", result)
		return 0
	}
	var p webhook.Push
	if err := json.Unmarshal([]byte(d.Payload), &p); err != nil {
		return finish(greenlight.DeliveryFailed, 0, "the stored event cannot be read: "+err.Error())
	}
	p.DeliveryID = d.DeliveryID
	if d.Attempts >= maxAttempts {
		return finish(greenlight.DeliveryFailed, 0, fmt.Sprintf("given up after %d attempts; last: %s", d.Attempts, d.Result))
	}
	// Count the attempt before acting, so that an attempt cut off by a crash
	// counts too.
	d.Attempts++
	if ok, err := in.cfg.Store.UpdateDelivery(ctx, d); err != nil || !ok {
		if err != nil {
			log.Error("inbox: record an attempt", "err", err)
			return in.cfg.Retry
		}
		return 0 // done meanwhile by another server on the same database
	}
	if p.Abbreviated() {
		ignored, err := in.complete(ctx, d.Pipeline, &p)
		switch {
		case err != nil:
			return in.failed(ctx, d, log, err)
		case ignored != "":
			return finish(greenlight.DeliveryIgnored, 0, ignored)
		}
	}
	run, reason, err := in.cfg.Push(ctx, d.Pipeline, &p)
	switch {
	case err != nil:
		return in.failed(ctx, d, log, err)
	case run != nil:
		return finish(greenlight.DeliveryStarted, run.ID, "")
	}
	return finish(greenlight.DeliveryIgnored, 0, reason)
}

// failed records an error. Errors that may pass (a dependency unavailable, a
// store error, a shutdown) leave the delivery queued for a retry with
// backoff; the others (the pipeline is gone, the event is invalid for it)
// end it.
func (in *Inbox) failed(ctx context.Context, d *greenlight.Delivery, log *slog.Logger, err error) time.Duration {
	msg := greenlight.ErrorMessage(err)
	if msg == "internal error" {
		msg = "internal error (details in the server log)"
	}
	switch greenlight.ErrorCode(err) {
	case greenlight.EUNAVAILABLE, greenlight.EINTERNAL:
		d.Result = "will retry: " + msg
		if _, uerr := in.cfg.Store.UpdateDelivery(ctx, d); uerr != nil {
			log.Error("inbox: record a failed attempt", "err", uerr)
		}
		log.Warn("webhook delivery failed, will retry", "attempt", d.Attempts, "err", err)
		return min(in.cfg.Retry<<min(d.Attempts-1, 10), 5*time.Minute)
	}
	now := in.cfg.Now()
	d.Status, d.Result, d.DoneAt = greenlight.DeliveryFailed, msg, &now
	if _, uerr := in.cfg.Store.UpdateDelivery(ctx, d); uerr != nil {
		log.Error("inbox: record a failure", "err", uerr)
		return in.cfg.Retry
	}
	log.Warn("webhook delivery failed", "err", err)
	return 0
}

// complete replaces the abbreviated head sha of a Bitbucket pull request
// with the full sha its head branch points to now. If the branch has moved
// on, a newer pullrequest:updated event follows for the newer head, so this
// one is ignored. A pull request from the pipeline's own repository is read
// through the configured URL (it has the credentials); one from a fork that
// cannot be read (a private fork: Greenlight has no credentials for it) is
// ignored, since retrying would not help.
func (in *Inbox) complete(ctx context.Context, pipeline string, p *webhook.Push) (ignored string, err error) {
	pr := p.PullRequest
	if in.cfg.Head == nil || pr == nil || pr.HeadRepo == "" {
		return "", greenlight.Errorf(greenlight.EINVALID, "the pull request's head commit %s is abbreviated and cannot be resolved", p.After)
	}
	repo, fork := pr.HeadRepo, true
	if in.cfg.Repo != nil {
		own, err := in.cfg.Repo(pipeline)
		if err != nil {
			return "", err
		}
		if sameRepo(own, pr.HeadRepo) {
			repo, fork = own, false
		}
	}
	hctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	sha, err := in.cfg.Head(hctx, repo, pr.HeadBranch)
	if err != nil && fork && ctx.Err() == nil {
		return fmt.Sprintf("cannot read branch %s of the fork %s, so its abbreviated head commit %s cannot be resolved "+
			"(a private fork needs credentials Greenlight does not have): %s",
			pr.HeadBranch, greenlight.RedactURL(pr.HeadRepo), p.After, greenlight.ErrorMessage(err)), nil
	}
	if err != nil {
		return "", greenlight.Errorf(greenlight.EUNAVAILABLE, "cannot read branch %s of %s: %s",
			pr.HeadBranch, greenlight.RedactURL(repo), greenlight.ErrorMessage(err))
	}
	sha = strings.ToLower(sha)
	if !strings.HasPrefix(sha, p.After) {
		return fmt.Sprintf("branch %s has moved on from %s to %s: its own update event follows", pr.HeadBranch, p.After, sha), nil
	}
	p.After = sha
	return "", nil
}

// sameRepo reports whether two repository addresses (URLs, or scp-like
// user@host:path) name one repository: same host and path, ignoring case,
// user, credentials, port and a trailing ".git".
func sameRepo(a, b string) bool {
	ha, pa := repoName(a)
	hb, pb := repoName(b)
	return ha != "" && pa != "" && strings.EqualFold(ha, hb) && strings.EqualFold(pa, pb)
}

// repoName splits a repository address into host and path; "" if it has no
// host (a local path, or unparsable).
func repoName(repo string) (host, path string) {
	if strings.Contains(repo, "://") {
		u, err := url.Parse(repo)
		if err != nil {
			return "", ""
		}
		host, path = u.Hostname(), u.Path
	} else {
		var ok bool
		host, path, ok = strings.Cut(repo, ":")
		if !ok || strings.Contains(host, "/") {
			return "", ""
		}
		if _, h, ok := strings.Cut(host, "@"); ok {
			host = h
		}
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	return host, strings.Trim(path, "/")
}

// SourceRepo returns a pipeline's configured source repository, for
// InboxConfig.Repo; ENOTFOUND if there is no such pipeline.
func (e *Engine) SourceRepo(pipeline string) (string, error) {
	p, err := e.pipeline(pipeline)
	if err != nil {
		return "", err
	}
	return p.Source.Repo, nil
}

// prune forgets deliveries older than Retain.
func (in *Inbox) prune(ctx context.Context) {
	n, err := in.cfg.Store.PruneDeliveries(ctx, in.cfg.Now().Add(-in.cfg.Retain))
	if err != nil {
		in.cfg.Log.Error("inbox: prune old deliveries", "err", err)
		return
	}
	if n > 0 {
		in.cfg.Log.Info("inbox: pruned old deliveries", "deleted", n)
	}
}
