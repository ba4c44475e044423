package greenlight

import "time"

// RunStatus is where a run is in its life (SPEC §5).
type RunStatus string

const (
	RunQueued     RunStatus = "queued"
	RunRunning    RunStatus = "running"
	RunWaiting    RunStatus = "waiting" // at an approval, or a deploy its environment holds (Reason says which)
	RunSucceeded  RunStatus = "succeeded"
	RunFailed     RunStatus = "failed"
	RunRejected   RunStatus = "rejected"
	RunExpired    RunStatus = "expired"
	RunCancelled  RunStatus = "cancelled"
	RunSuperseded RunStatus = "superseded"
)

// Terminal reports whether a run in this status can never change again.
func (s RunStatus) Terminal() bool {
	switch s {
	case RunSucceeded, RunFailed, RunRejected, RunExpired, RunCancelled, RunSuperseded:
		return true
	}
	return false
}

// Valid reports whether s is one of the statuses above.
func (s RunStatus) Valid() bool {
	return s == RunQueued || s == RunRunning || s == RunWaiting || s.Terminal()
}

// Trigger says what started a run (SPEC §10).
type Trigger string

const (
	TriggerWebhook    Trigger = "webhook"
	TriggerPoll       Trigger = "poll"
	TriggerSchedule   Trigger = "schedule"
	TriggerAPI        Trigger = "api"
	TriggerQuickstart Trigger = "quickstart"
	TriggerRollback   Trigger = "rollback"
)

// Commit is the commit a run builds, as read from git.
type Commit struct {
	SHA         string `json:"sha"`
	Branch      string `json:"branch"` // "" for a tag's run
	Tag         string `json:"tag,omitempty"`
	Title       string `json:"title"`
	AuthorName  string `json:"author_name"`
	AuthorEmail string `json:"author_email"`
	// CommitterEmail is who made the commit object (a rebase or a merge on
	// the forge makes it differ from the author); it may not approve the run
	// either unless the gate allows self-approval.
	CommitterEmail string `json:"committer_email,omitempty"`
}

// Short returns the first 7 characters of the commit's SHA.
func (c Commit) Short() string {
	if len(c.SHA) > 7 {
		return c.SHA[:7]
	}
	return c.SHA
}

// PullRequest is the pull (or merge) request a run builds.
type PullRequest struct {
	Number     int    `json:"number"`
	Title      string `json:"title"`
	URL        string `json:"url"`         // the request's page on the forge
	HeadBranch string `json:"head_branch"` // in HeadRepo
	BaseBranch string `json:"base_branch"`
	HeadRepo   string `json:"head_repo"` // clone URL of the head (a fork's, maybe)
}

// ArtifactRef names a build's artifact by its content.
type ArtifactRef struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Run is one pass of a pipeline for one commit.
type Run struct {
	ID       int64             `json:"id"`
	Pipeline string            `json:"pipeline"`
	Status   RunStatus         `json:"status"`
	Trigger  Trigger           `json:"trigger"`
	Commit   Commit            `json:"commit"`
	Params   map[string]string `json:"params,omitempty"`
	// PullRequest is set for a build of a pull request's head: build stages
	// only, without the pipeline's secrets.
	PullRequest *PullRequest `json:"pull_request,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
	FinishedAt  *time.Time   `json:"finished_at"`
	Artifact    *ArtifactRef `json:"artifact"`
	Error       string       `json:"error,omitempty"` // why it halted, for people
	// Reason says what a waiting run waits for, for people ("waiting for
	// product (0 of 1)", "outside the deploy windows; …"); "" otherwise.
	Reason string `json:"reason,omitempty"`
	// TriggeredBy is who started the run: the pusher a webhook names (their
	// email, else their name), the API's caller; "" when nobody did (poll,
	// schedule). Trigger says how.
	TriggeredBy string `json:"triggered_by,omitempty"`
	// Tests summarises the build's JUnit reports; nil without reports.
	Tests  *TestSummary `json:"tests,omitempty"`
	Stages []Stage      `json:"stages"`
	// Hooks are the deploy hooks of the commit's build file, kept with the run
	// because deploys (and redeploys) install the artifact, not the checkout.
	Hooks Hooks `json:"-"`
}

// TestSummary is what a build's test reports say (JUnit XML).
type TestSummary struct {
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Skipped  int           `json:"skipped"`
	Failures []TestFailure `json:"failures"` // capped at MaxTestFailures
}

// MaxTestFailures bounds the failures a summary keeps.
const MaxTestFailures = 20

// TestFailure is one failed (or errored) test case.
type TestFailure struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Hooks are the deploy lifecycle commands of a build file (SPEC §4), run on
// each target in the release directory. Empty means none.
type Hooks struct {
	Stop          string `json:"stop,omitempty"`
	BeforeInstall string `json:"before_install,omitempty"`
	AfterInstall  string `json:"after_install,omitempty"`
	Start         string `json:"start,omitempty"`
	Validate      string `json:"validate,omitempty"`
}

// Stage returns the run's stage with that name, or nil.
func (r *Run) Stage(name string) *Stage {
	for i := range r.Stages {
		if r.Stages[i].Name == name {
			return &r.Stages[i]
		}
	}
	return nil
}

// RunFilter selects runs for a listing; zero fields select everything.
type RunFilter struct {
	Pipeline string
	Statuses []RunStatus
	Limit    int // 0: a default chosen by the store
	// FinishedBefore, when set, selects runs that finished before it.
	FinishedBefore time.Time
	// BeforeID, when set, selects runs with a smaller id (to page on).
	BeforeID int64
	// Artifact, when set, selects the runs that built this artifact.
	Artifact string
}

// TriggerRequest asks for a new run of a pipeline.
type TriggerRequest struct {
	Commit     string            // 40-hex sha; "" = the head of the pipeline's branch
	Branch     string            // "" = the pipeline's branch
	Params     map[string]string // given to steps as GREENLIGHT_PARAM_<KEY>
	Trigger    Trigger
	DeliveryID string // webhook delivery id, for de-duplication; "" = none
	// By is who asks (Run.TriggeredBy); "" when nobody does.
	By string
	// Tag is set for a tag's run (then Branch is ""): Commit is required.
	Tag string
	// PullRequest is set for a pull request's build: Commit is its head.
	PullRequest *PullRequest
}
