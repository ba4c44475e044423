package deploy

import (
	"fmt"
	"regexp"
	"strings"
)

// shellQuote quotes s as one word for a POSIX shell. Inside single quotes
// nothing is special (not $, `, \ or a newline) except the quote itself,
// which is written as: close quote, backslash-quote, reopen quote.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envAssignments renders env as NAME='value' words for env(1) or a shell.
// Names are checked here too, though config checks them: a name is not
// quoted, so a bad one would be shell syntax.
func envAssignments(env map[string]string) ([]string, error) {
	out := make([]string, 0, len(env))
	for k, v := range env {
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("invalid environment variable name %q", k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("environment variable %s holds a NUL byte", k)
		}
		out = append(out, k+"="+shellQuote(v))
	}
	return out, nil
}
