package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/*/*.txt")

// A golden file holds a YAML input, then a line "---- want", then the exact
// problems expected, one per line.
const wantMarker = "---- want\n"

// testEnv is the environment golden server files see.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"GREENLIGHT_ADMIN_TOKEN": "s3cret-admin-token-0123456789abcdef",
		"HELLO_WEBHOOK_SECRET":   "hook-secret",
		"EMPTY":                  "",
		"YAMLISH":                "a: [b, {c: d}] # not yaml",
	}[name]
	return v, ok
}

func runGolden(t *testing.T, dir string, parse func(data []byte) error) {
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden files in testdata/%s: %v", dir, err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			input, want, found := strings.Cut(string(raw), wantMarker)
			if !found {
				t.Fatalf("%s has no %q line", path, strings.TrimSpace(wantMarker))
			}
			err = parse([]byte(input))
			got := ""
			if err != nil {
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("error is %T, want config.Errors: %v", err, err)
				}
				got = errs.Error() + "\n"
			}
			if *update {
				if err := os.WriteFile(path, []byte(input+wantMarker+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("problems of %s:\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

func TestParseGolden(t *testing.T) {
	runGolden(t, "server", func(data []byte) error {
		_, err := Parse("greenlight.yml", data, testEnv)
		return err
	})
}

func TestParseBuildGolden(t *testing.T) {
	runGolden(t, "build", func(data []byte) error {
		_, err := ParseBuild(".greenlight.yml", data)
		return err
	})
}
