package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestLoadBuildFullExample(t *testing.T) {
	b, err := LoadBuild("testdata/build/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Build{
		File: "testdata/build/full.yml",
		Env:  map[string]string{"CGO_ENABLED": "0"},
		Steps: []Step{
			{Name: "test", Run: "go test ./..."},
			{Name: "build", Run: "go build -o dist/hello .", Timeout: 5 * time.Minute},
		},
		Artifacts: []string{"dist", "deploy"},
		JUnit:     []string{"reports/*.xml", "build/test-results/**/TEST-*.xml"},
		Hooks: greenlight.Hooks{
			Stop: "deploy/stop.sh", BeforeInstall: "deploy/before.sh", AfterInstall: "deploy/after.sh",
			Start: "deploy/start.sh", Validate: "deploy/validate.sh",
		},
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("got:\n%#v\nwant:\n%#v", b, want)
	}
}

func TestBuildDefaultsAndDollars(t *testing.T) {
	src := "steps:\n  - run: echo ${HOME} $$\n  - run: |\n      make\n      make test\n    env: {GOFLAGS: -mod=vendor}\n"
	b, err := ParseBuild(".greenlight.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if b.Steps[0].Name != "step-1" || b.Steps[1].Name != "step-2" {
		t.Errorf("default names: got %q, %q", b.Steps[0].Name, b.Steps[1].Name)
	}
	if b.Steps[0].Run != "echo ${HOME} $$" {
		t.Errorf("build files are not interpolated: got %q", b.Steps[0].Run)
	}
	if b.Steps[1].Run != "make\nmake test\n" || b.Steps[1].Env["GOFLAGS"] != "-mod=vendor" {
		t.Errorf("second step: got %+v", b.Steps[1])
	}
	if b.Hooks != (greenlight.Hooks{}) || b.Artifacts != nil || b.JUnit != nil {
		t.Errorf("no hooks or artifacts expected: got %+v %v", b.Hooks, b.Artifacts)
	}
}

func TestBuildTooLarge(t *testing.T) {
	data := []byte("steps: [{run: make}]\n# " + strings.Repeat("x", MaxBuildFileSize) + "\n")
	path := filepath.Join(t.TempDir(), ".greenlight.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadBuild(path)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Message, "larger than") {
		t.Fatalf("got %v, want one size problem", err)
	}
	if want := path + ":1:1: file is larger than 1048576 bytes"; err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
}

func TestBuildAliasBomb(t *testing.T) {
	// One env of 2,000 names, used by 5,000 steps (fewer aliases than
	// MaxAliases): 10 million values from 60 KB if nothing stopped it.
	var b strings.Builder
	b.WriteString("steps:\n  - &s {run: x, env: {")
	for i := range 2000 {
		fmt.Fprintf(&b, "V%d: x, ", i)
	}
	b.WriteString("}}\n")
	for range 5000 {
		b.WriteString("  - *s\n")
	}
	// No timing assertion (shared machines): without the limit this would
	// build 40 million values and run into the test timeout.
	_, err := ParseBuild(".greenlight.yml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "too many values") {
		t.Fatalf("got %v, want a too-many-values problem", err)
	}
}

func TestMergeCycle(t *testing.T) {
	src := "steps:\n  - &s {run: x, <<: [*s, *s, *s]}\n"
	b, err := ParseBuild(".greenlight.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if b.Steps[0].Run != "x" {
		t.Errorf("got %+v", b.Steps[0])
	}
}
