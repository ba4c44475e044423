package config

import (
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/greenlight-cd/greenlight"
)

// laterStrategy reports whether name is a strategy of SPEC §9 that is
// recognised but not implemented yet.
func laterStrategy(name string) bool {
	switch name {
	case "rolling", "canary", "linear", "blue-green":
		return true
	}
	return false
}

func (d *decoder) environments(pipeline *object, path string, p *Pipeline) {
	if !pipeline.has("environments") {
		return
	}
	m := d.resolve(pipeline.at("environments"))
	switch m.(type) {
	case nil:
		pipeline.fail("environments", false)
		return
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		d.errorf(m, "%s: expected a mapping of environment names, got %s", path, kind(m))
		pipeline.fail("environments", false)
		return
	}
	first := map[string]pos{}
	d.eachEntry(m, path, func(name string, k, v ast.Node) {
		ep := join(path, name)
		switch p0, dup := first[name]; {
		case !greenlight.ValidName(name):
			d.errorf(k, "%s: invalid environment name %q: use lowercase letters, digits and \"-\"", path, name)
			return
		case dup:
			d.errorf(k, "%s: repeated key (first at %d:%d)", ep, p0.line, p0.col)
			return
		}
		first[name] = position(k)
		// Kept even when malformed, so deploy stages naming it are not
		// also reported.
		p.Environments[name] = d.environment(v, ep, name)
	})
}

func (d *decoder) environment(n ast.Node, path, name string) *Environment {
	env := &Environment{Name: name, Strategy: Strategy{Type: StrategyAllAtOnce}, Parallel: 10}
	o, ok := d.object(n, path, "targets", "strategy", "health", "ssh", "groups", "router")
	if !ok {
		return env
	}
	defaults := d.sshDefaults(o, join(path, "ssh"))
	if o.has("groups") {
		d.errorf(o.keyAt("groups"), "%s.groups: target groups (blue-green) are not supported yet", path)
	}
	if o.has("router") {
		d.errorf(o.keyAt("router"), "%s.router: traffic routers are not supported yet", path)
	}
	items := o.sequence("targets")
	if len(items) == 0 && o.valid("targets") && !o.has("groups") {
		d.errorf(o.keyAt("targets"), "%s.targets: at least one target is required", path)
	}
	for i, item := range items {
		if t, ok := d.target(item, index(join(path, "targets"), i), defaults); ok {
			env.Targets = append(env.Targets, t)
		}
	}
	env.Strategy = Strategy{Type: d.strategy(o, join(path, "strategy"))}
	env.Health = d.health(o, join(path, "health"))
	return env
}

// strategy accepts `strategy: NAME` or `strategy: {type: NAME, …}`.
func (d *decoder) strategy(env *object, path string) string {
	if !env.has("strategy") {
		return StrategyAllAtOnce
	}
	n := d.resolve(env.at("strategy"))
	name, at := "", n
	switch n.(type) {
	case nil:
		return StrategyAllAtOnce
	case *ast.MappingNode, *ast.MappingValueNode:
		// Read type first: the other keys depend on it, and for a strategy
		// that is not supported yet one message says everything.
		probe, _ := d.object(n, path, "type", "batch", "max_failed", "steps", "step", "interval", "keep_old")
		if !probe.has("type") {
			d.errorf(probe.node, "%s.type: required", path)
			return StrategyAllAtOnce
		}
		at = probe.at("type")
		name = probe.str("type", "")
		if name == StrategyAllAtOnce {
			for key, f := range probe.fields {
				if key != "type" {
					d.errorf(f.key, "%s: not valid for the %s strategy", join(path, key), name)
				}
			}
		}
		path = join(path, "type")
	default:
		s, ok := d.scalar(n, path)
		if !ok {
			return StrategyAllAtOnce
		}
		name = s
	}
	switch {
	case name == StrategyAllAtOnce:
	case laterStrategy(name):
		d.errorf(at, "%s: strategy %s is not supported yet: only all-at-once", path, name)
	default:
		d.errorf(at, "%s: unknown strategy %q", path, name)
	}
	return StrategyAllAtOnce
}

func (d *decoder) health(env *object, path string) Health {
	o := env.child("health", "url", "timeout", "passes", "interval")
	h := Health{
		URL:      o.str("url", ""),
		Timeout:  o.duration("timeout", 30*time.Second),
		Passes:   o.integer("passes", 1),
		Interval: o.duration("interval", time.Second),
	}
	if h.URL != "" && o.valid("url") {
		// Check the URL as it will be once its templates are filled in.
		if why := httpURLProblem(fillSample(h.URL)); why != "" {
			d.errorf(o.at("url"), "%s.url: invalid URL %q: %s", path, h.URL, why)
		}
	}
	if h.Timeout <= 0 && o.valid("timeout") {
		d.errorf(o.at("timeout"), "%s.timeout: must be positive", path)
	}
	if h.Passes < 1 && o.valid("passes") {
		d.errorf(o.at("passes"), "%s.passes: must be at least 1", path)
	}
	if h.Interval <= 0 && o.valid("interval") {
		d.errorf(o.at("interval"), "%s.interval: must be positive", path)
	}
	return h
}

// fillSample replaces the {host} and {env.NAME} templates of a health URL
// with sample values, so the rest of it can be checked now.
func fillSample(u string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(u, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(u[open:], '}')
		if end < 0 {
			break
		}
		b.WriteString(u[:open])
		switch name := u[open+1 : open+end]; {
		case name == "host":
			b.WriteString("127.0.0.1")
		case strings.HasPrefix(name, "env.") && validEnvName(name[4:]):
			b.WriteString("8080")
		default:
			b.WriteString(u[open : open+end+1])
		}
		u = u[open+end+1:]
	}
	return b.String() + u
}
