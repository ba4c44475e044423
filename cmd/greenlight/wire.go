package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/artifact"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/deploy"
	"github.com/greenlight-cd/greenlight/forge"
	"github.com/greenlight-cd/greenlight/mail"
	"github.com/greenlight-cd/greenlight/notify"
	"github.com/greenlight-cd/greenlight/orchestrator"
	"github.com/greenlight-cd/greenlight/runner"
	"github.com/greenlight-cd/greenlight/source"
	"github.com/greenlight-cd/greenlight/store"
	"github.com/greenlight-cd/greenlight/web"
)

// server is every part of a running Greenlight, wired.
type server struct {
	cfg        *config.Server
	log        *slog.Logger
	store      *store.DB
	engine     *orchestrator.Engine
	inbox      *orchestrator.Inbox
	events     *notify.Loop
	dispatcher *notify.Dispatcher
	statusSend *notify.StatusSender
	poster     *notify.Poster
	handler    http.Handler
}

// loops are the background loops serve runs until shutdown.
func (s *server) loops() []func(context.Context) error {
	return []func(context.Context) error{s.events.Run, s.dispatcher.Run, s.statusSend.Run, s.poster.Run, s.collectLoop}
}

// open builds the server from its configuration. It prints a generated admin
// token once, to stdout.
func open(ctx context.Context, cfg *config.Server, log *slog.Logger, stdout io.Writer) (*server, error) {
	now := func() time.Time { return time.Now().UTC() }
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	token, err := adminToken(cfg, stdout)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.Database, cfg.DataDir, log)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Each installation's builds and hooks get uids of their own.
	hide := hiddenFromBuilds(cfg)
	run, err := runner.New(runner.Config{Sandbox: "auto", Hide: hide, User: cfg.BuildUser, Instance: cfg.DataDir, Log: log})
	if err != nil {
		db.Close()
		return nil, err
	}
	// Deploy hooks of local targets are the repository's code too: they
	// must not see what builds must not see.
	deployer, err := deploy.NewWith(deploy.Config{Log: log, Hide: hide, Instance: cfg.DataDir})
	if err != nil {
		db.Close()
		return nil, err
	}
	var sender mail.Sender = &mail.Outbox{Log: log}
	if cfg.Mail.SMTP != "" {
		if sender, err = mail.NewSMTP(cfg.Mail.SMTP, cfg.Mail.From, log); err != nil {
			db.Close()
			return nil, fmt.Errorf("mail: %w", err)
		}
	} else {
		log.Info("no mail.smtp configured: mail is kept in the outbox (UI /outbox, API /api/v1/outbox) and its links are logged")
	}
	recipients := func(name string) []string {
		if p := cfg.Pipeline(name); p != nil {
			return p.Notify
		}
		return nil
	}
	dispatcher := notify.NewDispatcher(db, sender, cfg.Mail.SMTP != "", now, log)
	notifier := notify.New(notify.Config{Store: db, PublicURL: cfg.PublicURL, Recipients: recipients, Now: now, Log: log,
		Enqueued: dispatcher.Kick, Compare: func(pipeline, from, to string) string {
			if p := cfg.Pipeline(pipeline); p != nil {
				return p.Source.CompareURL(from, to)
			}
			return ""
		}})
	forges, err := forgeClients(cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	statusSend := notify.NewStatusSender(db, func(p string) forge.Client { return forges[p] }, now, log)
	statuses := notify.NewStatusReporter(notify.StatusConfig{Store: db, PublicURL: cfg.PublicURL,
		Reports: func(p string) bool { return forges[p] != nil }, Now: now, Log: log, Queued: statusSend.Kick})
	targets := notificationTargets(cfg)
	poster := notify.NewPoster(db, targets, now, log)
	announcer := notify.NewAnnouncer(notify.AnnounceConfig{Store: db, PublicURL: cfg.PublicURL, Targets: targets,
		Now: now, Log: log, Queued: poster.Kick})
	events := notify.NewLoop(db, log, notifier, statuses, announcer)
	approvals := approval.New(db, now)
	logs := &store.Logs{Dir: filepath.Join(cfg.DataDir, "logs")}
	git := source.New(filepath.Join(cfg.DataDir, "git"), log)
	engine, err := orchestrator.New(orchestrator.Config{
		Server: cfg, Store: db, Logs: logs,
		Git:       git,
		Runner:    run,
		Artifacts: &artifact.Store{Dir: filepath.Join(cfg.DataDir, "artifacts")},
		Deployer:  deployer,
		Approvals: approvals,
		Events:    events.Kick,
		WorkDir:   cfg.DataDir,
		Now:       now,
		Log:       log,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	inbox, err := orchestrator.NewInbox(orchestrator.InboxConfig{Store: db, Push: engine.Push, Head: git.Head,
		Repo: engine.SourceRepo, Now: now, Log: log})
	if err != nil {
		db.Close()
		return nil, err
	}
	handler := web.NewServer(web.Config{Server: cfg, Store: db, Logs: logs, Engine: engine, Inbox: inbox,
		AdminToken: token, Now: now, Log: log})
	return &server{cfg: cfg, log: log, store: db, engine: engine, inbox: inbox, events: events,
		dispatcher: dispatcher, statusSend: statusSend, poster: poster, handler: handler}, nil
}

// notificationTargets are the server's chats and webhooks (notifications:).
func notificationTargets(cfg *config.Server) []notify.Target {
	var out []notify.Target
	for _, n := range cfg.Notifications {
		out = append(out, notify.Target{Name: n.Name, Type: n.Type, URL: n.URL, Secret: n.Secret,
			Events: n.Events, Pipelines: n.Pipelines})
	}
	return out
}

// forgeClients makes the commit-status client of each pipeline with a forge.
func forgeClients(cfg *config.Server) (map[string]forge.Client, error) {
	out := map[string]forge.Client{}
	for _, p := range cfg.Pipelines {
		f := p.Source.Forge
		if f == nil {
			continue
		}
		c, err := forge.New(forge.Config{Type: f.Type, API: f.API, Repo: f.Repo, Token: f.Token})
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: %w", p.Name, err)
		}
		out[p.Name] = c
	}
	return out, nil
}

func (s *server) close() {
	if err := s.store.Close(); err != nil {
		s.log.Error("close database", "err", err)
	}
}

// adminToken returns the configured admin token, or the one generated on the
// first start and kept at <data_dir>/admin-token (0600), printed only then.
func adminToken(cfg *config.Server, stdout io.Writer) (string, error) {
	if cfg.AdminToken != "" {
		return cfg.AdminToken, nil
	}
	path := filepath.Join(cfg.DataDir, "admin-token")
	data, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(data))) >= config.MinAdminToken {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	token, _ := greenlight.NewToken() // 32 random bytes, base64url
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	fmt.Fprintf(stdout, "Generated an admin token (kept in %s; shown only now):\n  %s\n", path, token)
	return token, nil
}
