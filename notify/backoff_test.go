package notify

import (
	"strings"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempts int
		r        float64
		want     time.Duration
	}{
		{0, 0.5, 5 * time.Second},
		{0, 0, 3750 * time.Millisecond},
		{0, 0.999999, 6249997500 * time.Nanosecond},
		{1, 0.5, 10 * time.Second},
		{3, 0.5, 40 * time.Second},
		{6, 0.5, 320 * time.Second},
		{7, 0.5, 10 * time.Minute}, // 640s capped
		{7, 0, 450 * time.Second},  // jitter below the cap still spreads retries
		{7, 0.99, 10 * time.Minute},
		{60, 0.5, 10 * time.Minute}, // no overflow
		{-1, 0.5, 5 * time.Second},  // nonsense in, sane out
		{1 << 40, 0.5, 10 * time.Minute},
	}
	for _, tt := range tests {
		got := backoff(tt.attempts, tt.r)
		if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("backoff(%d, %v) = %v, want %v", tt.attempts, tt.r, got, tt.want)
		}
	}
}

func TestPause(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := pause(i + 1); got != w {
			t.Errorf("pause(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestSubjectLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\r\nBcc: x", "a  Bcc: x"},
		{"tab\there\x00nul\x7fdel", "tab here nul del"},
		{"line\u2028sep\u0085nel", "line sep nel"},
		{"  trimmed\n", "trimmed"},
		{strings.Repeat("é", 200), strings.Repeat("é", 149) + "…"},
	}
	for _, tt := range tests {
		if got := subjectLine(tt.in); got != tt.want {
			t.Errorf("subjectLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRetryRule(t *testing.T) {
	tests := []struct {
		rule      retryRule
		attempts  int
		permanent bool
		want      bool
	}{
		{mailRetry, 2, true, false},
		{mailRetry, 3, true, true},
		{mailRetry, 1000, false, false}, // an outage never gives mail up
		{statusRetry, 3, true, true},
		{statusRetry, 29, false, false},
		{statusRetry, 30, false, true},
		{noticeRetry, 1, true, false},
		{noticeRetry, 3, true, true},
		{noticeRetry, 149, false, false},
		{noticeRetry, 150, false, true},
	}
	for _, tt := range tests {
		if got := tt.rule.giveUp(tt.attempts, tt.permanent); got != tt.want {
			t.Errorf("%+v.giveUp(%d, %v) = %v, want %v", tt.rule, tt.attempts, tt.permanent, got, tt.want)
		}
	}
}
