package webhook

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// signed returns the headers a forge sends with body, signed with secret the
// forge's way; event is the forge's own name for the event.
func signed(forge, event, delivery string, body []byte) http.Header {
	switch forge {
	case GitHub:
		return headers("X-GitHub-Event", event, "X-GitHub-Delivery", delivery,
			"X-Hub-Signature-256", "sha256="+sign(body, secret), "Content-Type", "application/json")
	case Gitea:
		// Gitea sends GitHub-compatible headers too; its own win.
		return headers("X-Gitea-Event", event, "X-Gitea-Delivery", delivery, "X-Gitea-Signature", sign(body, secret),
			"X-GitHub-Event", event, "X-Hub-Signature-256", "sha256="+sign(body, secret))
	case Forgejo:
		return headers("X-Forgejo-Event", event, "X-Forgejo-Delivery", delivery, "X-Forgejo-Signature", sign(body, secret),
			"X-Gitea-Event", event, "X-Gitea-Delivery", delivery, "X-Gitea-Signature", sign(body, secret))
	case GitLab:
		return headers("X-Gitlab-Event", event, "X-Gitlab-Token", secret, "X-Gitlab-Event-UUID", delivery,
			"X-Gitlab-Webhook-UUID", "not-the-delivery")
	case Bitbucket:
		return headers("X-Event-Key", event, "X-Request-UUID", delivery, "X-Hook-UUID", "the-webhook-not-the-delivery",
			"X-Hub-Signature", "sha256="+sign(body, secret), "X-Attempt-Number", "1")
	}
	return headers("X-Hub-Signature-256", "sha256="+sign(body, secret), "X-Greenlight-Delivery", delivery)
}

// Golden table: each forge's documented sample payload (testdata/README.md),
// signed the forge's way, and every field Parse reads from it.
func TestParseGolden(t *testing.T) {
	zero := strings.Repeat("0", 40)
	tests := []struct {
		name, forge, event, file string
		want                     Push
	}{
		{"github push", GitHub, "push", "github/push.json", Push{Ref: "refs/heads/master", Branch: "master",
			Before: "737d38c599c1b2991664dfc6155d6bf516fcce36", After: "fd489864e7642b48eaad6e3f155c10e46810ec72",
			Message: "test a push event"}},
		{"github ping", GitHub, "ping", "github/ping.json", Push{Ping: true}},
		{"github pull request", GitHub, "pull_request", "github/pull_request.json", Push{Ref: "refs/pull/2/head",
			After: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", PullRequest: &greenlight.PullRequest{Number: 2,
				Title: "Update the README with new information.", URL: "https://github.com/Codertocat/Hello-World/pull/2",
				HeadBranch: "changes", BaseBranch: "master", HeadRepo: "https://github.com/Codertocat/Hello-World.git"}}},
		{"github tag (synthetic)", GitHub, "push", "synthetic/github-push-tag.json", Push{Ref: "refs/tags/v1.2.0", Tag: "v1.2.0",
			Before: zero, After: "59b20b8d5c6ff8d09518454d4dd8b7a4a5b9c1d3", Created: true}},
		{"github branch deleted (synthetic)", GitHub, "push", "synthetic/github-push-deleted.json", Push{Ref: "refs/heads/feature/old",
			Branch: "feature/old", Before: "59b20b8d5c6ff8d09518454d4dd8b7a4a5b9c1d3", After: zero, Deleted: true}},
		{"gitlab push", GitLab, "Push Hook", "gitlab/push.json", Push{Ref: "refs/heads/master", Branch: "master",
			Before: "95790bf891e76fee5e1747ab589903a6a1f80f22", After: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
			Message: "fixed readme"}},
		{"gitlab tag push", GitLab, "Tag Push Hook", "gitlab/tag_push.json", Push{Ref: "refs/tags/v1.0.0", Tag: "v1.0.0",
			Before: zero, After: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", Created: true}},
		{"gitlab merge request", GitLab, "Merge Request Hook", "gitlab/merge_request.json", Push{Ref: "refs/merge-requests/1/head",
			After: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Message: "fixed readme", PullRequest: &greenlight.PullRequest{
				Number: 1, Title: "MS-Viewport", URL: "http://example.com/diaspora/merge_requests/1", HeadBranch: "ms-viewport",
				BaseBranch: "master", HeadRepo: "http://example.com/awesome_space/awesome_project.git"}}},
		{"gitea push", Gitea, "push", "gitea/push.json", Push{Ref: "refs/heads/master", Branch: "master", Before: zero,
			After: "67b56589a45103f891bdee7c0546e5d40bc02001", Created: true, Message: "example\n"}},
		{"forgejo push", Forgejo, "push", "gitea/push.json", Push{Ref: "refs/heads/master", Branch: "master", Before: zero,
			After: "67b56589a45103f891bdee7c0546e5d40bc02001", Created: true, Message: "example\n"}},
		{"gitea pull request from a fork", Gitea, "pull_request", "gitea/pull_request.json", Push{Ref: "refs/pull/2/head",
			After: "48e773f892a831faa47c0a160d1b7f0cd369ae2a", PullRequest: &greenlight.PullRequest{Number: 2, Title: "update",
				URL: "http://localhost:3000/example/example/pulls/2", HeadBranch: "master", BaseBranch: "master",
				HeadRepo: "http://localhost:3000/example2/example.git"}}},
		{"forgejo pull request", Forgejo, "pull_request", "gitea/pull_request.json", Push{Ref: "refs/pull/2/head",
			After: "48e773f892a831faa47c0a160d1b7f0cd369ae2a", PullRequest: &greenlight.PullRequest{Number: 2, Title: "update",
				URL: "http://localhost:3000/example/example/pulls/2", HeadBranch: "master", BaseBranch: "master",
				HeadRepo: "http://localhost:3000/example2/example.git"}}},
		{"bitbucket push", Bitbucket, "repo:push", "bitbucket/repo_push.json", Push{Ref: "refs/heads/name-of-branch",
			Branch: "name-of-branch", Before: "1e65c05c1d5171631d92438a13901ca7dae9618c",
			After: "709d658dc5b6d6afcd46049c2f332ee3f515a67d", Message: "new commit message\n"}},
		{"bitbucket pull request", Bitbucket, "pullrequest:created", "bitbucket/pullrequest_created.json", Push{
			After: "d3022fc0ca3d", PullRequest: &greenlight.PullRequest{Number: 1, Title: "Title of pull request",
				URL: "https://api.bitbucket.org/pullrequest_id", HeadBranch: "branch2", BaseBranch: "master",
				HeadRepo: "https://bitbucket.org/team_name/repo_name.git"}}},
		{"generic", Generic, "", "synthetic/generic-push.json", Push{Ref: "refs/heads/main", Branch: "main",
			After: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}},
	}
	// Who each sample names as the pusher (Push.By): the email when the
	// forge gives one, else the login or name.
	by := map[string]string{
		"github push":                       "binkkatal.r@gmail.com",
		"github pull request":               "Codertocat",
		"github tag (synthetic)":            "octocat@github.com",
		"github branch deleted (synthetic)": "octocat@github.com",
		"gitlab push":                       "john@example.com",
		"gitlab tag push":                   "jsmith",
		"gitlab merge request":              "admin@example.com",
		"gitea push":                        "example@example.com",
		"forgejo push":                      "example@example.com",
		"gitea pull request from a fork":    "example2@example2.com",
		"forgejo pull request":              "example2@example2.com",
		"bitbucket push":                    "emmap1",
		"bitbucket pull request":            "emmap1",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := readTestdata(t, tt.file)
			got, err := Parse(signed(tt.forge, tt.event, "d-42", body), body, secret)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Forge, want.DeliveryID, want.By = tt.forge, "d-42", by[tt.name]
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("got  %+v %+v\nwant %+v %+v", *got, got.PullRequest, want, want.PullRequest)
			}
			if got.Abbreviated() != (tt.forge == Bitbucket && got.PullRequest != nil) {
				t.Errorf("Abbreviated() = %v for After %q", got.Abbreviated(), got.After)
			}
		})
	}
}

// Pull request actions that bring no new head are acknowledged and ignored.
func TestParsePullActions(t *testing.T) {
	tests := []struct {
		forge, event, file, from, to string
		ignored                      string // "" = a build
	}{
		{GitHub, "pull_request", "github/pull_request.json", `"action": "opened"`, `"action": "synchronize"`, ""},
		{GitHub, "pull_request", "github/pull_request.json", `"action": "opened"`, `"action": "reopened"`, ""},
		{GitHub, "pull_request", "github/pull_request.json", `"action": "opened"`, `"action": "closed"`, "pull request action closed"},
		{GitHub, "pull_request", "github/pull_request.json", `"action": "opened"`, `"action": "labeled"`, "pull request action labeled"},
		{Gitea, "pull_request", "gitea/pull_request.json", `"action": "opened"`, `"action": "synchronized"`, ""},
		{Gitea, "pull_request", "gitea/pull_request.json", `"action": "opened"`, `"action": "closed"`, "pull request action closed"},
		{GitLab, "Merge Request Hook", "gitlab/merge_request.json", `"action": "open"`, `"action": "update"`, ""},
		{GitLab, "Merge Request Hook", "gitlab/merge_request.json", `"action": "open"`, `"action": "reopen"`, ""},
		{GitLab, "Merge Request Hook", "gitlab/merge_request.json", `"action": "open"`, `"action": "merge"`, "merge request action merge"},
		{Bitbucket, "pullrequest:updated", "bitbucket/pullrequest_created.json", "", "", ""},
		{Bitbucket, "pullrequest:fulfilled", "bitbucket/pullrequest_created.json", "", "", "pull request action fulfilled"},
		{Bitbucket, "pullrequest:rejected", "bitbucket/pullrequest_created.json", "", "", "pull request action rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.forge+"/"+tt.event+tt.to, func(t *testing.T) {
			body := []byte(strings.Replace(string(readTestdata(t, tt.file)), tt.from, tt.to, 1))
			got, err := Parse(signed(tt.forge, tt.event, "d", body), body, secret)
			if err != nil {
				t.Fatal(err)
			}
			if got.Ignored != tt.ignored || (got.PullRequest == nil) != (tt.ignored != "") {
				t.Errorf("got ignored %q, pull request %v; want ignored %q", got.Ignored, got.PullRequest, tt.ignored)
			}
		})
	}
}

// What a malformed pull request event is refused for: it would reach git.
func TestParsePullInvalid(t *testing.T) {
	base := string(readTestdata(t, "github/pull_request.json"))
	tests := []struct{ name, from, to, msg string }{
		{"short head sha", `"sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"`, `"sha": "ec26c3e"`, "not a full commit sha"},
		{"option as head repo", `"clone_url": "https://github.com/Codertocat/Hello-World.git",
        "svn_url": "https://github.com/Codertocat/Hello-World",
        "homepage": null,
        "size": 0,
        "default_branch": "master"
      }
    },
    "base"`, `"clone_url": "--upload-pack=touch /tmp/x"}}, "base"`, "head repository"},
		{"local path as head repo", `"clone_url": "https://github.com/Codertocat/Hello-World.git",
        "svn_url": "https://github.com/Codertocat/Hello-World",
        "homepage": null,
        "size": 0,
        "default_branch": "master"
      }
    },
    "base"`, `"clone_url": "/etc"}}, "base"`, "head repository"},
		{"file URL as head repo", `"clone_url": "https://github.com/Codertocat/Hello-World.git",
        "svn_url": "https://github.com/Codertocat/Hello-World",
        "homepage": null,
        "size": 0,
        "default_branch": "master"
      }
    },
    "base"`, `"clone_url": "file:///etc"}}, "base"`, "head repository"},
		{"option as branch", `"ref": "changes"`, `"ref": "-x"`, "head branch"},
		{"branch with dotdot", `"ref": "changes"`, `"ref": "a/../b"`, "head branch"},
		{"no number", `"number": 2,
    "state"`, `"number": 0,
    "state"`, "no number"},
		{"javascript URL", `"html_url": "https://github.com/Codertocat/Hello-World/pull/2"`, `"html_url": "javascript:alert(1)"`, "not an http(s) URL"},
		{"no pull_request", `"pull_request": {`, `"pull_requestx": {`, `no "pull_request"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(base, tt.from, tt.to, 1)
			if body == base {
				t.Fatalf("the test's replacement did not apply")
			}
			p, err := Parse(signed(GitHub, "pull_request", "d", []byte(body)), []byte(body), secret)
			if greenlight.ErrorCode(err) != greenlight.EINVALID || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %+v, %v; want EINVALID saying %q", p, err, tt.msg)
			}
		})
	}
}

// Bitbucket pushes: created and deleted refs are null on one side; only the
// first change counts.
func TestParseBitbucketPush(t *testing.T) {
	sha1, sha2 := strings.Repeat("a", 40), strings.Repeat("b", 40)
	ref := func(typ, name, sha string) string {
		return `{"type":"` + typ + `","name":"` + name + `","target":{"hash":"` + sha + `","message":"msg ` + name + `"}}`
	}
	tests := []struct {
		name, changes string
		want          Push
		msg           string
	}{
		{"created branch", `[{"new":` + ref("branch", "dev", sha1) + `,"old":null,"created":true}]`,
			Push{Ref: "refs/heads/dev", Branch: "dev", Before: strings.Repeat("0", 40), After: sha1, Created: true, Message: "msg dev"}, ""},
		{"deleted branch", `[{"new":null,"old":` + ref("branch", "dev", sha1) + `,"closed":true}]`,
			Push{Ref: "refs/heads/dev", Branch: "dev", Before: sha1, After: strings.Repeat("0", 40), Deleted: true}, ""},
		{"forced", `[{"new":` + ref("branch", "main", sha2) + `,"old":` + ref("branch", "main", sha1) + `,"forced":true}]`,
			Push{Ref: "refs/heads/main", Branch: "main", Before: sha1, After: sha2, Forced: true, Message: "msg main"}, ""},
		{"annotated tag", `[{"new":` + ref("annotated_tag", "v2", sha2) + `,"old":null}]`,
			Push{Ref: "refs/tags/v2", Tag: "v2", Before: strings.Repeat("0", 40), After: sha2, Created: true, Message: "msg v2"}, ""},
		{"first of several changes", `[{"new":` + ref("branch", "a", sha1) + `,"old":null},{"new":` + ref("branch", "b", sha2) + `,"old":null}]`,
			Push{Ref: "refs/heads/a", Branch: "a", Before: strings.Repeat("0", 40), After: sha1, Created: true, Message: "msg a"}, ""},
		{"no changes", `[]`, Push{}, "no \"push.changes\""},
		{"neither side", `[{"new":null,"old":null}]`, Push{}, "neither"},
		{"short hash", `[{"new":` + ref("branch", "dev", "abc1234") + `,"old":null}]`, Push{}, "not a full commit sha"},
		{"bookmark", `[{"new":` + ref("bookmark", "x", sha1) + `,"old":null}]`, Push{}, "only branches and tags"},
		{"bad name", `[{"new":` + ref("branch", "a..b", sha1) + `,"old":null}]`, Push{}, "not a valid ref name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{"push":{"changes":` + tt.changes + `}}`)
			got, err := Parse(signed(Bitbucket, "repo:push", "", body), body, secret)
			if tt.msg != "" {
				if greenlight.ErrorCode(err) != greenlight.EINVALID || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("got %+v, %v; want EINVALID saying %q", got, err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Forge = Bitbucket
			if *got != tt.want {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

// The X-Hook-UUID of Bitbucket names the webhook, not the delivery: using it
// would make every delivery after the first a duplicate.
// GitLab's Idempotency-Key, kept by retries, wins over X-Gitlab-Event-UUID.
func TestGitLabDeliveryID(t *testing.T) {
	body := readTestdata(t, "gitlab/push.json")
	h := signed(GitLab, "Push Hook", "event-uuid", body)
	if got, err := Parse(h, body, secret); err != nil || got.DeliveryID != "event-uuid" {
		t.Fatalf("without Idempotency-Key: got %+v, %v; want the event UUID", got, err)
	}
	h.Set("Idempotency-Key", "idem-1")
	if got, err := Parse(h, body, secret); err != nil || got.DeliveryID != "idem-1" {
		t.Fatalf("with Idempotency-Key: got %+v, %v; want it", got, err)
	}
}

func TestBitbucketDeliveryID(t *testing.T) {
	body := readTestdata(t, "bitbucket/repo_push.json")
	h := signed(Bitbucket, "repo:push", "", body)
	h.Del("X-Request-UUID")
	got, err := Parse(h, body, secret)
	if err != nil || got.DeliveryID != "" {
		t.Fatalf("got %+v, %v; want no delivery id", got, err)
	}
}
