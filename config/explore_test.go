package config

import (
	"fmt"
	"testing"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

func dump(n ast.Node, ind string) {
	if n == nil { fmt.Println(ind+"<nil>"); return }
	if d, ok := n.(*ast.DocumentNode); ok { fmt.Println(ind+"Doc"); if d.Body != nil { dump(d.Body, ind+"  ") }; return }
	tk := n.GetToken()
	pos := ""
	if tk != nil { pos = fmt.Sprintf("%d:%d tt=%v val=%q", tk.Position.Line, tk.Position.Column, tk.Type, tk.Value) }
	fmt.Printf("%s%T %s\n", ind, n, pos)
	switch n := n.(type) {
	case *ast.LiteralNode: fmt.Printf("%s  lit %q orig=%q\n", ind, n.Value.Value, n.Value.GetToken().Origin)
	case *ast.StringNode: fmt.Printf("%s  str %q orig=%q\n", ind, n.Value, n.GetToken().Origin)
	case *ast.MappingNode:
		for _, v := range n.Values { dump(v, ind+"  ") }
	case *ast.MappingValueNode:
		dump(n.Key, ind+"  k ")
		dump(n.Value, ind+"  v ")
	case *ast.SequenceNode:
		for _, v := range n.Values { dump(v, ind+"  ") }
	case *ast.AnchorNode: dump(n.Value, ind+"  ")
	case *ast.TagNode: dump(n.Value, ind+"  ")
	case *ast.AliasNode: dump(n.Value, ind+"  ")
	}
}

func TestExplore(t *testing.T) {
	for _, src := range []string{
		"a: 1\n",
		"a:\nb: 'x'\n  # c\nc: {x: 1, y: }\nd: [1, 2]\ne: &an\n  - 1\nf: *an\ng: |\n  lit\n  x\nh: !!str 12\n<<: *an\n",
		"a: b\na: c\n",
		"",
		"# only\n",
		"---\na: 1\n---\nb: 2\n",
		"a: [\n",
		"a: ééé ${X}\n",
		"a:\n  - x: 1\n    y:\n  -\n",
		"a: b: c\n",
		"\t a: 1\n",
		"a: *nope\n",
		"? [a]\n: 1\n",
	} {
		fmt.Printf("=== %q\n", src)
		f, err := parser.ParseBytes([]byte(src), 0, parser.AllowDuplicateMapKey())
		if err != nil { fmt.Printf("ERR %T %v\n", err, err); continue }
		for _, d := range f.Docs { dump(d, "") }
	}
}
