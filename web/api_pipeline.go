package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// pipelineJSON is a pipeline as the API shows it: its definition without
// secrets, and its latest run.
type pipelineJSON struct {
	Name         string          `json:"name"`
	Mode         string          `json:"mode"`
	Repo         string          `json:"repo"`
	Branch       string          `json:"branch"`
	Stages       []stageJSON     `json:"stages"`
	Environments []string        `json:"environments"`
	LatestRun    *greenlight.Run `json:"latest_run"`
}

type stageJSON struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Environment string `json:"environment,omitempty"`
}

// handlePipelines lists the configured pipelines with their latest runs.
func handlePipelines(srv *config.Server, store greenlight.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := pipelineViews(r.Context(), srv, store)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// pipelineViews describes every pipeline, in configuration order.
func pipelineViews(ctx context.Context, srv *config.Server, store greenlight.Store) ([]pipelineJSON, error) {
	out := make([]pipelineJSON, 0, len(srv.Pipelines))
	for _, p := range srv.Pipelines {
		v := pipelineJSON{
			Name:         p.Name,
			Mode:         string(p.Mode),
			Repo:         greenlight.RedactURL(p.Source.Repo),
			Branch:       p.Source.Branch,
			Stages:       make([]stageJSON, 0, len(p.Stages)),
			Environments: environmentNames(p),
		}
		if v.Mode == "" {
			v.Mode = "superseded"
		}
		for _, st := range p.Stages {
			v.Stages = append(v.Stages, stageJSON{Name: st.Name, Type: string(st.Type), Environment: st.Environment})
		}
		runs, err := store.Runs(ctx, greenlight.RunFilter{Pipeline: p.Name, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("latest run of %s: %w", p.Name, err)
		}
		if len(runs) > 0 {
			v.LatestRun = runs[0]
		}
		out = append(out, v)
	}
	return out, nil
}

// environmentNames returns the pipeline's environments, sorted.
func environmentNames(p *config.Pipeline) []string {
	names := make([]string, 0, len(p.Environments))
	for name := range p.Environments {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// environmentJSON is an environment's live release and its history, and
// what holds its deploys: lock, next_window and hold (greenlight.DeployGate).
type environmentJSON struct {
	Current *greenlight.Release   `json:"current"`
	History []*greenlight.Release `json:"history"`
	greenlight.DeployGate
}

// historyLimit bounds the releases an environment lists.
const historyLimit = 100

// handleEnvironment shows what is live in one environment and what was.
func handleEnvironment(srv *config.Server, store greenlight.Store, engine Engine, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, env, ok := environmentOr404(w, r, srv)
		if !ok {
			return
		}
		v, err := environmentView(r.Context(), store, engine, p.Name, env)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func environmentView(ctx context.Context, store greenlight.Store, engine Engine, pipeline, env string) (*environmentJSON, error) {
	v := &environmentJSON{History: []*greenlight.Release{}}
	gate, err := engine.DeployGate(ctx, pipeline, env)
	if err != nil {
		return nil, err
	}
	v.DeployGate = *gate
	cur, err := store.LiveRelease(ctx, pipeline, env)
	switch {
	case err == nil:
		v.Current = cur
	case greenlight.ErrorCode(err) != greenlight.ENOTFOUND:
		return nil, fmt.Errorf("live release of %s/%s: %w", pipeline, env, err)
	}
	hist, err := store.Releases(ctx, pipeline, env, historyLimit)
	if err != nil {
		return nil, fmt.Errorf("releases of %s/%s: %w", pipeline, env, err)
	}
	if hist != nil {
		v.History = hist
	}
	return v, nil
}
