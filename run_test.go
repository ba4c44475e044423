package greenlight

import "testing"

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
