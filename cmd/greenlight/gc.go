package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/retention"
	"github.com/greenlight-cd/greenlight/store"
)

// A serving server collects once a while after it starts, then daily.
const (
	collectFirst = 10 * time.Minute
	collectEvery = 24 * time.Hour
)

func gcCommand(getenv env, stdout io.Writer) *cobra.Command {
	var file string
	var dry bool
	cmd := &cobra.Command{
		Use:   "gc [--dry-run] [--config greenlight.yml]",
		Short: "Delete what retention: lets go (old runs, logs, artifacts, workspaces, mail); --dry-run lists it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(file, getenv)
			if err != nil {
				return err
			}
			st, err := store.Open(cmd.Context(), cfg.Database, cfg.DataDir, nil)
			if err != nil {
				return err
			}
			defer st.Close()
			plan, res, err := collect(cmd.Context(), st, cfg, time.Now().UTC(), dry)
			if err != nil {
				return err
			}
			for _, l := range plan.Lines() {
				if dry {
					fmt.Fprintln(stdout, "would delete", l)
				}
			}
			if dry {
				fmt.Fprintf(stdout, "%d things would be deleted (dry run: nothing was)\n", len(plan.Lines()))
			} else {
				fmt.Fprintln(stdout, res)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "config", "greenlight.yml", "the server configuration")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "list what would be deleted, delete nothing")
	return cmd
}

// collect applies the configuration's retention (or only plans it).
func collect(ctx context.Context, st greenlight.Store, cfg *config.Server, now time.Time, dry bool) (*retention.Plan, retention.Result, error) {
	pol := retention.Policy{Runs: cfg.Retention.Runs, Logs: cfg.Retention.Logs, Keep: cfg.Retention.Keep}
	dirs := retention.Dirs{Logs: filepath.Join(cfg.DataDir, "logs"), Artifacts: filepath.Join(cfg.DataDir, "artifacts"),
		Workspaces: filepath.Join(cfg.DataDir, "workspaces")}
	plan, err := retention.Make(ctx, st, pol, environments(cfg), dirs, now)
	if err != nil || dry {
		return plan, retention.Result{}, err
	}
	res, err := plan.Apply(ctx, st, dirs)
	return plan, res, err
}

// environments names every configured pipeline's environments.
func environments(cfg *config.Server) retention.Environments {
	envs := retention.Environments{}
	for _, p := range cfg.Pipelines {
		envs[p.Name] = []string{}
		for name := range p.Environments {
			envs[p.Name] = append(envs[p.Name], name)
		}
	}
	return envs
}

// collectLoop applies retention while serving: a while after the start,
// then daily. A failed collection is logged and tried at the next time.
func (s *server) collectLoop(ctx context.Context) error {
	wait := collectFirst
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = collectEvery
		_, res, err := collect(ctx, s.store, s.cfg, time.Now().UTC(), false)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("retention", "err", err)
			}
			continue
		}
		s.log.Info("retention", "deleted", res.String())
	}
}
