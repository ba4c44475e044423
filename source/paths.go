package source

import (
	"fmt"
	"regexp"
	"strings"
)

// Patterns is a list of globs with "!" excludes, as written in a pipeline's
// branches, tags and paths (SPEC §10). A glob matches a whole name:
//
//   - `*` matches any run of characters except "/"
//   - `**` matches any run of characters, "/" included; "a/**/b" also
//     matches "a/b", and "docs/**" matches "docs" itself and all below it
//   - `?` matches one character except "/"
//   - `[abc]`, `[a-z]`, `[!a-z]` match one character of (or not of) a set
//
// Rules apply in order and the last one that matches a name decides, as in
// .gitignore: ["src/**", "!src/gen/**"] takes src/ but not src/gen/. A list
// of excludes only (["!docs/**"]) takes every name they do not exclude.
// The zero Patterns matches everything.
type Patterns struct {
	rules      []patternRule
	anyInclude bool
}

type patternRule struct {
	glob    string
	re      *regexp.Regexp
	exclude bool
}

// ParsePatterns compiles globs. An error names the first bad glob.
func ParsePatterns(globs []string) (*Patterns, error) {
	p := &Patterns{}
	for _, g := range globs {
		exclude := strings.HasPrefix(g, "!")
		body := strings.TrimPrefix(g, "!")
		re, err := compileGlob(body)
		if err != nil {
			return nil, fmt.Errorf("glob %q: %w", g, err)
		}
		p.rules = append(p.rules, patternRule{glob: g, re: re, exclude: exclude})
		if !exclude {
			p.anyInclude = true
		}
	}
	return p, nil
}

// CheckGlob explains why g (with an optional leading "!") is not a valid
// glob, or returns nil.
func CheckGlob(g string) error {
	_, err := compileGlob(strings.TrimPrefix(g, "!"))
	return err
}

// Match reports whether name is taken by the patterns.
func (p *Patterns) Match(name string) bool {
	if p == nil || len(p.rules) == 0 {
		return true
	}
	taken := !p.anyInclude
	for _, r := range p.rules {
		if r.re.MatchString(name) {
			taken = !r.exclude
		}
	}
	return taken
}

// MatchAny reports whether any of names is taken, and the first one that is.
func (p *Patterns) MatchAny(names []string) (string, bool) {
	for _, n := range names {
		if p.Match(n) {
			return n, true
		}
	}
	return "", false
}

// Literal reports whether the patterns are one plain include without glob
// characters, and returns it: a pipeline's default branch.
func (p *Patterns) Literal() (string, bool) {
	if p == nil || len(p.rules) != 1 || p.rules[0].exclude || strings.ContainsAny(p.rules[0].glob, "*?[") {
		return "", false
	}
	return p.rules[0].glob, true
}

// compileGlob turns a glob into an anchored regular expression.
func compileGlob(g string) (*regexp.Regexp, error) {
	switch {
	case g == "":
		return nil, fmt.Errorf("it is empty")
	case len(g) > 1024:
		return nil, fmt.Errorf("it is longer than 1024 characters")
	case strings.ContainsAny(g, "\x00\n"):
		return nil, fmt.Errorf("it contains a NUL byte or a newline")
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				atStart := i == 0 || g[i-1] == '/'
				i++
				for i+1 < len(g) && g[i+1] == '*' {
					i++
				}
				switch {
				case atStart && i+1 < len(g) && g[i+1] == '/':
					b.WriteString(`(?:.*/)?`) // "**/": zero or more directories
					i++
				case atStart && i+1 == len(g) && i >= 2 && g[i-2] == '/':
					// "dir/**": the directory itself too; drop the "/" already written.
					s := b.String()
					b.Reset()
					b.WriteString(strings.TrimSuffix(s, "/"))
					b.WriteString(`(?:/.*)?`)
				default:
					b.WriteString(`.*`)
				}
				continue
			}
			b.WriteString(`[^/]*`)
		case '?':
			b.WriteString(`[^/]`)
		case '[':
			end, class, err := globClass(g, i)
			if err != nil {
				return nil, err
			}
			b.WriteString(class)
			i = end
		case '\\':
			if i+1 == len(g) {
				return nil, fmt.Errorf("it ends with a lone \\")
			}
			i++
			b.WriteString(regexp.QuoteMeta(g[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(g[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// globClass reads the set starting at g[i] == '[' and returns the index of
// its closing ']' and the regexp class for it.
func globClass(g string, i int) (int, string, error) {
	j := i + 1
	var b strings.Builder
	b.WriteString("[")
	if j < len(g) && (g[j] == '!' || g[j] == '^') {
		b.WriteString("^/")
		j++
	}
	first := true
	for ; j < len(g); j++ {
		c := g[j]
		if c == ']' && !first {
			b.WriteString("]")
			return j, b.String(), nil
		}
		first = false
		switch c {
		case '\\', '[', ']', '^':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '-':
			b.WriteByte('-')
		default:
			b.WriteByte(c)
		}
	}
	return 0, "", fmt.Errorf("a [ has no closing ]")
}
