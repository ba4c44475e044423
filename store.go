package greenlight

import (
	"context"
	"io"
	"time"
)

// Store persists everything Greenlight knows. It is implemented for SQLite and
// PostgreSQL by package store, and both pass the same conformance suite.
//
// Contract:
//   - Methods are safe for concurrent use. ctx bounds every call.
//   - A missing row is an *Error with code ENOTFOUND.
//   - The store decides nothing: callers (orchestrator, approval, notify) hold
//     the rules; conditional methods (UseToken, LockApproval, SetApprovalStatus)
//     report whether their condition held, so that exactly one of several
//     racing callers wins.
//   - InTx runs fn in one transaction that takes the write lock at its start
//     (SQLite BEGIN IMMEDIATE; PostgreSQL read committed plus the row locks of
//     its conditional updates). fn must use only the Tx it is given. The
//     transaction commits if fn returns nil and rolls back otherwise. On
//     PostgreSQL a serialization failure or deadlock runs fn again, so fn must
//     have no effect outside the transaction. Appending an event takes the
//     event log's lock until commit (PostgreSQL): append events last.
//   - Times are kept to the microsecond and returned in UTC.
type Store interface {
	Tx
	InTx(ctx context.Context, fn func(tx Tx) error) error
	Close() error
}

// Tx is the set of operations, usable inside or outside a transaction.
type Tx interface {
	// CreateRun inserts run and its stages, setting run.ID.
	CreateRun(ctx context.Context, run *Run) error
	// Run returns the run with its stages in pipeline order.
	Run(ctx context.Context, id int64) (*Run, error)
	// Runs returns runs matching f, newest first, with their stages.
	Runs(ctx context.Context, f RunFilter) ([]*Run, error)
	// LockRun takes the run's row lock for the rest of the transaction, so
	// that a read-modify-write of the run cannot lose a concurrent change.
	// ENOTFOUND if there is no such run.
	LockRun(ctx context.Context, id int64) error
	// UpdateRun writes the run's status, finished_at, artifact, error, hooks,
	// commit title and author (read from git after the run was created), and
	// every stage's status, times, error and attempts.
	UpdateRun(ctx context.Context, run *Run) error

	// AppendEvent writes e, setting e.Seq (increasing across the whole log).
	AppendEvent(ctx context.Context, e *Event) error
	// Events returns up to limit events with Seq > after, in Seq order.
	Events(ctx context.Context, after int64, limit int) ([]Event, error)
	// Cursor returns the last Seq the subscriber has handled (0 if none).
	Cursor(ctx context.Context, subscriber string) (int64, error)
	// SetCursor records that the subscriber has handled every event up to seq.
	SetCursor(ctx context.Context, subscriber string, seq int64) error

	// CreateApproval inserts a, setting a.ID.
	CreateApproval(ctx context.Context, a *Approval) error
	// Approval returns the approval with its decisions in time order.
	Approval(ctx context.Context, id int64) (*Approval, error)
	// ApprovalForStage returns the approval of one stage of one run.
	ApprovalForStage(ctx context.Context, runID int64, stage string) (*Approval, error)
	// Approvals returns approvals with the status (all if empty), newest first.
	Approvals(ctx context.Context, status ApprovalStatus) ([]*Approval, error)
	// LockApproval takes the approval's row lock for the rest of the
	// transaction if it is still pending; false if it is not pending.
	LockApproval(ctx context.Context, id int64, now time.Time) (bool, error)
	// SetApprovalStatus moves a pending approval to status; false if it was no
	// longer pending (someone else decided first).
	SetApprovalStatus(ctx context.Context, id int64, status ApprovalStatus, at time.Time) (bool, error)
	// AddDecision records d.
	AddDecision(ctx context.Context, d *Decision) error

	// CreateToken stores t (its hash only).
	CreateToken(ctx context.Context, t *ApprovalToken) error
	// Token returns the token with that hash.
	Token(ctx context.Context, hash []byte) (*ApprovalToken, error)
	// UseToken marks the token used at now if it is unused, unrevoked and not
	// expired at now; false otherwise.
	UseToken(ctx context.Context, hash []byte, now time.Time) (bool, error)
	// RevokeTokens revokes every unused token of the approval.
	RevokeTokens(ctx context.Context, approvalID int64, at time.Time) error

	// CreateRelease inserts r, setting r.ID.
	CreateRelease(ctx context.Context, r *Release) error
	// UpdateRelease writes r's status, error, deployed_at and targets.
	UpdateRelease(ctx context.Context, r *Release) error
	// Releases returns an environment's releases, newest first (limit 0: all).
	Releases(ctx context.Context, pipeline, env string, limit int) ([]*Release, error)
	// LiveRelease returns the environment's live release, or ENOTFOUND.
	LiveRelease(ctx context.Context, pipeline, env string) (*Release, error)
	// Releases and LiveRelease fill a release's Targets from its stored
	// target states when it has any (Status is the phase), else from the
	// targets UpdateRelease wrote.

	// SetTargetState inserts or replaces the state of s.Target in release
	// s.ReleaseID.
	SetTargetState(ctx context.Context, s *TargetState) error
	// TargetStates returns a release's target states by Position.
	TargetStates(ctx context.Context, releaseID int64) ([]TargetState, error)

	// CreateRetirement inserts r, setting r.ID.
	CreateRetirement(ctx context.Context, r *Retirement) error
	// DueRetirements returns retirements not done whose DueAt is at or
	// before now, oldest first.
	DueRetirements(ctx context.Context, now time.Time, limit int) ([]*Retirement, error)
	// NextRetirement returns the earliest DueAt after after of the
	// retirements not done; zero if none.
	NextRetirement(ctx context.Context, after time.Time) (time.Time, error)
	// Retirements returns an environment's retirements not done, oldest first.
	Retirements(ctx context.Context, pipeline, env string) ([]*Retirement, error)
	// FinishRetirement records the outcome of a retirement not done yet;
	// false if it was done already.
	FinishRetirement(ctx context.Context, id int64, at time.Time, outcome string) (bool, error)

	// EnqueueMail inserts m unless a mail with m.Key exists; reports whether
	// it inserted. Sets m.ID when it did.
	EnqueueMail(ctx context.Context, m *Mail) (bool, error)
	// DueMail returns unsent mail whose NextAttempt is at or before now, oldest first.
	DueMail(ctx context.Context, now time.Time, limit int) ([]*Mail, error)
	// NextMailAttempt returns the earliest NextAttempt after after of the
	// unsent mail; zero if none.
	NextMailAttempt(ctx context.Context, after time.Time) (time.Time, error)
	// MarkMailSent records delivery.
	MarkMailSent(ctx context.Context, id int64, at time.Time) error
	// RedactMail replaces a mail's stored bodies: after SMTP delivery of a
	// mail that still held links (queued before tokens were made at sending),
	// or with the links filled in when the outbox is the delivery.
	RedactMail(ctx context.Context, id int64, text, html string) error
	// MarkMailFailed records a failed attempt and when to try again.
	MarkMailFailed(ctx context.Context, id int64, reason string, next time.Time) error
	// Mails returns the newest mail first (limit 0: a default).
	Mails(ctx context.Context, limit int) ([]*Mail, error)

	// QueueStatus records s as the newest state of its (Pipeline, SHA,
	// Context), replacing an older state whether it was posted or not: the
	// row becomes due at s.NextAttempt with no attempts and no error. Sets
	// s.ID and s.Version.
	QueueStatus(ctx context.Context, s *CommitStatus) error
	// DueStatuses returns statuses not done whose NextAttempt is at or before
	// now, oldest first.
	DueStatuses(ctx context.Context, now time.Time, limit int) ([]*CommitStatus, error)
	// NextStatusAttempt returns the earliest NextAttempt after after of the
	// statuses not done; zero if none.
	NextStatusAttempt(ctx context.Context, after time.Time) (time.Time, error)
	// MarkStatusDone records that version of the status was posted (reason
	// "") or given up on (reason says why), counting the attempt; false if a
	// newer version replaced it meanwhile, which stays due.
	MarkStatusDone(ctx context.Context, id, version int64, at time.Time, reason string) (bool, error)
	// MarkStatusFailed records a failed attempt at version of the status and
	// when to try again; false if a newer version replaced it meanwhile.
	MarkStatusFailed(ctx context.Context, id, version int64, reason string, next time.Time) (bool, error)
	// CommitStatuses returns the statuses of one commit in one pipeline, by context.
	CommitStatuses(ctx context.Context, pipeline, sha string) ([]*CommitStatus, error)

	// QueueNotice inserts n into the notification outbox unless a notice of
	// the same Notification, Seq and Event exists (one conditional
	// statement); reports whether it inserted, setting n.ID if so.
	QueueNotice(ctx context.Context, n *Notice) (bool, error)
	// DueNotices returns pending notices whose NextAttempt is at or before
	// now and that are the oldest pending notice of their Notification and
	// Pipeline (a notice waits for the earlier ones of its pipeline), oldest
	// first (limit 0: a default).
	DueNotices(ctx context.Context, now time.Time, limit int) ([]*Notice, error)
	// NextNoticeAttempt returns the earliest NextAttempt after after of the
	// notices DueNotices could return (the oldest pending notice of each
	// Notification and Pipeline); zero if none.
	NextNoticeAttempt(ctx context.Context, after time.Time) (time.Time, error)
	// MarkNoticeDone records the last attempt at a pending notice: status
	// NoticeDelivered, or NoticeDropped with reason; false if it was done.
	MarkNoticeDone(ctx context.Context, id int64, status NoticeStatus, at time.Time, reason string) (bool, error)
	// MarkNoticeFailed records a failed attempt at a pending notice and when
	// to try again; false if it was done.
	MarkNoticeFailed(ctx context.Context, id int64, reason string, next time.Time) (bool, error)
	// Notices returns the notices of a notification (every one's if ""),
	// newest first (limit 0: a default).
	Notices(ctx context.Context, notification string, limit int) ([]*Notice, error)

	// LockEnvironment records l unless l's environment is locked already
	// (one conditional statement); false if it was, and then nothing changes.
	LockEnvironment(ctx context.Context, l *EnvironmentLock) (bool, error)
	// UnlockEnvironment removes the environment's lock; false if it had none.
	UnlockEnvironment(ctx context.Context, pipeline, env string) (bool, error)
	// EnvironmentLock returns the environment's lock, or ENOTFOUND.
	EnvironmentLock(ctx context.Context, pipeline, env string) (*EnvironmentLock, error)

	// RecordDelivery remembers a webhook delivery id; false if it was already seen.
	RecordDelivery(ctx context.Context, pipeline, id string, at time.Time) (bool, error)

	// LastBuilt returns the last commit of a pipeline's ref (refs/heads/main)
	// that a run was started for, or ENOTFOUND.
	LastBuilt(ctx context.Context, pipeline, ref string) (string, error)
	// SetLastBuilt records sha as that commit, replacing the one before.
	SetLastBuilt(ctx context.Context, pipeline, ref, sha string, at time.Time) error
	// AdvanceLastBuilt records sha as that commit unless it already is, in
	// one conditional statement; false if it already was, so that of two
	// racing triggers of one commit exactly one builds it.
	AdvanceLastBuilt(ctx context.Context, pipeline, ref, sha string, at time.Time) (bool, error)

	// EnqueueDelivery inserts d into the webhook inbox unless the pipeline
	// has a delivery with d.DeliveryID already (one conditional statement);
	// reports whether it inserted, setting d.ID if so.
	EnqueueDelivery(ctx context.Context, d *Delivery) (bool, error)
	// QueuedDeliveries returns up to limit deliveries whose DoneAt is unset,
	// every pipeline's first before any pipeline's second, each pipeline's
	// in inbox order (limit 0: a default).
	QueuedDeliveries(ctx context.Context, limit int) ([]*Delivery, error)
	// UpdateDelivery writes d's Status, RunID, Result, Attempts and DoneAt if
	// the delivery is not done yet; false if it was. ENOTFOUND if there is
	// no such delivery.
	UpdateDelivery(ctx context.Context, d *Delivery) (bool, error)
	// Deliveries returns a pipeline's deliveries (every pipeline's if ""),
	// newest first (limit 0: a default).
	Deliveries(ctx context.Context, pipeline string, limit int) ([]*Delivery, error)
	// PruneDeliveries deletes the done deliveries received before before,
	// and the delivery ids RecordDelivery remembered before it; it returns
	// how many deliveries it deleted. Queued deliveries are kept.
	PruneDeliveries(ctx context.Context, before time.Time) (int64, error)

	// DeleteRuns deletes the runs with those ids and what is kept for them
	// alone: stages, approvals, decisions, tokens, releases (with target
	// states and retirements), commit statuses, notices no longer pending,
	// and their events that every subscriber has handled. It returns how many runs it deleted. The
	// caller decides which runs may go (package retention).
	DeleteRuns(ctx context.Context, ids []int64) (int64, error)
	// DeleteSentMail deletes mail sent before before and returns how many.
	DeleteSentMail(ctx context.Context, before time.Time) (int64, error)
}

// Logs keeps the output of stages, one append-only text file per stage, so
// that output of any size streams to disk with bounded memory.
type Logs interface {
	// Create opens the stage's log for appending (creating it if needed).
	Create(runID int64, stage string) (io.WriteCloser, error)
	// Open opens the stage's log for reading; ENOTFOUND if nothing was written.
	Open(runID int64, stage string) (io.ReadCloser, error)
}
