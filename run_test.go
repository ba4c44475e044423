package greenlight

import "testing"

func TestRunStatusCanBecome(t *testing.T) {
	tests := []struct {
		from, to RunStatus
		want     bool
	}{
		{RunQueued, RunRunning, true},
		{RunQueued, RunCancelled, true},
		{RunQueued, RunWaiting, false},
		{RunRunning, RunWaiting, true},
		{RunRunning, RunFailed, true},
		{RunRunning, RunQueued, false},
		{RunWaiting, RunRunning, true},
		{RunWaiting, RunRejected, true},
		{RunWaiting, RunSuperseded, true},
		{RunSucceeded, RunRunning, false},
		{RunCancelled, RunFailed, false},
		{RunRunning, RunRunning, false},
		{RunRunning, RunStatus("bogus"), false},
	}
	for _, tt := range tests {
		if got := tt.from.CanBecome(tt.to); got != tt.want {
			t.Errorf("%s → %s = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		raw, hash := NewToken()
		if len(raw) != 43 || !WellFormedToken(raw) {
			t.Fatalf("token %q is not 43 base64url characters", raw)
		}
		if string(HashToken(raw)) != string(hash) || len(hash) != 32 {
			t.Fatalf("hash of %q does not match", raw)
		}
		if seen[raw] {
			t.Fatalf("token %q repeated", raw)
		}
		seen[raw] = true
	}
	for _, bad := range []string{"", "short", "../../../../etc/passwd-aaaaaaaaaaaaaaaaaaaaaaaaaa", "++++++++++++++++++++++++++++++++++++++++++="} {
		if WellFormedToken(bad) {
			t.Errorf("WellFormedToken(%q) = true", bad)
		}
	}
}
