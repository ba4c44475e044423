package config

import (
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/greenlight-cd/greenlight"
)

// uniqueName reads o's required `name`, a valid name of its own among the
// names of that kind in scope (a pipeline's stages, a gate's rules; "" for
// the whole file), and reports what is wrong with it at its place.
func (d *decoder) uniqueName(o *object, path, kind, scope string) string {
	name := o.str("name", "")
	switch {
	case o.missing("name"):
		d.errorf(o.node, "%s.name: required", path)
	case !o.valid("name"):
	case !greenlight.ValidName(name):
		d.errorf(o.at("name"), "%s.name: invalid name %q: use lowercase letters, digits and \"-\"", path, name)
	default:
		if first, dup := d.firstSeen(kind+"\x00"+scope, name, o.at("name")); dup {
			d.errorf(o.at("name"), "%s.name: duplicate %s name %q (first at %d:%d)", path, kind, name, first.line, first.col)
		}
	}
	return name
}

// firstSeen records name under kind and reports where it was first seen, for
// "duplicate" messages that point back at the original.
func (d *decoder) firstSeen(kind, name string, at ast.Node) (pos, bool) {
	if d.seen == nil {
		d.seen = map[string]pos{}
	}
	k := kind + "\x00" + name
	if p, dup := d.seen[k]; dup {
		return p, true
	}
	d.seen[k] = position(at)
	return pos{}, false
}

func (d *decoder) pipeline(n ast.Node, path string) *Pipeline {
	o, ok := d.object(n, path, "name", "mode", "source", "secrets", "notify", "stages", "environments")
	if !ok {
		return nil
	}
	p := &Pipeline{Name: d.uniqueName(o, path, "pipeline", ""), Environments: map[string]*Environment{}}

	p.Mode = o.str("mode", ModeSuperseded)
	switch p.Mode {
	case ModeSuperseded, ModeQueued, ModeParallel:
	case "":
		if o.valid("mode") {
			d.errorf(o.at("mode"), "%s.mode: must not be empty", path)
		}
	default:
		d.errorf(o.at("mode"), "%s.mode: unknown mode %q: use superseded, queued or parallel", path, p.Mode)
	}

	d.source(o, join(path, "source"), &p.Source)
	p.Secrets = d.secrets(o, join(path, "secrets"))

	notify, nodes := o.strings("notify")
	for i, addr := range notify {
		if !plainEmail(addr) {
			d.errorf(nodes[i], "%s: %q is not a plain email address (like dev@example.com)", index(join(path, "notify"), i), addr)
		}
	}
	p.Notify = notify

	d.environments(o, join(path, "environments"), p)
	d.stages(o, join(path, "stages"), p)
	return p
}

// stageKeys are the keys a stage type accepts besides name and type.
func stageKeys(t greenlight.StageType) ([]string, bool) {
	switch t {
	case greenlight.StageBuild:
		return []string{"file", "timeout", "network", "cache", "limits"}, true
	case greenlight.StageDeploy:
		return []string{"environment", "timeout"}, true
	case greenlight.StageApproval:
		return []string{"approvers", "required", "timeout", "review_url", "rules", "self_approval", "comment",
			"on_timeout", "remind", "escalate", "wait"}, true
	}
	return nil, false
}

func (d *decoder) stages(pipeline *object, path string, p *Pipeline) {
	items := pipeline.sequence("stages")
	if len(items) == 0 && pipeline.valid("stages") {
		d.errorf(pipeline.keyAt("stages"), "%s: at least one stage is required", path)
	}
	built := false
	for i, n := range items {
		sp := index(path, i)
		o, ok := d.object(n, sp, "name", "type", "file", "timeout", "network", "cache", "limits", "environment", "approvers", "required", "review_url",
			"rules", "self_approval", "comment", "on_timeout", "remind", "escalate", "wait")
		if !ok {
			continue
		}
		st := Stage{Name: d.uniqueName(o, sp, "stage", path), Type: greenlight.StageType(o.str("type", ""))}
		keys, known := stageKeys(st.Type)
		switch {
		case o.missing("type"):
			d.errorf(o.node, "%s.type: required: build, deploy or approval", sp)
			continue
		case !o.valid("type"):
			continue
		case !known:
			d.errorf(o.at("type"), "%s.type: unknown stage type %q: use build, deploy or approval", sp, st.Type)
			continue
		}
		for key, f := range o.fields {
			if key != "name" && key != "type" && !slices.Contains(keys, key) {
				d.errorf(f.key, "%s: not valid for a %s stage", join(sp, key), st.Type)
			}
		}
		switch st.Type {
		case greenlight.StageBuild:
			built = true
			st.Timeout = o.duration("timeout", DefaultBuildTimeout)
			st.File = o.str("file", ".greenlight.yml")
			if why := relativeProblem(st.File, "repository"); why != "" && o.valid("file") {
				d.errorf(o.at("file"), "%s.file: invalid path %q: %s", sp, st.File, why)
			}
			d.buildStage(o, sp, &st)
		case greenlight.StageDeploy:
			st.Timeout = o.duration("timeout", DefaultDeployTimeout)
			d.deployStage(o, sp, p, &st, built, pipeline.valid("environments"))
		case greenlight.StageApproval:
			st.Timeout = o.duration("timeout", DefaultApprovalTimeout)
			d.approvalStage(o, sp, &st)
		}
		if st.Timeout <= 0 && o.valid("timeout") {
			d.errorf(o.at("timeout"), "%s.timeout: must be positive", sp)
		}
		p.Stages = append(p.Stages, st)
	}
}

func (d *decoder) deployStage(o *object, path string, p *Pipeline, st *Stage, built, envsOK bool) {
	st.Environment = o.str("environment", "")
	switch {
	case o.missing("environment"):
		d.errorf(o.node, "%s.environment: required for a deploy stage", path)
	case !o.valid("environment") || !envsOK:
	case p.Environments[st.Environment] == nil:
		d.errorf(o.at("environment"), "%s.environment: no environment %q in this pipeline's environments", path, st.Environment)
	}
	if !built {
		d.errorf(o.at("type"), "%s: a deploy stage must come after a build stage (it deploys the build's artifact)", path)
	}
}

// secrets reads the pipeline's secrets: environment names to values, given
// to build steps. GREENLIGHT_* names are the server's own and refused.
func (d *decoder) secrets(o *object, path string) map[string]string {
	secrets := o.env("secrets")
	if len(secrets) == 0 {
		return secrets
	}
	var entries []*ast.MappingValueNode
	switch m := d.resolve(o.fields["secrets"].value).(type) {
	case *ast.MappingNode:
		entries = m.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{m}
	}
	for _, e := range entries {
		if name, ok := text(e.Key); ok && strings.HasPrefix(strings.ToUpper(name), "GREENLIGHT_") {
			d.errorf(e.Key, "%s.%s: names starting with GREENLIGHT_ are reserved for Greenlight", path, name)
			delete(secrets, name)
		}
	}
	return secrets
}
