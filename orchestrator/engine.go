// Package orchestrator is the only package that knows the order of stages. It
// drives each run through its pipeline as a durable state machine: every
// transition is one store transaction that also appends its events, so a
// restart (even after kill -9) picks up where the database says a run was:
// waiting approvals keep waiting, an interrupted build runs again, an
// interrupted deploy is resumed from its targets' stored states (or rolled
// back, if it was failing or its run was cancelled), blue-green groups due
// for retirement are retired, and due mail is sent by the notifier.
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/artifact"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/deploy"
	"github.com/greenlight-cd/greenlight/runner"
	"github.com/greenlight-cd/greenlight/source"
)

// Config holds the engine's dependencies.
type Config struct {
	Server    *config.Server
	Store     greenlight.Store
	Logs      greenlight.Logs
	Git       *source.Git
	Runner    *runner.Runner
	Artifacts *artifact.Store
	Deployer  *deploy.Deployer
	Approvals *approval.Service
	// Events is called after every transaction that appended events, to wake
	// their subscribers. Optional.
	Events  func()
	WorkDir string // workspaces/ and cache/ live here
	Now     greenlight.Now
	Clock   Clock // for schedules; nil: the real one
	Log     *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Server == nil, c.Store == nil, c.Logs == nil, c.Git == nil, c.Runner == nil,
		c.Artifacts == nil, c.Deployer == nil, c.Approvals == nil:
		return errors.New("orchestrator: missing dependency")
	case c.WorkDir == "":
		return errors.New("orchestrator: WorkDir is required")
	}
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC() }
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Events == nil {
		c.Events = func() {}
	}
	return nil
}

// errShutdown is the cancel cause of work cut off by a server shutdown: such
// work is left as the database says it was, for recovery at the next start.
var errShutdown = errors.New("server shutting down")

// errCancelled is the cancel cause of a run cancelled by a user.
var errCancelled = errors.New("run cancelled")

// Engine runs pipelines. Its methods are safe for concurrent use.
type Engine struct {
	cfg Config

	mu       sync.Mutex
	base     context.Context
	stop     context.CancelCauseFunc
	stopping bool
	active   map[int64]context.CancelCauseFunc // runs that have a goroutine
	again    map[int64]bool                    // runs whose goroutine must look once more
	envs     map[string]chan struct{}          // one deploy at a time per environment
	timers   map[int64]*time.Timer             // runs whose deploy waits for a window (hold.go)
	gates    chan struct{}                     // wakes the gate loop: a gate opened (gate.go)
	retires  chan struct{}                     // wakes the retire loop: a retirement or a lock changed (retire.go)
	wg       sync.WaitGroup                    // run goroutines
	loops    sync.WaitGroup                    // poll and expiry loops
}

// New returns an engine; Start begins its work.
func New(cfg Config) (*Engine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	configureSources(cfg.Git, cfg.Server)
	return &Engine{cfg: cfg, active: map[int64]context.CancelCauseFunc{}, again: map[int64]bool{},
		envs: map[string]chan struct{}{}, timers: map[int64]*time.Timer{}, gates: make(chan struct{}, 1),
		retires: make(chan struct{}, 1)}, nil
}

// Start recovers unfinished runs and starts the pollers, the schedules and
// the approval deadline loop. Work continues until Shutdown.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	e.base, e.stop = context.WithCancelCause(context.WithoutCancel(ctx))
	e.mu.Unlock()
	if err := e.recover(ctx); err != nil {
		return fmt.Errorf("recover runs: %w", err)
	}
	e.loops.Add(1)
	go func() { defer e.loops.Done(); e.expireLoop(e.base) }()
	e.loops.Add(1)
	go func() { defer e.loops.Done(); e.retireLoop(e.base) }()
	for _, p := range e.cfg.Server.Pipelines {
		if p.Source.Poll > 0 {
			e.loops.Add(1)
			go func() { defer e.loops.Done(); e.pollLoop(e.base, p) }()
		}
		if p.Source.Schedule != "" {
			e.loops.Add(1)
			go func() { defer e.loops.Done(); e.scheduleLoop(e.base, p) }()
		}
	}
	return nil
}

// Shutdown stops taking new runs, lets running stages finish until ctx is
// done, then cuts off the rest (they resume at the next start) and waits.
func (e *Engine) Shutdown(ctx context.Context) {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	e.stopTimers()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.cfg.Log.Warn("shutdown: cutting off running stages; they run again at the next start")
	}
	if e.stop != nil {
		e.stop(errShutdown)
	}
	<-done
	e.loops.Wait()
}

// gitTimeout bounds git calls that no stage timeout covers (polling, the
// changes listed in approval mail), so a hung remote stalls nothing for long.
const gitTimeout = 2 * time.Minute

// background is the context for work that must outlive the request that
// caused it (scheduling the next runs): the engine's, once started.
func (e *Engine) background(ctx context.Context) context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.base != nil {
		return e.base
	}
	return context.WithoutCancel(ctx)
}

// pipeline returns the configured pipeline or ENOTFOUND.
func (e *Engine) pipeline(name string) (*config.Pipeline, error) {
	p := e.cfg.Server.Pipeline(name)
	if p == nil {
		return nil, greenlight.Errorf(greenlight.ENOTFOUND, "pipeline %q not found", name)
	}
	return p, nil
}

// stageConfig returns the configuration of a run's stage.
func stageConfig(p *config.Pipeline, name string) *config.Stage {
	for i := range p.Stages {
		if p.Stages[i].Name == name {
			return &p.Stages[i]
		}
	}
	return nil
}
