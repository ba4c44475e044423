// Package web serves every HTTP surface of Greenlight (SPEC §6–§7): the JSON
// API, the push webhook endpoint, the public approval decision pages, the
// admin UI and /healthz. It decides nothing about runs: it checks input,
// authenticates, and calls the Engine or reads the Store. routes.go is the map
// of every URL.
package web

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/config"
)

// Engine is what the web layer needs from the orchestrator (implemented by
// *orchestrator.Engine).
//
// Contract: methods are safe for concurrent use and ctx bounds each call.
// Errors meant for users are *greenlight.Error; their code picks the HTTP
// status (ENOTFOUND 404, EINVALID 400, ECONFLICT 409, EGONE 410, …), anything
// else is a 500 whose detail is logged, never shown.
type Engine interface {
	// Trigger starts a run of the pipeline.
	Trigger(ctx context.Context, pipeline string, req greenlight.TriggerRequest) (*greenlight.Run, error)
	// Cancel cancels a run that has not finished (ECONFLICT if it has).
	Cancel(ctx context.Context, runID int64) (*greenlight.Run, error)
	// Rollback starts a run deploying an earlier release of env again: run
	// fromRun's, or with 0 the one live before the current one.
	Rollback(ctx context.Context, pipeline, env string, fromRun int64) (*greenlight.Run, error)
	// Lock holds every deploy to env (a rollback excepted) until Unlock; by
	// names the caller. EINVALID without a reason, ENOTFOUND for an unknown
	// pipeline or environment, ECONFLICT if env is locked already.
	Lock(ctx context.Context, pipeline, env, by, reason string) (*greenlight.EnvironmentLock, error)
	// Unlock removes env's lock and at once starts the deploys it held that
	// the windows and freezes allow. ECONFLICT if env was not locked.
	Unlock(ctx context.Context, pipeline, env, by string) error
	// DeployGate says what holds deploys to env now: its lock, the next
	// moment its windows and freezes allow one, and why one would wait.
	DeployGate(ctx context.Context, pipeline, env string) (*greenlight.DeployGate, error)
	// Override starts now the deploy of a run waiting on a window, freeze
	// or lock, and records who did it and why. EINVALID without a reason,
	// ECONFLICT if the run is not waiting on one of those.
	Override(ctx context.Context, runID int64, by, reason string) (*greenlight.Run, error)
	// Lookup shows what a token approves; it changes nothing.
	Lookup(ctx context.Context, token string) (*approval.View, error)
	// Decide records a decision through a token.
	Decide(ctx context.Context, token string, in approval.Input) (*approval.Outcome, error)
}

// Config holds the server's dependencies. Server, Store, Logs and Engine are
// required.
type Config struct {
	Server     *config.Server
	Store      greenlight.Store // reads: runs, approvals, releases, mail
	Logs       greenlight.Logs
	Engine     Engine
	Inbox      Inbox  // woken when a webhook delivery is queued; optional
	AdminToken string // "" means Server.AdminToken; an empty token admits no one
	Now        greenlight.Now
	Log        *slog.Logger
}

// server is the state shared by the handlers.
type server struct {
	cfg      Config
	origin   string // scheme://host of PublicURL, what a POST's Origin must be
	secure   bool   // PublicURL is https: cookies get Secure
	pages    *pages
	sessions *sessions
	static   fs.FS
	throttle *throttle // pauses clients after wrong admin tokens
}

// NewServer returns the handler of every Greenlight URL.
func NewServer(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.AdminToken == "" && cfg.Server != nil {
		cfg.AdminToken = cfg.Server.AdminToken
	}
	s := &server{
		cfg:      cfg,
		pages:    mustParsePages(),
		sessions: newSessions(cfg.Now, sessionTTL),
		static:   staticFS(),
		throttle: newThrottle(cfg.Now),
	}
	if cfg.Server != nil {
		if u, err := url.Parse(cfg.Server.PublicURL); err == nil && u.Host != "" {
			s.origin = u.Scheme + "://" + u.Host
			s.secure = u.Scheme == "https"
		}
	}
	return securityHeaders(s.routes())
}
