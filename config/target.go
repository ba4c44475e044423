package config

import (
	"path/filepath"

	"github.com/goccy/go-yaml/ast"
)

// sshDefaults are an environment's `ssh:` settings, the defaults of its ssh
// targets.
type sshDefaults struct {
	Key, KnownHosts string
}

// sshDefaults reads an environment's `ssh:` key.
func (d *decoder) sshDefaults(env *object, path string) sshDefaults {
	if env.has("ssh") {
		d.errorf(env.keyAt("ssh"), "%s: ssh targets are not supported yet", path)
	}
	return sshDefaults{}
}

func (d *decoder) target(n ast.Node, path string, defaults sshDefaults) (Target, bool) {
	o, ok := d.object(n, path, "local", "env", "ssh", "dir")
	if !ok {
		return Target{}, false
	}
	var t Target
	switch {
	case o.has("ssh"):
		d.errorf(o.keyAt("ssh"), "%s.ssh: ssh targets are not supported yet", path)
	case o.has("dir"):
		d.errorf(o.keyAt("dir"), "%s.dir: only ssh targets take dir (a local target is its directory)", path)
	case o.missing("local"):
		d.errorf(o.node, "%s.local: required: the directory that receives releases", path)
	default:
		t.Local = o.str("local", "")
		if !o.valid("local") {
			break
		}
		if t.Local == "" {
			d.errorf(o.at("local"), "%s.local: must not be empty", path)
			break
		}
		t.Local = d.resolvePath(t.Local)
		if !filepath.IsAbs(t.Local) {
			d.errorf(o.at("local"), "%s.local: %q is not an absolute path", path, t.Local)
		}
		if first, dup := d.firstSeen("local", t.Local, o.at("local")); dup {
			d.errorf(o.at("local"), "%s.local: %s is already a target (at %d:%d): two targets cannot share a directory", path, t.Local, first.line, first.col)
		}
	}
	t.Env = o.env("env")
	return t, true
}
