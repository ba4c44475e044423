package config

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// routerKeys are the keys each router type takes besides type.
var routerKeys = map[string][]string{
	"nginx":   {"upstream_file", "upstream", "reload", "test"},
	"command": {"switch"},
}

var upstreamName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// router decodes `router: {type: nginx, upstream_file, upstream, reload,
// test}` or `router: {type: command, switch}`; nil when absent or broken.
func (d *decoder) router(env *object, path string) *Router {
	if !env.has("router") {
		return nil
	}
	o := env.child("router", "type", "upstream_file", "upstream", "reload", "test", "switch")
	if o.bad {
		return nil
	}
	if o.missing("type") {
		d.errorf(o.node, "%s.type: required: nginx or command", path)
		return nil
	}
	rt := &Router{Type: o.str("type", "")}
	if !o.valid("type") {
		return nil
	}
	keys, known := routerKeys[rt.Type]
	if !known {
		d.errorf(o.at("type"), "%s.type: unknown router %q (want nginx or command)", path, rt.Type)
		return nil
	}
	for key, f := range o.fields {
		if key != "type" && !slices.Contains(keys, key) {
			d.errorf(f.key, "%s: not valid for the %s router", join(path, key), rt.Type)
		}
	}
	switch rt.Type {
	case "nginx":
		rt.UpstreamFile = o.str("upstream_file", "")
		rt.Upstream = o.str("upstream", "")
		rt.Reload = o.str("reload", "nginx -s reload")
		rt.Test = o.str("test", "nginx -t")
		switch {
		case o.missing("upstream_file"):
			d.errorf(o.keyAt("upstream_file"), "%s.upstream_file: required: the file Greenlight writes the upstream block to", path)
		case o.valid("upstream_file") && rt.UpstreamFile == "":
			d.errorf(o.at("upstream_file"), "%s.upstream_file: must not be empty", path)
		case o.valid("upstream_file"):
			rt.UpstreamFile = d.resolvePath(rt.UpstreamFile)
			if !filepath.IsAbs(rt.UpstreamFile) {
				d.errorf(o.at("upstream_file"), "%s.upstream_file: %q is not an absolute path", path, rt.UpstreamFile)
			}
		}
		switch {
		case o.missing("upstream"):
			d.errorf(o.keyAt("upstream"), "%s.upstream: required: the upstream's name in nginx's configuration", path)
		case o.valid("upstream") && !upstreamName.MatchString(rt.Upstream):
			d.errorf(o.at("upstream"), "%s.upstream: invalid name %q: use letters, digits, '.', '_' or '-'", path, rt.Upstream)
		}
		for _, key := range []string{"reload", "test"} {
			if o.has(key) && o.valid(key) && strings.TrimSpace(o.str(key, "")) == "" {
				d.errorf(o.at(key), "%s.%s: must not be empty", path, key)
			}
		}
	case "command":
		rt.Switch = o.str("switch", "")
		switch {
		case o.missing("switch"):
			d.errorf(o.keyAt("switch"), "%s.switch: required: the command run with GREENLIGHT_WEIGHTS", path)
		case o.valid("switch") && strings.TrimSpace(rt.Switch) == "":
			d.errorf(o.at("switch"), "%s.switch: must not be empty", path)
		}
	}
	return rt
}
