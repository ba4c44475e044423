package config

import (
	"reflect"
	"testing"
)

func TestNotifications(t *testing.T) {
	data := []byte(`
pipelines:
  - name: hello
    source: {repo: /srv/git/hello.git}
    stages: [{name: build, type: build}]
  - name: other
    source: {repo: /srv/git/other.git}
    stages: [{name: build, type: build}]
notifications:
  - name: chat
    type: slack
    url: https://hooks.slack.com/services/${HELLO_WEBHOOK_SECRET}
    events: [run.failed, release.live]
  - name: itsm
    type: webhook
    url: https://itsm.example.com/greenlight
    secret: ${HELLO_WEBHOOK_SECRET}
    pipelines: [hello]
`)
	s, err := Parse("greenlight.yml", data, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []*Notification{
		{Name: "chat", Type: "slack", URL: "https://hooks.slack.com/services/hook-secret", Events: []string{"run.failed", "release.live"}},
		{Name: "itsm", Type: "webhook", URL: "https://itsm.example.com/greenlight", Secret: "hook-secret", Pipelines: []string{"hello"}},
	}
	if !reflect.DeepEqual(s.Notifications, want) {
		t.Fatalf("got %+v %+v, want %+v %+v", *s.Notifications[0], *s.Notifications[1], *want[0], *want[1])
	}
}
