package config

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Build is a decoded repository build file (SPEC §4). It comes from the
// commit being built, so it may only describe the build: nothing in it can
// change who approves or where production is.
type Build struct {
	File      string            // path it was read from
	Env       map[string]string // for every step
	Steps     []Step
	Artifacts []string // cleaned relative paths inside the workspace ("dist/" → "dist")
	Hooks     greenlight.Hooks
	// JUnit lists the build's JUnit XML reports (reports.junit): cleaned
	// relative paths inside the workspace whose elements may hold path.Match
	// wildcards (`*`, `?`, `[…]`), read after the steps whether they
	// passed or not.
	JUnit []string
}

// MaxReportPatterns bounds reports.junit.
const MaxReportPatterns = 20

// Step is one shell command of a build.
type Step struct {
	Name    string            // default "step-N", N counting from 1
	Run     string            // run with /bin/sh -e -c
	Timeout time.Duration     // 0: only the stage's timeout applies
	Env     map[string]string // on top of Build.Env
}

// MaxBuildFileSize bounds a build file: it comes from a repository, and a
// commit must not be able to make the server parse something enormous.
const MaxBuildFileSize = 1 << 20

// ParseBuild decodes and validates a build file. No ${NAME} interpolation
// happens here: a dollar in a step belongs to the shell. On any problem it
// returns nil and Errors listing them all.
func ParseBuild(file string, data []byte) (*Build, error) {
	if len(data) > MaxBuildFileSize {
		d := newDecoder(file, nil, nil)
		d.errorAt(pos{1, 1}, "file is larger than %d bytes", MaxBuildFileSize)
		return nil, d.errs
	}
	d := newDecoder(file, data, nil)
	b := &Build{File: file}
	if body := d.document(data); body != nil {
		if o, ok := d.object(body, "", "env", "steps", "artifacts", "deploy", "reports"); ok {
			d.build(o, b)
		}
	}
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return b, nil
}

func (d *decoder) build(o *object, b *Build) {
	b.Env = o.env("env")

	items := o.sequence("steps")
	if len(items) == 0 && o.valid("steps") {
		d.errorf(o.keyAt("steps"), "steps: at least one step is required")
	}
	names := map[string]pos{}
	for i, n := range items {
		sp := index("steps", i)
		so, ok := d.object(n, sp, "name", "run", "timeout", "env")
		if !ok {
			continue
		}
		st := Step{
			Name:    so.str("name", fmt.Sprintf("step-%d", i+1)),
			Run:     so.str("run", ""),
			Timeout: so.duration("timeout", 0),
			Env:     so.env("env"),
		}
		switch {
		case !so.valid("name"):
		case strings.TrimSpace(st.Name) == "":
			d.errorf(so.at("name"), "%s.name: must not be empty", sp)
		case strings.ContainsAny(st.Name, "\n\r"):
			d.errorf(so.at("name"), "%s.name: must be one line", sp)
		default:
			if first, dup := names[st.Name]; dup {
				d.errorf(so.keyAt("name"), "%s.name: duplicate step name %q (first at %d:%d)", sp, st.Name, first.line, first.col)
			} else {
				names[st.Name] = position(so.keyAt("name"))
			}
		}
		switch {
		case so.missing("run"):
			d.errorf(so.node, "%s.run: required: the shell command to run", sp)
		case so.valid("run") && strings.TrimSpace(st.Run) == "":
			d.errorf(so.at("run"), "%s.run: must not be empty", sp)
		}
		if so.has("timeout") && so.valid("timeout") && st.Timeout <= 0 {
			d.errorf(so.at("timeout"), "%s.timeout: must be positive", sp)
		}
		b.Steps = append(b.Steps, st)
	}

	artifacts, nodes := o.strings("artifacts")
	for i, a := range artifacts {
		if why := relativeProblem(a, "workspace"); why != "" {
			d.errorf(nodes[i], "%s: invalid path %q: %s", index("artifacts", i), a, why)
			continue
		}
		b.Artifacts = append(b.Artifacts, path.Clean(a))
	}

	reports := o.child("reports", "junit")
	junit, nodes := reports.strings("junit")
	if len(junit) > MaxReportPatterns {
		d.errorf(reports.at("junit"), "reports.junit: at most %d patterns, got %d", MaxReportPatterns, len(junit))
		junit = nil
	}
	for i, p := range junit {
		if why := reportProblem(p); why != "" {
			d.errorf(nodes[i], "%s: invalid pattern %q: %s", index("reports.junit", i), p, why)
			continue
		}
		b.JUnit = append(b.JUnit, path.Clean(p))
	}

	hooks := o.child("deploy", "hooks").child("hooks", "stop", "before_install", "after_install", "start", "validate")
	b.Hooks = greenlight.Hooks{
		Stop:          hooks.str("stop", ""),
		BeforeInstall: hooks.str("before_install", ""),
		AfterInstall:  hooks.str("after_install", ""),
		Start:         hooks.str("start", ""),
		Validate:      hooks.str("validate", ""),
	}
}

// reportProblem explains why p cannot name JUnit reports in the workspace.
func reportProblem(p string) string {
	if why := relativeProblem(p, "workspace"); why != "" {
		return why
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return "it must not contain .."
	}
	if _, err := path.Match(p, ""); err != nil {
		return "malformed wildcard (write *, ? or [a-z] inside one path element)"
	}
	if c := path.Clean(p); c == "." {
		return "it names the workspace itself, not files in it"
	}
	return ""
}
