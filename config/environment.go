package config

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/greenlight-cd/greenlight"
)

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
	env := &Environment{Name: name, Strategy: Strategy{Type: StrategyAllAtOnce, Batch: Amount{N: 1}}, Parallel: 10, Keep: 5}
	o, ok := d.object(n, path, "targets", "strategy", "health", "ssh", "groups", "router", "keep", "parallel", "windows", "freezes")
	if !ok {
		return env
	}
	defaults := d.sshDefaults(o, join(path, "ssh"))
	env.Router = d.router(o, join(path, "router"))
	env.Strategy = d.strategy(o, join(path, "strategy"), env.Router != nil || o.has("router"))
	blueGreen := env.Strategy.Type == StrategyBlueGreen

	var nodes []ast.Node // each target's node, for messages about it
	switch {
	case o.has("targets") && o.has("groups"):
		d.errorf(o.keyAt("groups"), "%s.groups: targets and groups exclude each other: a blue-green environment lists its targets in groups", path)
	case o.has("groups") && !blueGreen:
		d.errorf(o.keyAt("groups"), "%s.groups: target groups are for the blue-green strategy only", path)
	case o.has("groups"):
		env.Groups, env.Targets, nodes = d.groups(o, join(path, "groups"), defaults)
	case blueGreen:
		d.errorf(o.keyAt("targets"), "%s: the blue-green strategy needs groups (groups: {blue: [...], green: [...]}) instead of targets", path)
	default:
		items := o.sequence("targets")
		if len(items) == 0 && o.valid("targets") {
			d.errorf(o.keyAt("targets"), "%s.targets: at least one target is required", path)
		}
		for i, item := range items {
			if t, ok := d.target(item, index(join(path, "targets"), i), defaults); ok {
				env.Targets = append(env.Targets, t)
				nodes = append(nodes, item)
			}
		}
	}

	if o.has("router") {
		switch env.Strategy.Type {
		case StrategyAllAtOnce, StrategyRolling:
			d.errorf(o.keyAt("router"), "%s.router: the %s strategy does not steer traffic: use canary, linear or blue-green", path, env.Strategy.Type)
		}
		// The router sends traffic to {host}:{env.PORT}.
		for i, t := range env.Targets {
			port, ok := t.Env["PORT"]
			if !ok {
				d.errorf(nodes[i], "%s: target %s has no env.PORT: the router sends its traffic to host:PORT", path, t.Name())
			} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				d.errorf(nodes[i], "%s: target %s: env.PORT %q is not a port (1 to 65535)", path, t.Name(), port)
			}
		}
	} else if blueGreen {
		d.errorf(o.keyAt("strategy"), "%s.strategy: blue-green needs a router (router: {type: nginx, …} or {type: command, …}) to switch traffic", path)
	}

	env.Health = d.health(o, join(path, "health"))
	env.Keep = o.integer("keep", 5)
	if env.Keep < 1 && o.valid("keep") {
		d.errorf(o.at("keep"), "%s.keep: must be at least 1 (the live release)", path)
	}
	env.Windows = d.windows(o, join(path, "windows"))
	env.Freezes = d.freezes(o, join(path, "freezes"))
	env.Parallel = o.integer("parallel", 10)
	if env.Parallel < 1 && o.valid("parallel") {
		d.errorf(o.at("parallel"), "%s.parallel: must be at least 1", path)
	}
	return env
}

// groups decodes `groups: {blue: [targets], green: [targets]}`: at least
// two groups, each with a target; every target gets its group.
func (d *decoder) groups(env *object, path string, defaults sshDefaults) ([]string, []Target, []ast.Node) {
	m := d.resolve(env.at("groups"))
	switch m.(type) {
	case nil:
		return nil, nil, nil
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		d.errorf(m, "%s: expected a mapping of group names to targets, got %s", path, kind(m))
		return nil, nil, nil
	}
	var names []string
	var targets []Target
	var nodes []ast.Node
	d.eachEntry(m, path, func(name string, k, v ast.Node) {
		gp := join(path, name)
		switch {
		case !greenlight.ValidName(name):
			d.errorf(k, "%s: invalid group name %q: use lowercase letters, digits and \"-\"", path, name)
			return
		case slices.Contains(names, name):
			d.errorf(k, "%s: repeated key", gp)
			return
		}
		names = append(names, name)
		items, ok := d.sequence(v, gp)
		if ok && len(items) == 0 {
			d.errorf(k, "%s: at least one target is required", gp)
		}
		for i, item := range items {
			if t, ok := d.target(item, index(gp, i), defaults); ok {
				t.Group = name
				targets = append(targets, t)
				nodes = append(nodes, item)
			}
		}
	})
	if len(names) < 2 {
		d.errorf(env.keyAt("groups"), "%s: blue-green needs at least two groups, like {blue: [...], green: [...]}", path)
	}
	return names, targets, nodes
}

func (d *decoder) health(env *object, path string) Health {
	o := env.child("health", "url", "body", "command", "timeout", "passes", "interval")
	h := Health{
		URL:      o.str("url", ""),
		Body:     o.str("body", ""),
		Command:  o.str("command", ""),
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
	if h.Body != "" && o.valid("body") {
		if _, err := regexp.Compile(h.Body); err != nil {
			d.errorf(o.at("body"), "%s.body: invalid regular expression: %v", path, err)
		}
		if h.URL == "" && o.valid("url") {
			d.errorf(o.keyAt("body"), "%s.body: needs a url to check the answer of", path)
		}
	}
	if o.has("command") && o.valid("command") && strings.TrimSpace(h.Command) == "" {
		d.errorf(o.at("command"), "%s.command: must not be empty", path)
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
