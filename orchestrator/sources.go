package orchestrator

import (
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/source"
)

// configureSources tells git how to reach each pipeline's repository:
// credentials, submodules and depth come from the server's configuration,
// never from the repository.
func configureSources(g *source.Git, srv *config.Server) {
	for _, p := range srv.Pipelines {
		s := p.Source
		g.Configure(s.Repo, source.Options{Token: s.Token, SSHKey: s.SSHKey, SSHKnownHosts: s.SSHKnownHosts,
			Submodules: s.Submodules, Depth: s.Depth})
	}
}
