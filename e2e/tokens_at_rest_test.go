package e2e

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// With SMTP configured, an approval link works only from the mail that was
// delivered: no file of the data directory (database, WAL, shared memory,
// logs, anything) holds a raw token, and neither does PostgreSQL. A copy of
// the data directory, or a build that manages to read it, must not be able
// to approve its own release.

// TestTokensAtRestSQLite delivers the approval mail, reads every byte under
// the data directory, then approves through the mailed link.
func TestTokensAtRestSQLite(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	tokens := s.deliveredTokens()
	s.noTokenInFiles(tokens, filepath.Join(s.dir, "data"))
	s.noTokenInOutput(tokens)
	s.approveToProduction()
}

// TestTokensAtRestPostgres is the same on PostgreSQL: no table holds a raw
// token, and when the database server's files are on this machine and
// readable (a local test server), neither do its WAL and table files.
func TestTokensAtRestPostgres(t *testing.T) {
	t.Parallel()
	s := start(t, options{postgres: true}) // skips when PostgreSQL is unreachable (outside CI)
	dbURL := configuredDatabase(t, s.config)
	tokens := s.deliveredTokens()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := pgRowsAsText(t, db)
	if !strings.Contains(rows, "approvals: ") {
		t.Fatalf("read no approval from %s; the server did not use it?", dbURL)
	}
	for _, tok := range tokens {
		if strings.Contains(rows, tok) {
			t.Errorf("a row of the database holds the raw token %s…", tok[:8])
		}
	}
	var dir string
	var oid int64
	if err := db.QueryRow("SELECT current_setting('data_directory'), (SELECT oid FROM pg_database WHERE datname = current_database())").
		Scan(&dir, &oid); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "pg_wal")); err == nil {
			db.Exec("CHECKPOINT") // table files written from shared buffers too
			s.noTokenInFiles(tokens, filepath.Join(dir, "pg_wal"), filepath.Join(dir, "base", fmt.Sprint(oid)))
		} else {
			t.Logf("PostgreSQL's files (%s) are not readable here; checked its rows only", dir)
		}
	}
	s.noTokenInFiles(tokens, filepath.Join(s.dir, "data"))
	s.approveToProduction()
}

// deliveredTokens pushes a commit, waits for both approvers' mails and for
// their delivery to be recorded, and returns the tokens of their links.
func (s *server) deliveredTokens() []string {
	s.t.Helper()
	id := s.pushRun(s.repo.commit("Tokens at rest", map[string]string{"README": "at rest\n"}))
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	var tokens []string
	for _, approver := range s.approver {
		m := s.mailTo(approver, "Approve", 30*time.Second)
		for _, v := range []string{"approve", "reject"} {
			link := m.Link("decision=" + v)
			tok := strings.TrimPrefix(strings.SplitN(link, "?", 2)[0], s.url+"/approvals/")
			if !greenlight.WellFormedToken(tok) {
				s.t.Fatalf("mail to %s: link %q holds no token", approver, link)
			}
			tokens = append(tokens, tok)
		}
	}
	// Once the delivery is recorded, whatever the server does after sending
	// has been done.
	eventually(s.t, 20*time.Second, "approval mail recorded as sent", func() bool {
		code, body := s.api("GET", "/api/v1/outbox", nil)
		var mails []greenlight.Mail
		if code != 200 || json.Unmarshal(body, &mails) != nil {
			return false
		}
		sent := 0
		for _, m := range mails {
			if strings.HasPrefix(m.Subject, "Approve") && m.SentAt != nil {
				sent++
			}
		}
		return sent == len(s.approver)
	})
	time.Sleep(300 * time.Millisecond) // let the last commit reach the files
	return tokens
}

// noTokenInFiles reads every file under the roots, as a copy of them would,
// and fails if one holds a token as text or its 32 raw bytes.
func (s *server) noTokenInFiles(tokens []string, roots ...string) {
	s.t.Helper()
	var needles [][]byte
	for _, tok := range tokens {
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		needles = append(needles, []byte(tok), raw)
	}
	files, found := 0, 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil // a file removed while we walk (a workspace, a temp file)
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if os.IsNotExist(err) {
				return nil
			}
			if err != nil {
				return err
			}
			files++
			for i, n := range needles {
				if bytes.Contains(b, n) {
					found++
					s.t.Errorf("%s holds a delivered approval token (%s, %s…)", path,
						map[bool]string{true: "as text", false: "raw bytes"}[i%2 == 0], tokens[i/2][:8])
				}
			}
			return nil
		})
		if err != nil {
			s.t.Fatalf("read %s: %v", root, err)
		}
	}
	if files == 0 {
		s.t.Fatalf("no file under %v", roots)
	}
	s.t.Logf("read %d files under %v: %d tokens found", files, roots, found)
}

// noTokenInOutput fails if the server's log holds a token: with SMTP, links
// are not logged.
func (s *server) noTokenInOutput(tokens []string) {
	s.t.Helper()
	out := s.out.String()
	for _, tok := range tokens {
		if strings.Contains(out, tok) {
			s.t.Errorf("the server's output holds the token %s…", tok[:8])
		}
	}
}

// approveToProduction approves through pm's mailed link: the links still work.
func (s *server) approveToProduction() {
	s.t.Helper()
	approve := s.mailTo(s.approver[0], "Approve", time.Second).Link("decision=approve")
	if code, page := decide(s.t, approve, "approve", "at rest"); code != 200 {
		s.t.Fatalf("approve through the mailed link: %d\n%s", code, page)
	}
	code, body := s.api("GET", "/api/v1/runs?pipeline=hello&limit=1", nil)
	var runs []greenlight.Run
	if code != 200 || json.Unmarshal(body, &runs) != nil || len(runs) != 1 {
		s.t.Fatalf("runs: %d %s", code, body)
	}
	s.waitRun(runs[0].ID, 60*time.Second, greenlight.RunSucceeded)
	if code, page := get(s.t, fmt.Sprintf("http://127.0.0.1:%d/", s.prod)); code != 200 || !strings.Contains(page, runs[0].Commit.SHA) {
		s.t.Errorf("production answers %d %q, want version %s", code, page, runs[0].Commit.SHA)
	}
}

// pgRowsAsText returns every row of every table of db's public schema as
// text, each prefixed with its table's name.
func pgRowsAsText(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		rs, err := db.Query(fmt.Sprintf(`SELECT t::text FROM %q t`, table))
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		for rs.Next() {
			var row string
			rs.Scan(&row)
			b.WriteString(table + ": " + row + "\n")
		}
		rs.Close()
	}
	return b.String()
}

// configuredDatabase is the database URL of the server's configuration.
func configuredDatabase(t *testing.T, config string) string {
	t.Helper()
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "database: "); ok {
			if u, err := strconv.Unquote(v); err == nil && u != "" {
				return u
			}
		}
	}
	t.Fatalf("no database URL in %s", config)
	return ""
}
