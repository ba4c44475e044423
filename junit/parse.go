// Package junit reads the JUnit XML test reports a build writes into its
// workspace and sums them up as a greenlight.TestSummary (SPEC §11): how many
// tests passed, failed and were skipped, and which failed with what message.
//
// The reports are written by the build's code, which is untrusted: Collect
// reads them through an os.Root (no link leads out of the workspace), opens
// nothing but regular files and never blocks on one, and bounds the files a
// pattern may match, their number, their size, the nesting of their
// elements and the text kept from them. A report that cannot be read or is
// not JUnit XML is reported to the caller's log and left out; it never fails
// the build.
package junit

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/greenlight-cd/greenlight"
)

// Bounds on what one report may make the server hold or keep.
const (
	// MaxDepth is the deepest element nesting read. Real reports nest
	// testsuites › testsuite (› testsuite…) › testcase › failure: a handful.
	MaxDepth = 64
	// MaxName is the longest test name kept, in bytes.
	MaxName = 300
	// MaxMessage is the longest failure message kept, in bytes.
	MaxMessage = 2000
)

// errLarge is wrapped by Parse when the reader gives more than it may.
var errLarge = errors.New("report is too large")

// Parse reads one JUnit XML report and adds its test cases to s: a case with
// a <failure> or an <error> is failed, one with <skipped> skipped, any other
// passed. Both a <testsuites> root and a bare <testsuite> are read, with
// suites nested to any depth up to MaxDepth; counts come from the test cases
// themselves, not from the suites' attributes, which tools fill unevenly.
// At most greenlight.MaxTestFailures failures are kept in s, each with its
// name and message clipped.
//
// On any error s is left as it was: a report counts entirely or not at all.
// Parse does not bound how much it reads: the caller limits r (Collect does).
// Entities other than XML's five are refused, so a DTD cannot expand into
// anything.
func Parse(r io.Reader, s *greenlight.TestSummary) error {
	d := xml.NewDecoder(r)
	d.CharsetReader = charset
	var (
		got      greenlight.TestSummary
		depth    int
		root     = true
		inCase   = false
		caseAt   int // depth of the open <testcase>
		verdict  string
		name     string
		message  string
		textAt   int // depth of the <failure> or <error> whose text is read; 0: none
		text     strings.Builder
		attrText string
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return problem(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > MaxDepth {
				return fmt.Errorf("elements nested more than %d deep", MaxDepth)
			}
			el := t.Name.Local
			if root {
				if el != "testsuites" && el != "testsuite" {
					return fmt.Errorf("not a JUnit report: the root element is <%s>, not <testsuites> or <testsuite>", clip(el, 40))
				}
				root = false
				continue
			}
			switch {
			case el == "testcase" && !inCase:
				inCase, caseAt, verdict, message, textAt = true, depth, "", "", 0
				name = caseName(attr(t, "classname"), attr(t, "name"))
			case inCase && depth == caseAt+1 && (el == "failure" || el == "error"):
				if verdict != "failed" {
					verdict = "failed"
					attrText = attr(t, "message")
					if attrText == "" {
						attrText = attr(t, "type")
					}
					textAt = depth
					text.Reset()
				}
			case inCase && depth == caseAt+1 && el == "skipped":
				if verdict == "" {
					verdict = "skipped"
				}
			}
		case xml.CharData:
			if textAt != 0 && depth == textAt && text.Len() < MaxMessage+utf8.UTFMax {
				b := []byte(t)
				if room := MaxMessage + utf8.UTFMax - text.Len(); len(b) > room {
					b = b[:room]
				}
				text.Write(b)
			}
		case xml.EndElement:
			if textAt != 0 && depth == textAt {
				message = failureMessage(attrText, text.String())
				textAt = 0
			}
			if inCase && depth == caseAt {
				inCase = false
				switch verdict {
				case "failed":
					got.Failed++
					got.Failures = append(got.Failures, greenlight.TestFailure{Name: name, Message: message})
				case "skipped":
					got.Skipped++
				default:
					got.Passed++
				}
			}
			depth--
		}
	}
	if root {
		return errors.New("not a JUnit report: no element at all")
	}
	add(s, &got)
	return nil
}

// add sums b into a, keeping at most greenlight.MaxTestFailures failures.
func add(a, b *greenlight.TestSummary) {
	a.Passed += b.Passed
	a.Failed += b.Failed
	a.Skipped += b.Skipped
	for _, f := range b.Failures {
		if len(a.Failures) >= greenlight.MaxTestFailures {
			break
		}
		a.Failures = append(a.Failures, f)
	}
}

// caseName names a test case for people. go-junit-report puts the package in
// classname, pytest the module, Surefire the class; jest-junit repeats the
// whole title in both.
func caseName(class, name string) string {
	class, name = strings.TrimSpace(class), strings.TrimSpace(name)
	switch {
	case name == "":
		name = class
	case class != "" && !strings.Contains(name, class):
		name = class + "." + name
	}
	return clip(oneLine(name), MaxName)
}

// failureMessage is the failure's message attribute and its text, which
// tools split differently (pytest puts the assertion in the attribute and
// the traceback in the text; go-junit-report says "Failed" and puts the
// test's output in the text), clipped to MaxMessage bytes.
func failureMessage(attr, text string) string {
	attr, text = strings.TrimSpace(attr), strings.TrimSpace(text)
	m := attr + "\n" + text
	switch {
	case text == "":
		m = attr
	case attr == "" || strings.HasPrefix(text, attr):
		m = text
	}
	return clip(m, MaxMessage)
}

// clip cuts s to at most n bytes on a character boundary, marking the cut.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// charset lets a report declare the encodings that are UTF-8 already; any
// other is refused (as without a CharsetReader), with a clear message.
func charset(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return r, nil
	}
	return nil, fmt.Errorf("encoding %q is not supported: write the report in UTF-8", clip(label, 40))
}

// problem words a decoding error for the build log.
func problem(err error) error {
	var syn *xml.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("not well-formed XML: line %d: %s", syn.Line, clip(syn.Msg, 200))
	}
	if errors.Is(err, errLarge) {
		return err
	}
	return fmt.Errorf("read: %w", err)
}
