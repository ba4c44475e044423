package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestNoticesAPI(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	for i, name := range []string{"itsm", "chat", "itsm"} {
		n := &greenlight.Notice{Notification: name, Type: greenlight.NotifyWebhook, Pipeline: "hello", RunID: 1,
			Seq: int64(i + 1), Event: greenlight.NoticeRunStarted, DeliveryID: "d" + string(rune('0'+i)),
			Body: `{"secret-body":true}`, NextAttempt: now, CreatedAt: now}
		if _, err := e.store.QueueNotice(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := e.api("GET", "/api/v1/notices?notification=itsm", "")
	var list []map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 2 {
		t.Fatalf("GET notices: %d %s", resp.StatusCode, body)
	}
	if list[0]["delivery"] != "d2" || list[0]["status"] != "pending" || list[0]["event"] != "run.started" {
		t.Errorf("newest notice %v, want d2 pending run.started", list[0])
	}
	if strings.Contains(body, "secret-body") {
		t.Errorf("the listing shows bodies: %s", body)
	}
	for _, tt := range []struct {
		path, token string
		code        int
	}{
		{"/api/v1/notices", "", 401},
		{"/api/v1/notices?limit=0", adminToken, 400},
		{"/api/v1/notices?limit=2", adminToken, 200},
	} {
		resp, body := e.do("GET", tt.path, tt.token, nil)
		if resp.StatusCode != tt.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %d %s, want %d JSON", tt.path, resp.StatusCode, body, tt.code)
		}
	}
}
