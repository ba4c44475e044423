package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/datadir"
	"github.com/greenlight-cd/greenlight/sandbox"
)

func serveCommand(getenv env, stdout, stderr io.Writer) *cobra.Command {
	var file string
	var drain time.Duration
	cmd := &cobra.Command{
		Use:   "serve [--config greenlight.yml]",
		Short: "Run the server: UI, API, webhooks, approval pages and pipelines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// First: processes of the server's uid (a deploy hook's app, when
			// the server is not root) must not read its memory or its
			// environment, which holds the admin token and the secrets.
			if err := sandbox.NoDump(); err != nil {
				return err
			}
			cfg, err := config.Load(file, getenv)
			if err != nil {
				return err // each line names the file
			}
			// Before anything touches the data directory (the admin token,
			// the database and its migrations): one server per directory.
			lock, err := datadir.Acquire(cfg.DataDir)
			if err != nil {
				return err
			}
			defer lock.Close()
			log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			srv, err := open(cmd.Context(), cfg, log, stdout)
			if err != nil {
				return err
			}
			return srv.serve(cmd.Context(), drain)
		},
	}
	cmd.Flags().StringVar(&file, "config", "greenlight.yml", "the server configuration")
	cmd.Flags().DurationVar(&drain, "drain", 30*time.Second, "on SIGTERM, how long running stages may finish before they are cut off (they resume at the next start)")
	return cmd
}

// serve listens until ctx ends, then shuts down gracefully: the HTTP server
// stops taking requests, running stages get drain to finish, loops stop.
func (s *server) serve(ctx context.Context, drain time.Duration) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	return s.serveOn(ctx, ln, drain)
}

func (s *server) serveOn(ctx context.Context, ln net.Listener, drain time.Duration) error {
	// Slow clients: headers within 10 s, idle keep-alives for 2 min; each
	// route bounds its body's read time itself (web/limits.go). No
	// ReadTimeout or WriteTimeout: they would cut webhook bodies that may
	// take 30 s and log streams that may take hours.
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	loops := s.loops()
	done := make(chan struct{}, len(loops)+1)
	for _, run := range loops {
		go func() { run(bg); done <- struct{}{} }()
	}
	if err := s.engine.Start(ctx); err != nil {
		stopBG()
		return err
	}
	// The inbox starts after the engine: webhook deliveries left queued by a
	// crash become runs only once the engine has recovered the earlier ones.
	go func() { s.inbox.Run(bg); done <- struct{}{} }()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("greenlight is serving", "listen", ln.Addr().String(), "public_url", s.cfg.PublicURL)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.log.Info("shutting down", "drain", drain)
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = hs.Shutdown(shutCtx)
	cancel()
	drainCtx, cancel := context.WithTimeout(context.Background(), drain)
	s.engine.Shutdown(drainCtx)
	cancel()
	stopBG()
	for range len(loops) + 1 {
		<-done
	}
	s.close()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}
