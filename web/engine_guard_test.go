package web

import "github.com/greenlight-cd/greenlight/orchestrator"

// The real orchestrator is the Engine the server is wired with.
var _ Engine = (*orchestrator.Engine)(nil)
