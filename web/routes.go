package web

import "net/http"

// routes lists every URL Greenlight serves (SPEC §7).
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()

	mux.HandleFunc("GET /healthz", handleHealth(s.cfg.Store))
	mux.Handle("GET /static/", handleStatic(s.static))

	// Push webhooks: authenticated by each pipeline's webhook_secret. At
	// most maxHooksInFlight bodies are read at once, each within
	// hookBodyDeadline; any other method is a 405.
	mux.HandleFunc("POST /hooks/{pipeline}", handleHook(s.cfg.Server, s.cfg.Store, s.cfg.Inbox, s.cfg.Now, s.cfg.Log))
	mux.HandleFunc("/hooks/{pipeline}", handleHookMethod())
	mux.HandleFunc("/hooks/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "webhooks are posted to /hooks/{pipeline}")
	})

	// Approval decision pages: the token in the URL is the credential.
	mux.HandleFunc("GET /approvals/{token}", s.handleDecisionPage())
	mux.HandleFunc("POST /approvals/{token}", smallForm(s.sameOrigin(s.handleDecide())))

	// JSON API: Authorization: Bearer <admin token>.
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.requireToken(h)) }
	api("GET /api/v1/pipelines", handlePipelines(s.cfg.Server, s.cfg.Store, s.cfg.Log))
	api("POST /api/v1/pipelines/{name}/runs", handleTrigger(s.cfg.Server, s.cfg.Engine, s.cfg.Log))
	api("GET /api/v1/pipelines/{name}/environments/{env}", handleEnvironment(s.cfg.Server, s.cfg.Store, s.cfg.Engine, s.cfg.Log))
	api("POST /api/v1/pipelines/{name}/environments/{env}/lock", handleLock(s.cfg.Server, s.cfg.Engine, s.cfg.Log))
	api("DELETE /api/v1/pipelines/{name}/environments/{env}/lock", handleUnlock(s.cfg.Server, s.cfg.Store, s.cfg.Engine, s.cfg.Log))
	api("POST /api/v1/pipelines/{name}/environments/{env}/rollback", handleRollback(s.cfg.Server, s.cfg.Engine, s.cfg.Log))
	api("GET /api/v1/runs", handleRuns(s.cfg.Store, s.cfg.Log))
	api("GET /api/v1/runs/{id}", handleRun(s.cfg.Store, s.cfg.Log))
	api("POST /api/v1/runs/{id}/cancel", handleCancel(s.cfg.Engine, s.cfg.Log))
	api("POST /api/v1/runs/{id}/override", handleOverride(s.cfg.Engine, s.cfg.Log))
	api("GET /api/v1/runs/{id}/logs", handleRunLogs(s.cfg.Store, s.cfg.Logs, s.cfg.Log))
	api("GET /api/v1/approvals", handleApprovals(s.cfg.Store, s.cfg.Log))
	api("GET /api/v1/outbox", handleOutbox(s.cfg.Store, s.cfg.Log))
	api("GET /api/v1/deliveries", handleDeliveries(s.cfg.Store, s.cfg.Log))
	api("GET /api/v1/notices", handleNotices(s.cfg.Store, s.cfg.Log))
	api("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no such endpoint")
	})

	// Admin UI: a session cookie from /login.
	mux.HandleFunc("GET /login", s.handleLoginPage())
	mux.HandleFunc("POST /login", smallForm(s.sameOrigin(s.handleLogin())))
	mux.HandleFunc("POST /logout", s.sameOrigin(s.handleLogout()))
	ui := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.requireSession(h)) }
	ui("GET /{$}", s.handleIndexPage())
	ui("GET /pipelines/{name}", s.handlePipelinePage())
	ui("GET /runs/{id}", s.handleRunPage())
	ui("POST /runs/{id}/cancel", s.sameOrigin(s.handleCancelForm()))
	ui("GET /runs/{id}/logs/{stage}", handleStageLog(s.cfg.Store, s.cfg.Logs, s.cfg.Log))
	ui("GET /approvals", s.handleApprovalsPage())
	ui("GET /outbox", s.handleOutboxPage())

	// Anything else a browser asks for: a page, not the mux's plain text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusNotFound, "There is nothing at this address.")
	})

	// Every body, on any route, must arrive within anyBodyTimeout; the
	// routes above may shorten that.
	return bodyDeadline(mux)
}
