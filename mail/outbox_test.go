package mail_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/mail"
)

func TestOutboxLogsSubjectRecipientsAndLinks(t *testing.T) {
	var buf bytes.Buffer
	o := &mail.Outbox{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	m := &greenlight.Mail{
		To:      []string{"pm@example.com"},
		Subject: "Approve hello #3: Fix login?",
		Text: "Review: http://127.0.0.1:8081/\n" +
			"Approve: http://127.0.0.1:8080/approvals/tok?decision=approve\n" +
			"Reject: http://127.0.0.1:8080/approvals/tok?decision=reject.\n",
	}
	if err := o.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var rec struct {
		Level   string   `json:"level"`
		Subject string   `json:"subject"`
		To      []string `json:"to"`
		Links   []string `json:"links"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if rec.Level != "INFO" || rec.Subject != m.Subject || !slices.Equal(rec.To, m.To) {
		t.Errorf("logged %+v", rec)
	}
	want := []string{
		"http://127.0.0.1:8081/",
		"http://127.0.0.1:8080/approvals/tok?decision=approve",
		"http://127.0.0.1:8080/approvals/tok?decision=reject",
	}
	if !slices.Equal(rec.Links, want) {
		t.Errorf("links = %q, want %q", rec.Links, want)
	}
}

func TestLinks(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"no links here, just http talk", nil},
		{"see https://example.com/a?b=c#d now", []string{"https://example.com/a?b=c#d"}},
		{"(http://x.test/path).", []string{"http://x.test/path"}},
		{`<a href="http://a.test/">x</a> http://b.test`, []string{"http://a.test/", "http://b.test"}},
		{"ftp://no.test httpx://no.test http://", nil},
		{"http://one.test\nhttps://two.test\r\n", []string{"http://one.test", "https://two.test"}},
	}
	for _, tt := range tests {
		if got := mail.Links(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("Links(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}
