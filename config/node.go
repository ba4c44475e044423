package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
)

// The files are decoded by walking goccy/go-yaml's syntax tree by hand rather
// than with yaml.Unmarshal: strict unmarshalling stops at the first problem,
// and we want every problem, each at its own line and column.

// decoder walks one file's syntax tree and collects problems.
type decoder struct {
	file                 string
	base                 string                      // directory relative paths are resolved in (server file)
	lines                []string                    // the source, to place ${NAME} inside a scalar
	getenv               func(string) (string, bool) // nil: no interpolation (build files)
	anchors              map[string]*ast.AnchorNode  // by name, the last definition wins
	seen                 map[string]pos              // names that must be unique across the file
	budget               int                         // values left to look at; aliases must not multiply work
	errs                 Errors
	reported             map[Error]bool
	approverGroupsByName map[string][]string // server-level approver groups, decoded before the pipelines
}

func newDecoder(file string, data []byte, getenv func(string) (string, bool)) *decoder {
	return &decoder{
		file:    file,
		lines:   strings.Split(string(data), "\n"),
		getenv:  getenv,
		anchors: map[string]*ast.AnchorNode{},
	}
}

// pos is a 1-based line and column.
type pos struct{ line, col int }

func (d *decoder) errorAt(p pos, format string, args ...any) {
	e := Error{File: d.file, Line: p.line, Col: p.col, Message: fmt.Sprintf(format, args...)}
	// The same node can be looked at twice (an alias, a check that reads a
	// value again); say each thing once.
	if d.reported == nil {
		d.reported = map[Error]bool{}
	}
	if !d.reported[e] {
		d.reported[e] = true
		d.errs = append(d.errs, e)
	}
}

func (d *decoder) errorf(n ast.Node, format string, args ...any) {
	d.errorAt(position(n), format, args...)
}

// document parses data and returns the body of its only document, or nil
// after recording why there is none.
func (d *decoder) document(data []byte) ast.Node {
	// The limits come first: the parser's cost grows faster than the file.
	if at, msg, ok := checkShape(data); !ok {
		d.errorAt(at, "%s", msg)
		return nil
	}
	tokens := lexer.Tokenize(string(data))
	if tk, ok := tokenDepth(tokens); !ok {
		d.errorAt(pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}, "%s", tooDeep)
		return nil
	}
	f, err := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		d.syntaxError(err)
		return nil
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			d.errorf(doc.Body, "only one YAML document is allowed")
			continue
		}
		body = doc.Body
	}
	if body == nil {
		d.errorAt(pos{1, 1}, "file is empty")
		return nil
	}
	// Aliases let a small file name the same subtree many times over (the
	// "billion laughs"); a build file comes from a commit, so bound the work.
	d.budget = 10000 + 4*len(data)
	d.collectAnchors(body, 0)
	if _, ok := d.resolve(body).(*ast.NullNode); ok {
		d.errorAt(pos{1, 1}, "file is empty")
		return nil
	}
	return body
}

func (d *decoder) syntaxError(err error) {
	var yerr yaml.Error
	if errors.As(err, &yerr) && yerr.GetToken() != nil {
		tk := yerr.GetToken()
		d.errorAt(pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}, "%s", yerr.GetMessage())
		return
	}
	d.errorAt(pos{1, 1}, "%v", err)
}

// maxDepth bounds recursion over hostile input; real files are a few levels deep.
const maxDepth = 100

func (d *decoder) collectAnchors(n ast.Node, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	switch n := n.(type) {
	case *ast.AnchorNode:
		if n.Name != nil {
			d.anchors[n.Name.GetToken().Value] = n
		}
		d.collectAnchors(n.Value, depth+1)
	case *ast.TagNode:
		d.collectAnchors(n.Value, depth+1)
	case *ast.MappingNode:
		for _, v := range n.Values {
			d.collectAnchors(v, depth+1)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(n.Key, depth+1)
		d.collectAnchors(n.Value, depth+1)
	case *ast.SequenceNode:
		for _, v := range n.Values {
			d.collectAnchors(v, depth+1)
		}
	}
}

// resolve looks through anchors, aliases and tags to the value node. An alias
// to an unknown anchor resolves to nil after recording the problem.
func (d *decoder) resolve(n ast.Node) ast.Node {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.errorf(n, "the file expands to too many values (aliases repeated too often)")
		}
		return nil
	}
	for range maxDepth {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil {
				name = v.Value.GetToken().Value
			}
			a, ok := d.anchors[name]
			if !ok || a.GetToken().Position.Offset > v.GetToken().Position.Offset {
				d.errorf(v, "unknown anchor %q", name)
				return nil
			}
			n = a.Value
		default:
			return n
		}
	}
	d.errorf(n, "aliases nested too deeply")
	return nil
}

// position is where a node starts; for a mapping entry, where its key starts.
func position(n ast.Node) pos {
	switch v := n.(type) {
	case nil:
		return pos{1, 1}
	case *ast.MappingValueNode:
		if v.Key != nil {
			return position(v.Key)
		}
	case *ast.MappingNode:
		if !v.IsFlowStyle && len(v.Values) > 0 {
			return position(v.Values[0])
		}
	case *ast.DocumentNode:
		return position(v.Body)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{1, 1}
	}
	return pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}
}

// kind names a node's type the way a user writing YAML thinks of it.
func kind(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "mapping"
	case *ast.SequenceNode:
		return "sequence"
	case *ast.StringNode, *ast.LiteralNode:
		return "string"
	case *ast.IntegerNode:
		return "integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "number"
	case *ast.BoolNode:
		return "boolean"
	case *ast.NullNode, nil:
		return "null"
	}
	return "unsupported value"
}

// text returns a scalar's value as written (numbers and booleans included,
// so `PORT: 8081` is the string "8081").
func text(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	return "", false
}

// scalar returns the string value of n, interpolated when the file allows it.
// ok is false (and the problem recorded) when n is not a scalar or a
// variable is missing.
func (d *decoder) scalar(n ast.Node, path string) (string, bool) {
	return d.scalarOf(n, path, "a string")
}

// scalarOf is scalar for a value described as want ("a duration") in errors.
func (d *decoder) scalarOf(n ast.Node, path, want string) (string, bool) {
	n = d.resolve(n)
	if n == nil {
		return "", false
	}
	s, ok := text(n)
	if !ok {
		d.errorf(n, "%s: expected %s, got %s", path, want, kind(n))
		return "", false
	}
	if d.getenv == nil {
		return s, true
	}
	return d.interpolate(n, path, s)
}

func (d *decoder) duration(n ast.Node, path string) (time.Duration, bool) {
	s, ok := d.scalarOf(n, path, "a duration (like 30s)")
	if !ok {
		return 0, false
	}
	v, err := parseDuration(s)
	if err != nil {
		d.errorf(n, "%s: invalid duration %q (use a Go duration such as 30s, 20m or 72h)", path, s)
		return 0, false
	}
	return v, true
}

func (d *decoder) integer(n ast.Node, path string) (int, bool) {
	s, ok := d.scalarOf(n, path, "an integer")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		d.errorf(n, "%s: invalid integer %q", path, s)
		return 0, false
	}
	return v, true
}

// sequence returns the items of a sequence; null is an empty sequence.
func (d *decoder) sequence(n ast.Node, path string) ([]ast.Node, bool) {
	r := d.resolve(n)
	switch v := r.(type) {
	case nil:
		return nil, n == nil // nil after resolving: a bad alias, reported
	case *ast.NullNode:
		return nil, true
	case *ast.SequenceNode:
		return v.Values, true
	}
	d.errorf(r, "%s: expected a sequence, got %s", path, kind(r))
	return nil, false
}

// strings decodes a sequence of scalars; each value comes with its node, for
// positions in later checks.
func (d *decoder) strings(n ast.Node, path string) ([]string, []ast.Node, bool) {
	items, ok := d.sequence(n, path)
	var out []string
	var nodes []ast.Node
	for i, item := range items {
		if s, ok := d.scalar(item, index(path, i)); ok {
			out = append(out, s)
			nodes = append(nodes, item)
		}
	}
	return out, nodes, ok
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parseDuration is Go's duration syntax plus whole days ("90d"), the unit
// retention and long timeouts are thought in.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("invalid number of days %q", n)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
