package orchestrator

import (
	"context"
	"errors"

	"github.com/greenlight-cd/greenlight/deploy"
)

// rollbackDeploy returns every target of req that a cut-off deploy changed
// to its stored Previous release (req.Resume).
// TODO(strategy merge): call Deployer.Rollback.
func (e *Engine) rollbackDeploy(ctx context.Context, req deploy.Request) (deploy.Result, error) {
	return deploy.Result{}, errors.New("rollback of an interrupted deploy is not available yet")
}

// retireGroup runs the stop hook of a blue-green group made idle by a switch.
// TODO(strategy merge): call Deployer.Retire.
func (e *Engine) retireGroup(ctx context.Context, req deploy.Request, group string) error {
	return errors.New("retiring a blue-green group is not available yet")
}
