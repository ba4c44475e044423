package config

import (
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// strategyKeys are the keys each strategy takes besides type; any other
// is an error naming the strategy.
var strategyKeys = map[string][]string{
	StrategyAllAtOnce: nil,
	StrategyRolling:   {"batch", "max_failed"},
	StrategyCanary:    {"steps"},
	StrategyLinear:    {"step", "interval"},
	StrategyBlueGreen: {"keep_old"},
}

// strategy accepts `strategy: NAME` or `strategy: {type: NAME, …}` with the
// keys of that type. routed says whether the environment has a router,
// which traffic steps need.
func (d *decoder) strategy(env *object, path string, routed bool) Strategy {
	s := Strategy{Type: StrategyAllAtOnce, Batch: Amount{N: 1}}
	if !env.has("strategy") {
		return s
	}
	n := d.resolve(env.at("strategy"))
	var o *object
	switch n.(type) {
	case nil:
		return s
	case *ast.MappingNode, *ast.MappingValueNode:
		o, _ = d.object(n, path, "type", "batch", "max_failed", "steps", "step", "interval", "keep_old")
		if !o.has("type") {
			d.errorf(o.node, "%s.type: required", path)
			return s
		}
		name := o.str("type", "")
		if !o.valid("type") {
			return s
		}
		keys, known := strategyKeys[name]
		if !known {
			d.errorf(o.at("type"), "%s.type: unknown strategy %q (want all-at-once, rolling, canary, linear or blue-green)", path, name)
			return s
		}
		s.Type = name
		for key, f := range o.fields {
			if key != "type" && !slices.Contains(keys, key) {
				d.errorf(f.key, "%s: not valid for the %s strategy", join(path, key), name)
			}
		}
	default:
		name, ok := d.scalar(n, path)
		if !ok {
			return s
		}
		if _, known := strategyKeys[name]; !known {
			d.errorf(n, "%s: unknown strategy %q (want all-at-once, rolling, canary, linear or blue-green)", path, name)
			return s
		}
		s.Type = name
		// The short form takes the defaults; canary and linear have none.
		o = &object{d: d, path: path, node: n, fields: map[string]field{}, failed: map[string]bool{}}
	}

	switch s.Type {
	case StrategyRolling:
		if o.has("batch") {
			if a, ok := d.amount(o.at("batch"), join(path, "batch")); ok {
				s.Batch = a
			}
		}
		s.MaxFailed = o.integer("max_failed", 0)
		if s.MaxFailed < 0 && o.valid("max_failed") {
			d.errorf(o.at("max_failed"), "%s.max_failed: must not be negative", path)
		}
	case StrategyCanary:
		s.Steps = d.canarySteps(o, join(path, "steps"), routed)
	case StrategyLinear:
		if o.missing("step") {
			d.errorf(o.keyAt("step"), "%s.step: required: hosts (or, with a router, traffic) added each interval, like 1 or 25%%", path)
		} else if a, ok := d.amount(o.at("step"), join(path, "step")); ok {
			s.Step = a
		}
		if o.missing("interval") {
			d.errorf(o.keyAt("interval"), "%s.interval: required: how long each step bakes, like 2m", path)
		}
		s.Interval = o.duration("interval", 0)
		if s.Interval <= 0 && o.has("interval") && o.valid("interval") {
			d.errorf(o.at("interval"), "%s.interval: must be positive", path)
		}
	case StrategyBlueGreen:
		s.KeepOld = o.duration("keep_old", 0)
		if s.KeepOld < 0 && o.valid("keep_old") {
			d.errorf(o.at("keep_old"), "%s.keep_old: must not be negative", path)
		}
	}
	return s
}

// canarySteps decodes `steps: [{hosts: 10%, bake: 5m}, {traffic: 100%}]`.
func (d *decoder) canarySteps(o *object, path string, routed bool) []CanaryStep {
	if o.missing("steps") {
		d.errorf(o.keyAt("steps"), "%s: required: like [{hosts: 10%%, bake: 5m}, {hosts: 100%%}]", path)
		return nil
	}
	items := o.sequence("steps")
	if len(items) == 0 {
		if o.valid("steps") {
			d.errorf(o.at("steps"), "%s: at least one step is required", path)
		}
		return nil
	}
	var steps []CanaryStep
	for i, item := range items {
		sp := index(path, i)
		so, ok := d.object(item, sp, "hosts", "traffic", "bake")
		if !ok {
			continue
		}
		var st CanaryStep
		switch {
		case so.has("hosts") && so.has("traffic"):
			d.errorf(so.keyAt("traffic"), "%s: a step moves hosts or traffic, not both", sp)
			continue
		case so.has("hosts"):
			a, ok := d.amount(so.at("hosts"), join(sp, "hosts"))
			if !ok {
				continue
			}
			st.Hosts = a
		case so.has("traffic"):
			a, ok := d.amount(so.at("traffic"), join(sp, "traffic"))
			if !ok {
				continue
			}
			if !a.Percent {
				d.errorf(so.at("traffic"), "%s.traffic: a share of traffic is a percentage, like 10%%", sp)
				continue
			}
			if !routed {
				d.errorf(so.keyAt("traffic"), "%s.traffic: traffic steps need a router (add router: to the environment)", sp)
			}
			st.Traffic = a
		default:
			d.errorf(so.node, "%s: hosts or traffic required, like {hosts: 10%%, bake: 5m}", sp)
			continue
		}
		st.Bake = so.duration("bake", 0)
		if st.Bake < 0 && so.valid("bake") {
			d.errorf(so.at("bake"), "%s.bake: must not be negative", sp)
		}
		steps = append(steps, st)
		if i == len(items)-1 && !reachesAll(st) {
			d.errorf(item, "%s: the last step must reach 100%% (of hosts or traffic)", sp)
		}
	}
	return steps
}

func reachesAll(st CanaryStep) bool {
	return (st.Hosts.Percent && st.Hosts.N == 100) || (st.Traffic.Percent && st.Traffic.N == 100)
}

// amount decodes `3` (hosts, at least 1) or `25%` (1% to 100%).
func (d *decoder) amount(n ast.Node, path string) (Amount, bool) {
	s, ok := d.scalarOf(n, path, "a count or a percentage")
	if !ok {
		return Amount{}, false
	}
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.Atoi(num)
	switch {
	case err != nil:
		d.errorf(n, "%s: invalid amount %q: want a count like 2 or a percentage like 25%%", path, s)
		return Amount{}, false
	case pct && (v < 1 || v > 100):
		d.errorf(n, "%s: %s is not between 1%% and 100%%", path, s)
		return Amount{}, false
	case !pct && v < 1:
		d.errorf(n, "%s: must be at least 1", path)
		return Amount{}, false
	}
	return Amount{N: v, Percent: pct}, true
}
