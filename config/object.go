package config

import (
	"slices"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// object is a decoded YAML mapping with a fixed set of allowed keys: the
// strict half of decoding. Unknown and repeated keys are reported when it is
// made; getters report wrong types at the value and remember the key as
// failed, so later checks do not pile a second message on the first.
type object struct {
	d      *decoder
	path   string
	node   ast.Node // the mapping, or the node that should have been one
	fields map[string]field
	bad    bool            // node is not a mapping (already reported)
	failed map[string]bool // keys whose value could not be decoded
}

type field struct {
	key   ast.Node
	value ast.Node
}

// object decodes n as a mapping whose keys must be among allowed. Null is an
// empty mapping. ok is false when n is not a mapping at all.
func (d *decoder) object(n ast.Node, path string, allowed ...string) (*object, bool) {
	o := &object{d: d, path: path, node: n, fields: map[string]field{}, failed: map[string]bool{}}
	r := d.resolve(n)
	switch r.(type) {
	case nil:
		o.bad = n != nil
		return o, !o.bad
	case *ast.NullNode:
		return o, true
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		d.errorf(r, "%s: expected a mapping, got %s", nonEmpty(path), kind(r))
		o.bad = true
		return o, false
	}
	o.node = r
	o.add(r, allowed, false, map[ast.Node]bool{})
	return o, true
}

// add records the entries of mapping m. Merged entries (`<<: *defaults`)
// only fill keys the mapping itself does not set.
// Each mapping is added once, which also ends merge cycles.
func (o *object) add(m ast.Node, allowed []string, merged bool, seen map[ast.Node]bool) {
	if seen[m] {
		return
	}
	seen[m] = true
	var entries []*ast.MappingValueNode
	switch v := m.(type) {
	case *ast.MappingNode:
		entries = v.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{v}
	}
	var merges []ast.Node
	for _, e := range entries {
		if _, ok := e.Key.(*ast.MergeKeyNode); ok {
			merges = append(merges, e.Value)
			continue
		}
		key, ok := text(e.Key)
		if !ok {
			o.d.errorf(e.Key, "%s: keys must be strings, got %s", nonEmpty(o.path), kind(e.Key))
			continue
		}
		if !slices.Contains(allowed, key) {
			if !merged {
				o.d.errorf(e.Key, "%s: unknown key", join(o.path, key))
			}
			continue
		}
		if first, dup := o.fields[key]; dup {
			if !merged {
				p := position(first.key)
				o.d.errorf(e.Key, "%s: repeated key (first at %d:%d)", join(o.path, key), p.line, p.col)
			}
			continue
		}
		o.fields[key] = field{key: e.Key, value: e.Value}
	}
	for _, mv := range merges {
		r := o.d.resolve(mv)
		switch v := r.(type) {
		case *ast.MappingNode, *ast.MappingValueNode:
			o.add(v, allowed, true, seen)
		case *ast.SequenceNode:
			for _, item := range v.Values {
				if ri := o.d.resolve(item); ri != nil {
					o.add(ri, allowed, true, seen)
				}
			}
		case nil:
		default:
			o.d.errorf(r, "%s: a merge (<<) needs a mapping, got %s", nonEmpty(o.path), kind(r))
		}
	}
}

func nonEmpty(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// child decodes the mapping under key. When key is absent or null it is an
// empty object placed at key (or at o), for "required" messages.
func (o *object) child(key string, allowed ...string) *object {
	path := join(o.path, key)
	if !o.has(key) {
		return &object{d: o.d, path: path, node: o.keyAt(key), fields: map[string]field{}, failed: map[string]bool{}, bad: o.bad}
	}
	c, _ := o.d.object(o.fields[key].value, path, allowed...)
	return c
}

// has reports whether key is set to something other than null.
func (o *object) has(key string) bool {
	f, ok := o.fields[key]
	if !ok {
		return false
	}
	_, null := o.d.resolve(f.value).(*ast.NullNode)
	return !null
}

// missing reports whether key is absent (or null) from a mapping that was
// itself well-formed: the case for "required" messages.
func (o *object) missing(key string) bool { return !o.bad && !o.has(key) }

// valid reports whether key is absent or decoded without a problem, in a
// well-formed mapping: the case for checking the value further.
func (o *object) valid(key string) bool { return !o.bad && !o.failed[key] }

// fail records the outcome of decoding key and passes ok through.
func (o *object) fail(key string, ok bool) bool {
	if !ok {
		o.failed[key] = true
	}
	return ok
}

// count is the number of items in the sequence under key, without reporting.
func (o *object) count(key string) int {
	if !o.has(key) {
		return 0
	}
	if s, ok := o.d.resolve(o.fields[key].value).(*ast.SequenceNode); ok {
		return len(s.Values)
	}
	return 0
}

// at is where a problem with key belongs: its value if set, else the mapping.
func (o *object) at(key string) ast.Node {
	if f, ok := o.fields[key]; ok {
		return f.value
	}
	return o.node
}

// keyAt is where key is written, or the mapping when it is absent.
func (o *object) keyAt(key string) ast.Node {
	if f, ok := o.fields[key]; ok {
		return f.key
	}
	return o.node
}

func (o *object) str(key, def string) string {
	if !o.has(key) {
		return def
	}
	if v, ok := o.d.scalar(o.fields[key].value, join(o.path, key)); o.fail(key, ok) {
		return v
	}
	return def
}

func (o *object) duration(key string, def time.Duration) time.Duration {
	if !o.has(key) {
		return def
	}
	if v, ok := o.d.duration(o.fields[key].value, join(o.path, key)); o.fail(key, ok) {
		return v
	}
	return def
}

func (o *object) integer(key string, def int) int {
	if !o.has(key) {
		return def
	}
	if v, ok := o.d.integer(o.fields[key].value, join(o.path, key)); o.fail(key, ok) {
		return v
	}
	return def
}

func (o *object) strings(key string) ([]string, []ast.Node) {
	if !o.has(key) {
		return nil, nil
	}
	out, nodes, ok := o.d.strings(o.fields[key].value, join(o.path, key))
	o.fail(key, ok)
	return out, nodes
}

func (o *object) sequence(key string) []ast.Node {
	if !o.has(key) {
		return nil
	}
	items, ok := o.d.sequence(o.fields[key].value, join(o.path, key))
	o.fail(key, ok)
	return items
}

// env decodes a mapping of environment variable names to values.
func (o *object) env(key string) map[string]string {
	if !o.has(key) {
		return nil
	}
	path := join(o.path, key)
	m := o.d.resolve(o.fields[key].value)
	switch m.(type) {
	case nil:
		o.fail(key, false)
		return nil
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		o.d.errorf(m, "%s: expected a mapping, got %s", path, kind(m))
		o.fail(key, false)
		return nil
	}
	// Any name is allowed here, so walk the mapping itself.
	env := map[string]string{}
	o.d.eachEntry(m, path, func(name string, k, v ast.Node) {
		if !validEnvName(name) {
			o.d.errorf(k, "%s: invalid environment variable name %q", path, name)
			return
		}
		if _, dup := env[name]; dup {
			o.d.errorf(k, "%s: repeated key", join(path, name))
			return
		}
		if s, ok := o.d.scalar(v, join(path, name)); ok {
			env[name] = s
		}
	})
	return env
}

// eachEntry calls fn for each string-keyed entry of a free-form mapping.
func (d *decoder) eachEntry(m ast.Node, path string, fn func(key string, k, v ast.Node)) {
	var entries []*ast.MappingValueNode
	switch v := m.(type) {
	case *ast.MappingNode:
		entries = v.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{v}
	}
	for _, e := range entries {
		if _, ok := e.Key.(*ast.MergeKeyNode); ok {
			d.errorf(e.Key, "%s: merge keys (<<) are not supported here", path)
			continue
		}
		key, ok := text(e.Key)
		if !ok {
			d.errorf(e.Key, "%s: keys must be strings, got %s", path, kind(e.Key))
			continue
		}
		fn(key, e.Key, e.Value)
	}
}
