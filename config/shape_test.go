package config

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/goccy/go-yaml/lexer"
)

// nestedBlock is a mapping n levels deep, each level indented one more space.
func nestedBlock(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	return b.String()
}

// manyValues is a valid build file with n artifacts.
func manyValues(n int) string {
	return "steps: [{run: make}]\nartifacts:\n" + strings.Repeat("  - dist\n", n)
}

func TestShapeLimits(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // the one problem, "" for a file within the limits
	}{
		{"flow sequences", "steps: " + strings.Repeat("[", 100_000), "b.yml:1:71: " + tooDeep},
		{"flow mappings", strings.Repeat("{a: ", 100_000), "b.yml:1:257: " + tooDeep},
		{"flow over lines", "steps:\n" + strings.Repeat("  [\n", 100), "b.yml:65:3: " + tooDeep},
		{"block indentation", nestedBlock(200), "b.yml:65:65: " + tooDeep},
		{"flow keys", flowKeys(100), "b.yml:65:65: " + tooDeep},
		// Tabs are not YAML indentation, but the parser counts them:
		// caught by the second look, at the parser's tokens.
		{"tab indentation", tabNested(1000), "b.yml:65:66: " + tooDeep},
		{"tab compact sequences", "a:\n" + strings.Repeat("\t- ", 5000) + "x\n", "b.yml:2:191: " + tooDeep},
		{"compact sequences", strings.Repeat("- ", 50_000) + "x\n", "b.yml:1:129: " + tooDeep},
		{"key then sequence at its column", "a:\n" + keySequences(40), "b.yml:33:65: " + tooDeep},
		{"mixed", "steps:\n  - run:\n" + strings.Repeat("     - {a: [\n", 40), "b.yml:32:12: " + tooDeep},
		{"tagged and anchored", "steps: " + strings.Repeat("!t &a [", 100), "b.yml:1:455: " + tooDeep},
		{"values", manyValues(MaxValues), fmt.Sprintf("b.yml:%d:5: too many values: more than %d", MaxValues-3, MaxValues)},
		{"empty entries", "steps: [{run: make}]\nartifacts:\n" + strings.Repeat("-\n", MaxValues+10), fmt.Sprintf("b.yml:%d:1: too many values: more than %d", MaxValues-3, MaxValues)},
		{"anchors", "steps: [" + strings.Repeat("&a x, ", MaxAnchors+1) + "]", "b.yml:1:6009: too many anchors: more than 1000"},
		{"aliases", "env: &e {}\nsteps: [" + strings.Repeat("*e, ", MaxAliases+1) + "]", "b.yml:2:40009: too many aliases: more than 10000"},

		// Brackets that are text must not count.
		{"double quotes", "steps:\n  - run: \"echo " + strings.Repeat("[{", 200) + " \\\" [[[\"\n", ""},
		{"single quotes", "steps:\n  - run: 'echo " + strings.Repeat("[", 200) + " '' [[[ \n    [[[['\n", ""},
		{"comments", "# " + strings.Repeat("[", 200) + "\nsteps: # " + strings.Repeat("{", 200) + "\n  - run: make # [[[\n", ""},
		{"plain scalars", "steps:\n  - run: echo " + strings.Repeat("[", 200) + " x#[[[ \"[[[\n      " + strings.Repeat("[", 200) + "\n", ""},
		{"literal", "steps:\n  - run: |\n      " + strings.Repeat("[", 200) + "\n\n      - - - - [\n" + nestedBlockIndented(100, 6) + "  - run: >-\n     {{{{\n", ""},
		{"literal in a sequence", "steps:\n- run: make\n  env: {A: x}\n- |\n " + strings.Repeat("[", 200) + "\n", "b.yml:4:3: steps[1]: expected a mapping, got string"},
		{"quoted over lines", "steps:\n  - run: \"a\n" + strings.Repeat("[", 200) + "\n  b\"\n", ""},
		{"quoted in flow", "steps: [{run: \"]]]]]]\", env: {A: '}}}}'}}, {run: x}]\n", ""},
		{"at the limit", "steps: [{run: x}]\nartifacts: " + strings.Repeat("[", MaxNesting-1) + strings.Repeat("]", MaxNesting-1) + "\n",
			"b.yml:2:13: artifacts[0]: expected a string, got sequence"},
		{"block at the limit", "steps: [{run: x}]\nx:\n" + nestedBlockIndented(MaxNesting-1, 1), "b.yml:2:1: x: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBuild("b.yml", []byte(tt.src))
			got := ""
			if err != nil {
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("got %T %v, want Errors", err, err)
				}
				got = errs[0].Error()
				if tt.want == "" || strings.Contains(tt.want, "too ") {
					if len(errs) != 1 {
						t.Errorf("got %d problems, want 1:\n%v", len(errs), err)
					}
				}
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// flowKeys is n lines "[a]:", each indented one more space: mappings
// nested by indentation whose keys are flow sequences.
func flowKeys(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "[a]:\n")
	}
	return b.String()
}

// tabNested is a mapping n levels deep, indented with tabs.
func tabNested(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat("\t", i) + "a:\n")
	}
	return b.String()
}

// keySequences is n lines "- a:", each indented two more spaces than the
// last: a sequence at the column of the key it belongs to, n times.
func keySequences(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat("  ", i) + "- a:\n")
	}
	return b.String()
}

// nestedBlockIndented is nestedBlock with every line indented by extra spaces.
func nestedBlockIndented(n, extra int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i+extra) + "a:\n")
	}
	return b.String()
}

// The server file goes through the same limits.
func TestShapeLimitsServer(t *testing.T) {
	_, err := Parse("greenlight.yml", []byte("pipelines: "+strings.Repeat("[", 10_000)), testEnv)
	if want := "greenlight.yml:1:75: " + tooDeep; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestTokenDepth checks the second look, on the parser's own tokens, alone.
func TestTokenDepth(t *testing.T) {
	for _, src := range []string{strings.Repeat("[", MaxNesting+1), strings.Repeat("- ", MaxNesting+1) + "x", nestedBlock(MaxNesting + 1)} {
		if _, ok := tokenDepth(lexer.Tokenize(src)); ok {
			t.Errorf("tokenDepth accepts %.20q…", src)
		}
	}
	if _, ok := tokenDepth(lexer.Tokenize(nestedBlock(MaxNesting - 1))); !ok {
		t.Errorf("tokenDepth refuses %d levels", MaxNesting-1)
	}
}

// BenchmarkRefuseNested measures refusing a 100 KB build file of "[": the
// parser alone took gigabytes for it.
func BenchmarkRefuseNested(b *testing.B) {
	for _, tt := range []struct{ name, src string }{
		{"flow", strings.Repeat("[", 100_000)},
		{"compact", strings.Repeat("- ", 50_000)},
	} {
		b.Run(tt.name, func(b *testing.B) {
			data := []byte(tt.src)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseBuild(".greenlight.yml", data); err == nil {
					b.Fatal("accepted")
				}
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap-MB")
		})
	}
}

// FuzzShape holds the byte scan to the parser's own tokens: a file the scan
// lets through never nests deeper, by the tokens' count, than the limit.
// (tokenDepth would refuse it anyway; this finds where the scan is wrong.)
func FuzzShape(f *testing.F) {
	for _, s := range []string{
		"a: foo\n  [[[\n", "- |\n [[[\n", "a: 'x\n[[['\n", "a: [\"]]\", [[[]]]]\n", "a: [x #]\n , [[[]]]]\n",
		"a:\n- b:\n  - c:\n    - d\n", "? [[[]]]\n: x\n", "k: a[[[]]]\n", "--- [[[]]]\n--- {a: [b]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		if _, _, ok := checkShape(data); !ok {
			return
		}
		if tk, ok := tokenDepth(lexer.Tokenize(string(data))); !ok {
			t.Fatalf("the scan accepts what the tokens nest too deep (at %d:%d)", tk.Position.Line, tk.Position.Column)
		}
	})
}
