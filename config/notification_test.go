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
	for _, tt := range []struct {
		n               int
		event, pipeline string
		want            bool
	}{
		{0, "run.failed", "other", true},
		{0, "run.started", "hello", false},
		{1, "run.started", "hello", true},
		{1, "run.started", "other", false},
	} {
		if got := s.Notifications[tt.n].Wants(tt.event, tt.pipeline); got != tt.want {
			t.Errorf("%s.Wants(%s, %s) = %v, want %v", s.Notifications[tt.n].Name, tt.event, tt.pipeline, got, tt.want)
		}
	}
}
