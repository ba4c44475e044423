package junit

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Reports as the common tools write them (testdata/): the counts and the
// failures with their names and messages.
func TestParseFormats(t *testing.T) {
	tests := []struct {
		file string
		want greenlight.TestSummary
	}{
		{"surefire.xml", greenlight.TestSummary{Passed: 2, Failed: 2, Skipped: 1, Failures: []greenlight.TestFailure{
			{Name: "com.example.CalculatorTest.divides", Message: "expected: <2> but was: <1>\norg.opentest4j.AssertionFailedError: expected: <2> but was: <1>\n\tat com.example.CalculatorTest.divides(CalculatorTest.java:31)"},
			{Name: "com.example.CalculatorTest.readsConfig", Message: "config.properties (No such file or directory)\njava.io.FileNotFoundException: config.properties (No such file or directory)\n\tat java.base/java.io.FileInputStream.open0(Native Method)"},
		}}},
		{"pytest.xml", greenlight.TestSummary{Passed: 2, Failed: 1, Skipped: 1, Failures: []greenlight.TestFailure{
			{Name: "tests.test_math.test_div", Message: "assert 1 == 2\n +  where 1 = div(4, 4)\ndef test_div():\n>       assert div(4, 4) == 2\nE       assert 1 == 2\nE        +  where 1 = div(4, 4)\n\ntests/test_math.py:12: AssertionError"},
		}}},
		{"go-junit-report.xml", greenlight.TestSummary{Passed: 2, Failed: 1, Skipped: 1, Failures: []greenlight.TestFailure{
			{Name: "example.com/calc.TestDiv", Message: "Failed\ncalc_test.go:14: Div(4, 2) = 1, want 2"},
		}}},
		{"jest-junit.xml", greenlight.TestSummary{Passed: 1, Failed: 1, Skipped: 1, Failures: []greenlight.TestFailure{
			{Name: "math divides", Message: "Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 2\nReceived: 1\n    at Object.toBe (/build/math.test.js:9:21)"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var got greenlight.TestSummary
			if err := Parse(f, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseRules(t *testing.T) {
	tests := []struct {
		name, xml string
		want      greenlight.TestSummary
	}{
		{"bare testsuite", `<testsuite><testcase name="a"/></testsuite>`, greenlight.TestSummary{Passed: 1}},
		{"empty testsuites", `<testsuites/>`, greenlight.TestSummary{}},
		{"nested suites", `<testsuites><testsuite><testsuite><testcase name="a"/><testcase name="b"><skipped/></testcase></testsuite></testsuite></testsuites>`,
			greenlight.TestSummary{Passed: 1, Skipped: 1}},
		{"failure and error count once", `<testsuite><testcase name="a"><failure message="x"/><error message="y"/></testcase></testsuite>`,
			greenlight.TestSummary{Failed: 1, Failures: []greenlight.TestFailure{{Name: "a", Message: "x"}}}},
		{"failure wins over skipped", `<testsuite><testcase name="a"><skipped/><error type="Boom"/></testcase></testsuite>`,
			greenlight.TestSummary{Failed: 1, Failures: []greenlight.TestFailure{{Name: "a", Message: "Boom"}}}},
		{"suite attributes are not trusted", `<testsuite tests="99" failures="42"><testcase name="a"/></testsuite>`,
			greenlight.TestSummary{Passed: 1}},
		{"failure deeper inside is not the case's", `<testsuite><testcase name="a"><system-out><failure/></system-out></testcase></testsuite>`,
			greenlight.TestSummary{Passed: 1}},
		{"name on one line", "<testsuite><testcase classname=\"k\" name=\"a\nb\"><failure>m</failure></testcase></testsuite>",
			greenlight.TestSummary{Failed: 1, Failures: []greenlight.TestFailure{{Name: "k.a b", Message: "m"}}}},
		{"a DOCTYPE without entities is fine", `<?xml version="1.0"?><!DOCTYPE testsuite><testsuite><testcase name="a"/></testsuite>`,
			greenlight.TestSummary{Passed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got greenlight.TestSummary
			if err := Parse(strings.NewReader(tt.xml), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// A report that is not JUnit XML is an error and leaves the summary as it
// was, even when part of it was read.
func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat("<testsuite>", 100000) + strings.Repeat("</testsuite>", 100000)
	laughs := `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuite><testcase name="&lol9;"><failure message="&lol9;"/></testcase></testsuite>`
	external := `<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&x;"/></testsuite>`
	tests := []struct{ name, xml, want string }{
		{"html", `<html><body/></html>`, "root element is <html>"},
		{"empty", ``, "no element"},
		{"text only", `hello`, "no element"},
		{"truncated", `<testsuite><testcase name="a"/><testcase name="b">`, "not well-formed XML"},
		{"mismatched", `<testsuite><testcase name="a"></testsuite>`, "not well-formed XML"},
		{"deep nesting", deep, "nested more than 64 deep"},
		{"billion laughs", laughs, "invalid character entity &lol9;"},
		{"external entity", external, "invalid character entity &x;"},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><testsuite/>`, `encoding "ISO-8859-1" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := greenlight.TestSummary{Passed: 3}
			start := time.Now()
			err := Parse(strings.NewReader(tt.xml), &s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if !reflect.DeepEqual(s, greenlight.TestSummary{Passed: 3}) {
				t.Errorf("summary changed by a refused report: %+v", s)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestParseCapsAndClips(t *testing.T) {
	var b strings.Builder
	b.WriteString("<testsuite>")
	long := strings.Repeat("é", MaxMessage) // 2 bytes each
	for i := range 50 {
		fmt.Fprintf(&b, `<testcase name="t%d%s"><failure message="%s"/></testcase>`, i, long, long)
	}
	b.WriteString("</testsuite>")
	s := greenlight.TestSummary{Failures: []greenlight.TestFailure{{Name: "earlier"}}}
	if err := Parse(strings.NewReader(b.String()), &s); err != nil {
		t.Fatal(err)
	}
	if s.Failed != 50 || len(s.Failures) != greenlight.MaxTestFailures || s.Failures[0].Name != "earlier" {
		t.Fatalf("got %d failed, %d failures kept (first %q), want 50, %d, the earlier one first",
			s.Failed, len(s.Failures), s.Failures[0].Name, greenlight.MaxTestFailures)
	}
	f := s.Failures[1]
	if len(f.Name) > MaxName || len(f.Message) > MaxMessage || !strings.HasSuffix(f.Name, "…") || !strings.HasSuffix(f.Message, "é…") {
		t.Errorf("not clipped on a character: name %d bytes, message %d bytes, ends %q", len(f.Name), len(f.Message), f.Message[len(f.Message)-6:])
	}
	if !strings.HasPrefix(f.Name, "t0éé") {
		t.Errorf("name %q", f.Name[:10])
	}
}
