package deploy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// commandRouter hands the weights to a command of the user's, which steers
// whatever load balancer they run. It gets GREENLIGHT_WEIGHTS, e.g.
// `127.0.0.1:8081=90,127.0.0.1:8082=10` (every target's host:port, in the
// order of the targets; 0 = no traffic), and GREENLIGHT_ENVIRONMENT. A
// non-zero exit fails the deploy, which then rolls back.
type commandRouter struct {
	cmd, environment string
	run              *shell
	log              *lineWriter
}

// Set runs the switch command with the weights.
func (c *commandRouter) Set(ctx context.Context, ws []weight) error {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Server + "=" + strconv.Itoa(max(w.Weight, 0))
	}
	weights := strings.Join(parts, ",")
	c.log.Printf("GREENLIGHT_WEIGHTS=%s", weights)
	if _, err := c.run.run(ctx, c.cmd, "GREENLIGHT_WEIGHTS="+weights, "GREENLIGHT_ENVIRONMENT="+c.environment); err != nil {
		return fmt.Errorf("switch command failed: %w", err)
	}
	return nil
}
