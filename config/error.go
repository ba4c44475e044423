package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Error is one problem in a configuration file, at a 1-based line and column.
type Error struct {
	File      string
	Line, Col int
	Message   string
}

// Error formats the problem as FILE:LINE:COL: message, the shape editors and
// terminals recognise as a jump target.
func (e Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Message)
}

// Errors is every problem found in a file, in file order. Parse and Load
// return it whole rather than stopping at the first problem, so one edit
// cycle fixes them all.
type Errors []Error

// Error lists the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap classifies configuration problems as invalid input for callers that
// only look at greenlight error codes.
func (es Errors) Unwrap() error {
	return greenlight.Errorf(greenlight.EINVALID, "%s", es.Error())
}

// sort orders the problems by position; cross-checks find theirs late.
func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}
