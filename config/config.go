// Package config reads Greenlight's two configuration files: the server's
// greenlight.yml (SPEC §3), which holds every security-relevant choice, and a
// repository's build file .greenlight.yml (SPEC §4). It decodes strictly,
// interpolates ${NAME} in the server file, fills defaults, validates, and
// reports every problem at once as FILE:LINE:COL: message.
package config

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Server is a decoded greenlight.yml. Relative paths in it are already
// resolved against the file's directory.
type Server struct {
	File       string // path it was read from
	Listen     string // host:port, default 127.0.0.1:8080
	PublicURL  string // base of links in emails, without a trailing slash
	DataDir    string // absolute
	AdminToken string // "" when the key is absent (then the server generates one)
	BuildUser  string // who build steps run as when the server is root; "" for a uid of each pipeline's own
	Database   string // "" = SQLite at <DataDir>/greenlight.db, or postgres://...
	Mail       Mail
	Retention  Retention
	// Groups are named approver lists that approval stages use as
	// `group:NAME`; already resolved into each stage's rules.
	Groups    map[string][]string
	Pipelines []*Pipeline
	// Notifications are the chats and webhooks told of events (SPEC §12).
	Notifications []*Notification
}

// Pipeline returns the pipeline with that name, or nil.
func (s *Server) Pipeline(name string) *Pipeline {
	for _, p := range s.Pipelines {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Mail is how email leaves the server. SMTP "" keeps every message in the outbox.
type Mail struct {
	SMTP string // smtp://… (STARTTLS when offered) or smtps://…
	From string // default "Greenlight <greenlight@localhost>"
}

// Pipeline modes (SPEC §5).
const (
	ModeSuperseded = "superseded"
	ModeQueued     = "queued"
	ModeParallel   = "parallel"
)

// Pipeline is a git source and an ordered list of stages.
type Pipeline struct {
	Name   string
	Mode   string // ModeSuperseded (default), ModeQueued or ModeParallel
	Source Source
	// Secrets are given to build steps as environment variables and masked
	// in their logs; never to pull-request builds (untrusted code).
	Secrets      map[string]string
	Notify       []string // plain addresses told of failures and rejections
	Stages       []Stage
	Environments map[string]*Environment
}

// Stage returns the pipeline's stage with that name, or nil.
func (p *Pipeline) Stage(name string) *Stage {
	for i := range p.Stages {
		if p.Stages[i].Name == name {
			return &p.Stages[i]
		}
	}
	return nil
}

// Source is where a pipeline's commits come from (SPEC §3, §10).
type Source struct {
	Repo          string        // a URL, scp-like address, or absolute path
	Branch        string        // default main; the first of Branches
	Branches      []string      // globs; "!glob" excludes; default [Branch]
	Tags          []string      // globs of tags whose pushes start runs; none by default
	Paths         []string      // globs; "!glob" excludes; empty: every change counts
	Schedule      string        // 5-field cron, "" for none
	Timezone      string        // IANA name for Schedule; "" = the server's local time
	Poll          time.Duration // 0: webhooks only; otherwise at least 1s
	WebhookSecret string        // "": the pipeline accepts no webhooks
	Forge         *Forge        // commit statuses; nil for none

	// Credentials for a private repository; never written to logs or to a
	// workspace's git config.
	Token         string // HTTPS: sent as the password (user from the URL, or "x-access-token")
	SSHKey        string // ssh://, scp-like: path of a private key file
	SSHKnownHosts string // ssh: known_hosts file; "" = ~/.ssh/known_hosts
	Submodules    bool   // check out submodules recursively
	Depth         int    // shallow fetch depth; 0 = full history
}

// Forge is where commit statuses are reported (SPEC §10).
type Forge struct {
	Type  string // github | gitlab | gitea
	API   string // base URL, e.g. https://api.github.com
	Repo  string // owner/name (GitLab: project path or numeric id)
	Token string
}

// Stage is one stage of a pipeline. Which fields are used depends on Type.
type Stage struct {
	Name    string
	Type    greenlight.StageType
	Timeout time.Duration // build 60m, deploy 30m, approval 72h by default

	File    string // build: the build file in the repository, default .greenlight.yml
	Network string // build: NetworkHost (default) or NetworkNone
	Cache   string // build: CacheBranch (default), CacheShared or CacheNone
	Limits  Limits // build: zero fields take the runner's defaults

	Environment string // deploy: a key of Pipeline.Environments

	Approvers []string // approval: everyone in Rules, once each (groups resolved)
	Required  int      // approval: approvals needed when written as approvers+required, default 1
	ReviewURL string   // approval: optional link to what is being approved
	// Rules of an approval stage, every one of which must pass; a stage
	// written with approvers+required has one rule named "approvers".
	Rules        []greenlight.ApprovalRule
	SelfApproval bool            // approval: may the author, committer or triggerer approve (default false)
	Comment      string          // approval: greenlight.CommentNone|Reject (default)|Approve|Both
	OnTimeout    string          // approval: greenlight.TimeoutExpire (default) or TimeoutReject
	Remind       []time.Duration // approval: before the deadline, each less than Timeout
	Escalate     *Escalate       // approval: nil for none
	Wait         time.Duration   // approval: links go out this long after the stage opens
}

// Escalate asks To as well, After the links went out.
type Escalate struct {
	After time.Duration
	To    []string
}

// Default stage timeouts.
const (
	DefaultBuildTimeout    = 60 * time.Minute
	DefaultDeployTimeout   = 30 * time.Minute
	DefaultApprovalTimeout = 72 * time.Hour
)

// Load reads and parses the server file at path. getenv looks up ${NAME}
// (pass os.LookupEnv in main; nil means no variables are set). A file that
// cannot be read is a wrapped I/O error; problems in its content are Errors.
func Load(path string, getenv func(string) (string, bool)) (*Server, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, getenv)
}

// LoadBuild reads and parses the build file at path, reading no more than
// MaxBuildFileSize+1 bytes of it. Problems in its content are Errors.
func LoadBuild(path string) (*Build, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read build file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxBuildFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read build file: %w", err)
	}
	return ParseBuild(path, data)
}
