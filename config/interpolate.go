package config

import (
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// interpolate replaces ${NAME} in a scalar of the server file with
// getenv(NAME) and $$ with $. It works on parsed values, never on the raw
// text, so positions stay true and a variable's value cannot inject YAML. A
// lone $ is kept as written, so passwords with a dollar need no escaping
// unless a { or $ follows it.
func (d *decoder) interpolate(n ast.Node, path, s string) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, true
	}
	var b strings.Builder
	ok := true
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				d.errorAt(d.offset(n, s, i), "%s: unterminated ${ (write $$ for a literal dollar)", path)
				return "", false
			}
			name := s[i+2 : i+2+end]
			v, found := d.getenv(name)
			switch {
			case !validEnvName(name):
				d.errorAt(d.offset(n, s, i), "%s: invalid variable name %q in ${…}", path, name)
				ok = false
			case !found:
				d.errorAt(d.offset(n, s, i), "%s: environment variable %s is not set", path, name)
				ok = false
			default:
				b.WriteString(v)
			}
			i += end + 3
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), ok
}

// offset is the position of byte off of scalar n's value s. It is exact when
// the value sits on one line as written (plain or quoted without escapes
// before off); otherwise it falls back to where the scalar starts.
func (d *decoder) offset(n ast.Node, s string, off int) pos {
	start := position(n)
	tk := n.GetToken()
	if tk == nil || start.line > len(d.lines) {
		return start
	}
	line := d.lines[start.line-1]
	b := 0 // byte index of the scalar's first rune on its line
	for range start.col - 1 {
		if b >= len(line) {
			return start
		}
		_, size := utf8.DecodeRuneInString(line[b:])
		b += size
	}
	col := start.col
	if tk.Type == token.SingleQuoteType || tk.Type == token.DoubleQuoteType {
		b++
		col++
	}
	if b > len(line) || !strings.HasPrefix(line[b:], s[:off]) {
		return start
	}
	return pos{start.line, col + utf8.RuneCountInString(s[:off])}
}

// validEnvName reports whether s is a portable environment variable name.
func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
