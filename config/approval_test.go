package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestApprovalRules: groups resolve into each rule's addresses (a person in
// a group and listed by name is one approver), the stage's Approvers is
// everyone once, and every gate setting is read.
func TestApprovalRules(t *testing.T) {
	s, err := Parse("g.yml", []byte(`
groups:
  product: [pm@example.com, po@example.com]
  qa: [qa1@example.com, qa2@example.com]
pipelines:
  - name: hello
    source: {repo: /srv/git/hello.git}
    stages:
      - {name: build, type: build}
      - name: approval
        type: approval
        rules:
          - {name: product, approvers: [group:product], required: 1}
          - name: qa
            approvers: ["group:qa", lead@example.com, QA1@example.com, pm@example.com]
            required: 2
        self_approval: true
        comment: both
        timeout: 10s
        on_timeout: reject
        remind: [4s, 2s]
        escalate: {after: 5s, to: [cto@example.com]}
        wait: 1s
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := *s.Pipelines[0].Stage("approval")
	want := Stage{Name: "approval", Type: greenlight.StageApproval, Timeout: 10 * time.Second,
		Approvers: []string{"pm@example.com", "po@example.com", "qa1@example.com", "qa2@example.com", "lead@example.com"},
		Rules: []greenlight.ApprovalRule{
			{Name: "product", Approvers: []string{"pm@example.com", "po@example.com"}, Required: 1},
			{Name: "qa", Approvers: []string{"qa1@example.com", "qa2@example.com", "lead@example.com", "pm@example.com"}, Required: 2},
		},
		SelfApproval: true, Comment: greenlight.CommentBoth, OnTimeout: greenlight.TimeoutReject,
		Remind: []time.Duration{4 * time.Second, 2 * time.Second}, Wait: time.Second,
		Escalate: &Escalate{After: 5 * time.Second, To: []string{"cto@example.com"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}
