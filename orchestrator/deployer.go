package orchestrator

import (
	"context"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/deploy"
)

// rollbackDeploy returns every target of req that a cut-off deploy changed
// to its stored Previous release (req.Resume).
func (e *Engine) rollbackDeploy(ctx context.Context, req deploy.Request) (deploy.Result, error) {
	return e.cfg.Deployer.Rollback(ctx, req)
}

// retireGroup runs the stop hook of rel (the release a blue-green group
// runs) on the group's targets, once a switch made the group idle.
func (e *Engine) retireGroup(ctx context.Context, req deploy.Request, rel *greenlight.Release, group string) error {
	return e.cfg.Deployer.Retire(ctx, deploy.RetireRequest{Pipeline: req.Pipeline, Environment: req.Environment,
		Release: rel.DirName(), Group: group, Targets: req.Targets, HookTimeout: req.HookTimeout,
		Log: req.Log})
}
