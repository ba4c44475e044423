package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Tests that each catch a mutation of a rule the rest of the suite let pass.

// TestTwoApprovalsRequired: on a `required: 2` gate one approval is not
// enough; the release reaches production only after the second.
func TestTwoApprovalsRequired(t *testing.T) {
	t.Parallel()
	s := start(t, options{required: 2})
	sha := s.repo.commit("Two approvals", map[string]string{"README": "two\n"})
	id := s.pushRun(sha)
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	pm := s.mailTo("pm@example.com", "Approve", 30*time.Second).Link("decision=approve")
	cto := s.mailTo("cto@example.com", "Approve", 30*time.Second).Link("decision=approve")
	if code, page := decide(t, pm, "approve", "one of two"); code != 200 {
		t.Fatalf("first approval: %d\n%s", code, page)
	}
	// Long enough for a wrongly released gate to start the production deploy.
	time.Sleep(3 * time.Second)
	r := s.run(id)
	if r.Status != greenlight.RunWaiting || r.Stage("production").Status != greenlight.StagePending {
		t.Fatalf("after one approval of two the run is %s, production %s; want waiting, pending", r.Status, r.Stage("production").Status)
	}
	if code, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.prod)); code != 0 {
		t.Fatalf("production answers %d after one approval of two", code)
	}
	if code, page := decide(t, cto, "approve", "two of two"); code != 200 {
		t.Fatalf("second approval: %d\n%s", code, page)
	}
	s.waitRun(id, 60*time.Second, greenlight.RunSucceeded)
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.prod)); code != 200 || !strings.Contains(body, sha) {
		t.Errorf("production answers %d %q, want version %s", code, body, sha)
	}
}

// TestTokenStoredAsSHA256: the tokens table holds the SHA-256 of each mailed
// token, and no row holds the token itself.
func TestTokenStoredAsSHA256(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg})
		tokens := s.deliveredTokens()
		var db *sql.DB
		var err error
		if pg {
			db, err = sql.Open("pgx", configuredDatabase(t, s.config))
		} else {
			db, err = sql.Open("sqlite", "file:"+filepath.Join(s.dir, "data", "greenlight.db")+"?mode=ro")
		}
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query(`SELECT hash FROM tokens`)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]bool{}
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				t.Fatal(err)
			}
			stored[string(h)] = true
		}
		rows.Close()
		for _, tok := range tokens {
			sum := sha256.Sum256([]byte(tok))
			if !stored[string(sum[:])] {
				t.Errorf("no token row holds the SHA-256 of the mailed token %s…", tok[:8])
			}
			if stored[tok] {
				t.Errorf("a token row holds the raw token %s…", tok[:8])
			}
		}
		if len(stored) < len(tokens)/2 { // one token per approver serves both verdicts
			t.Errorf("%d token rows for %d mailed links", len(stored), len(tokens))
		}
	})
}

// TestBitbucketUnsigned: a Bitbucket-shaped delivery without a signature, or
// with a wrong one, is refused with 401 and starts no run; the same delivery
// correctly signed starts one.
func TestBitbucketUnsigned(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	sha := s.repo.head()
	body := fmt.Sprintf(`{"push":{"changes":[{"new":{"type":"branch","name":"main","target":{"hash":"%s","message":"First version"}},"old":null,"created":true}]},"repository":{"full_name":"acme/hello"}}`, sha)
	send := func(delivery, sig string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", s.url+"/hooks/hello", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Event-Key", "repo:push")
		req.Header.Set("X-Request-UUID", delivery)
		if sig != "" {
			req.Header.Set("X-Hub-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	mac := hmac.New(sha256.New, []byte("not-the-secret"))
	mac.Write([]byte(body))
	wrong := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	for name, sig := range map[string]string{"unsigned": "", "wrongly signed": wrong, "malformed": "sha256=zz"} {
		if code := send("bb-"+strings.ReplaceAll(name, " ", "-"), sig); code != http.StatusUnauthorized {
			t.Errorf("%s Bitbucket delivery: %d, want 401", name, code)
		}
	}
	time.Sleep(time.Second)
	if code, body := s.api("GET", "/api/v1/runs?pipeline=hello", nil); code != 200 || strings.Contains(string(body), `"id":`) {
		t.Fatalf("runs after refused deliveries: %d %s", code, body)
	}
	mac = hmac.New(sha256.New, []byte(hookSecret))
	mac.Write([]byte(body))
	if code := send("bb-signed", "sha256="+hex.EncodeToString(mac.Sum(nil))); code != http.StatusAccepted {
		t.Fatalf("signed Bitbucket delivery: %d, want 202", code)
	}
	s.deliveryRun("bb-signed")
}

// TestDecisionIPIgnoresForwardedFor: the decision records the connection's
// peer address, not what an X-Forwarded-For header claims.
func TestDecisionIPIgnoresForwardedFor(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	id := s.pushRun(s.repo.head())
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	link := s.mailTo("pm@example.com", "Approve", 30*time.Second).Link("decision=approve")
	u, _ := url.Parse(link)
	u.RawQuery = ""
	req, _ := http.NewRequest("POST", u.String(), strings.NewReader(url.Values{"decision": {"approve"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.77")
	req.Header.Set("X-Real-IP", "203.0.113.78")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	code, body := s.api("GET", "/api/v1/approvals", nil)
	var list []greenlight.Approval
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list) != 1 || len(list[0].Decisions) != 1 {
		t.Fatalf("approvals: %d %s", code, body)
	}
	if ip := list[0].Decisions[0].IP; ip != "127.0.0.1" {
		t.Errorf("decision IP = %q, want the peer address 127.0.0.1", ip)
	}
}

// TestKillRightAfterDecision: kill -9 right after the 200 of an approval,
// before the production deploy can finish; the restarted server acts on the
// decided gate and production gets the release.
func TestKillRightAfterDecision(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg, slowStart: true})
		sha := s.repo.commit("Decided then killed", map[string]string{"README": "killed\n"})
		id := s.pushRun(sha)
		s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
		link := s.mailTo("pm@example.com", "Approve", 30*time.Second).Link("decision=approve")
		if code, page := decide(t, link, "approve", "then a crash"); code != 200 {
			t.Fatalf("approve: %d\n%s", code, page)
		}
		s.kill()
		s.boot()
		r := s.waitRun(id, 90*time.Second, greenlight.RunSucceeded)
		if st := r.Stage("approval").Status; st != greenlight.StageSucceeded {
			t.Errorf("approval stage after restart: %s", st)
		}
		if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.prod)); code != 200 || !strings.Contains(body, sha) {
			t.Errorf("production answers %d %q, want version %s", code, body, sha)
		}
	})
}

// TestDecidedGateRecovered: the server stops after a decision closed the gate
// and before the gate moved the run on (one transaction records the decision,
// the next one moves the run). The restart must act on the decided gate. The
// crash window is too narrow to hit with kill -9 alone, so the test kills the
// waiting server and writes, as the decision's transaction would, the
// decision and the approval's new status; the run stays waiting.
func TestDecidedGateRecovered(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg})
		sha := s.repo.commit("Decided, then a crash", map[string]string{"README": "decided\n"})
		id := s.pushRun(sha)
		s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
		eventually(t, 30*time.Second, "both approval mails recorded as sent", func() bool {
			_, body := s.api("GET", "/api/v1/outbox", nil)
			return strings.Count(string(body), `"sent_at":"`) == 2
		})
		s.kill()
		now := "now()"
		var db *sql.DB
		var err error
		if pg {
			db, err = sql.Open("pgx", configuredDatabase(t, s.config))
		} else {
			now = fmt.Sprint(time.Now().UnixMicro())
			db, err = sql.Open("sqlite", "file:"+filepath.Join(s.dir, "data", "greenlight.db"))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{
			fmt.Sprintf(`INSERT INTO decisions (approval_id, approver, verdict, comment, ip, user_agent, at)
				SELECT id, 'pm@example.com', '%s', 'just before the crash', '127.0.0.1', 'e2e', %s FROM approvals WHERE run_id = %d`,
				greenlight.Approve, now, id),
			fmt.Sprintf(`UPDATE approvals SET status = '%s', decided_at = %s WHERE run_id = %d`, greenlight.ApprovalApproved, now, id),
			fmt.Sprintf(`UPDATE tokens SET used_at = %s WHERE run_id = %d AND approver = 'pm@example.com'`, now, id),
		} {
			if res, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			} else if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("%s: %d rows", q, n)
			}
		}
		db.Close()
		s.boot()
		r := s.waitRun(id, 90*time.Second, greenlight.RunSucceeded)
		if st := r.Stage("approval").Status; st != greenlight.StageSucceeded {
			t.Errorf("approval stage after restart: %s", st)
		}
		if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.prod)); code != 200 || !strings.Contains(body, sha) {
			t.Errorf("production answers %d %q, want version %s", code, body, sha)
		}
	})
}
