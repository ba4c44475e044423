package orchestrator

import (
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/deploy"
)

// deployPlan is the part of a deploy.Request an environment's configuration
// decides: targets (local and SSH, with their blue-green groups), strategy,
// router, health check and parallelism. The caller adds the release, the
// artifact, hooks, log and progress. It is the one place configuration
// becomes a deploy, so a key the config learns is passed on here or nowhere.
func deployPlan(env *config.Environment) deploy.Request {
	req := deploy.Request{
		Environment: env.Name,
		Strategy: deploy.Strategy{
			Type:      env.Strategy.Type,
			Batch:     deploy.Amount(env.Strategy.Batch),
			MaxFailed: env.Strategy.MaxFailed,
			Step:      deploy.Amount(env.Strategy.Step),
			Interval:  env.Strategy.Interval,
			KeepOld:   env.Strategy.KeepOld,
		},
		Health: deploy.Health{URL: env.Health.URL, Body: env.Health.Body, Command: env.Health.Command,
			Timeout: env.Health.Timeout, Passes: env.Health.Passes, Interval: env.Health.Interval},
		Parallel: env.Parallel,
		Keep:     env.Keep,
	}
	for _, s := range env.Strategy.Steps {
		req.Strategy.Steps = append(req.Strategy.Steps, deploy.CanaryStep{Hosts: deploy.Amount(s.Hosts),
			Traffic: deploy.Amount(s.Traffic), Bake: s.Bake})
	}
	if r := env.Router; r != nil {
		req.Router = &deploy.Router{Type: r.Type, UpstreamFile: r.UpstreamFile, Upstream: r.Upstream,
			Reload: r.Reload, Test: r.Test, Switch: r.Switch}
	}
	for _, t := range env.Targets {
		dt := deploy.Target{Local: t.Local, Group: t.Group, Env: t.Env, User: t.User}
		if s := t.SSH; s != nil {
			dt.SSH = &deploy.SSHTarget{User: s.User, Host: s.Host, Port: s.Port, Dir: s.Dir,
				Key: s.Key, KnownHosts: s.KnownHosts}
		}
		req.Targets = append(req.Targets, dt)
	}
	return req
}
