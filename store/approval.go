package store

import (
	"context"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
)

const approvalColumns = `id, run_id, pipeline, stage, approvers, required, review_url, deadline,
	status, created_at, decided_at, changes, rules, excluded, comment_required, on_timeout,
	escalate_to, escalate_at, remind_at, opens_at`

// CreateApproval inserts a (not its decisions), setting a.ID. One approval per
// stage of a run: a second one is ECONFLICT; a missing run is ENOTFOUND.
func (o *ops) CreateApproval(ctx context.Context, a *greenlight.Approval) error {
	approvers, err := jsonText(a.Approvers)
	if err != nil {
		return fmt.Errorf("create approval: %w", err)
	}
	changes, err := jsonText(a.Changes)
	if err != nil {
		return fmt.Errorf("create approval: %w", err)
	}
	rules, err := jsonText(a.Rules)
	if err != nil {
		return fmt.Errorf("create approval: %w", err)
	}
	excluded, err := jsonText(a.Excluded)
	if err != nil {
		return fmt.Errorf("create approval: %w", err)
	}
	escalateTo, err := jsonText(a.EscalateTo)
	if err != nil {
		return fmt.Errorf("create approval: %w", err)
	}
	remindAt, err := jsonText(a.RemindAt)
	if err != nil {
		return fmt.Errorf("create approval: %w", err)
	}
	opens := a.OpensAt
	if opens.IsZero() {
		opens = a.CreatedAt
	}
	err = o.insertRow(ctx, `INSERT INTO approvals (run_id, pipeline, stage, approvers, required,
		review_url, deadline, status, created_at, decided_at, changes, rules, excluded,
		comment_required, on_timeout, escalate_to, escalate_at, remind_at, opens_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		a.RunID, a.Pipeline, a.Stage, approvers, a.Required, a.ReviewURL, o.t(a.Deadline),
		a.Status, o.t(a.CreatedAt), o.nt(a.DecidedAt), changes, rules, excluded,
		a.CommentRequired, a.OnTimeout, escalateTo, o.nt(a.EscalateAt), remindAt, o.t(opens)).Scan(&a.ID)
	switch classify(err) {
	case uniqueViolation:
		return greenlight.Errorf(greenlight.ECONFLICT, "run %d already has an approval for stage %q", a.RunID, a.Stage)
	case foreignKeyViolation:
		return greenlight.Errorf(greenlight.ENOTFOUND, "run %d not found", a.RunID)
	}
	if err != nil {
		return fmt.Errorf("create approval: %w", err)
	}
	return nil
}

// Approval returns the approval with its decisions in time order.
func (o *ops) Approval(ctx context.Context, id int64) (*greenlight.Approval, error) {
	a, err := scanApproval(o.queryRow(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "approval %d", id)
	}
	if err := o.loadDecisions(ctx, []*greenlight.Approval{a}); err != nil {
		return nil, err
	}
	return a, nil
}

// ApprovalForStage returns the approval of one stage of one run.
func (o *ops) ApprovalForStage(ctx context.Context, runID int64, stage string) (*greenlight.Approval, error) {
	a, err := scanApproval(o.queryRow(ctx, `SELECT `+approvalColumns+` FROM approvals
		WHERE run_id = ? AND stage = ?`, runID, stage))
	if err != nil {
		return nil, notFound(err, "approval of run %d stage %q", runID, stage)
	}
	if err := o.loadDecisions(ctx, []*greenlight.Approval{a}); err != nil {
		return nil, err
	}
	return a, nil
}

// Approvals returns approvals with the status (all if empty), newest first.
func (o *ops) Approvals(ctx context.Context, status greenlight.ApprovalStatus) ([]*greenlight.Approval, error) {
	q := `SELECT ` + approvalColumns + ` FROM approvals`
	var args []any
	if status != "" {
		q += ` WHERE status = ?`
		args = append(args, status)
	}
	rows, err := o.query(ctx, q+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	defer rows.Close()
	list := []*greenlight.Approval{}
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	rows.Close()
	if err := o.loadDecisions(ctx, list); err != nil {
		return nil, err
	}
	return list, nil
}

func scanApproval(row scanner) (*greenlight.Approval, error) {
	var a greenlight.Approval
	var opens *time.Time
	err := row.Scan(&a.ID, &a.RunID, &a.Pipeline, &a.Stage, jsonCol{&a.Approvers}, &a.Required,
		&a.ReviewURL, utc{&a.Deadline}, &a.Status, utc{&a.CreatedAt}, nullUTC{&a.DecidedAt}, jsonCol{&a.Changes},
		jsonCol{&a.Rules}, jsonCol{&a.Excluded}, &a.CommentRequired, &a.OnTimeout, jsonCol{&a.EscalateTo},
		nullUTC{&a.EscalateAt}, jsonCol{&a.RemindAt}, nullUTC{&opens})
	if err != nil {
		return nil, err
	}
	a.OpensAt = a.CreatedAt // gates stored before `wait` existed opened at once
	if opens != nil {
		a.OpensAt = *opens
	}
	if a.Rules == nil {
		a.Rules = []greenlight.ApprovalRule{}
	}
	if a.Excluded == nil {
		a.Excluded = []greenlight.Exclusion{}
	}
	a.Decisions = []greenlight.Decision{}
	return &a, nil
}

// loadDecisions fills the decisions of approvals with one query.
func (o *ops) loadDecisions(ctx context.Context, list []*greenlight.Approval) error {
	if len(list) == 0 {
		return nil
	}
	byID := make(map[int64]*greenlight.Approval, len(list))
	args := make([]any, len(list))
	for i, a := range list {
		byID[a.ID] = a
		args[i] = a.ID
	}
	rows, err := o.query(ctx, `SELECT approval_id, approver, verdict, comment, ip, user_agent, at, rule
		FROM decisions WHERE approval_id IN (`+placeholders(len(args))+`) ORDER BY at, id`, args...)
	if err != nil {
		return fmt.Errorf("load decisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d greenlight.Decision
		if err := rows.Scan(&d.ApprovalID, &d.Approver, &d.Verdict, &d.Comment, &d.IP,
			&d.UserAgent, utc{&d.At}, &d.Rule); err != nil {
			return fmt.Errorf("load decisions: %w", err)
		}
		if a := byID[d.ApprovalID]; a != nil {
			a.Decisions = append(a.Decisions, d)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load decisions: %w", err)
	}
	return nil
}

// LockApproval touches the approval's row if it is pending: in PostgreSQL the
// UPDATE holds the row lock until the transaction ends, so a second decider
// waits and then sees the new status; in SQLite the transaction already holds
// the database's write lock. False if not pending; ENOTFOUND if missing.
func (o *ops) LockApproval(ctx context.Context, id int64, now time.Time) (bool, error) {
	ok, err := o.execOne(ctx, `UPDATE approvals SET locked_at = ? WHERE id = ? AND status = 'pending'`,
		o.t(now), id)
	if err != nil {
		return false, fmt.Errorf("lock approval %d: %w", id, err)
	}
	if !ok {
		return false, o.mustExist(ctx, `SELECT 1 FROM approvals WHERE id = ?`, id, "approval %d", id)
	}
	return true, nil
}

// SetApprovalStatus moves a pending approval to status, recording at as its
// decision time; false if it was no longer pending.
func (o *ops) SetApprovalStatus(ctx context.Context, id int64, status greenlight.ApprovalStatus, at time.Time) (bool, error) {
	ok, err := o.execOne(ctx, `UPDATE approvals SET status = ?, decided_at = ?
		WHERE id = ? AND status = 'pending'`, status, o.t(at), id)
	if err != nil {
		return false, fmt.Errorf("set approval %d status: %w", id, err)
	}
	if !ok {
		return false, o.mustExist(ctx, `SELECT 1 FROM approvals WHERE id = ?`, id, "approval %d", id)
	}
	return true, nil
}

// AddDecision records d; ENOTFOUND if its approval is missing.
func (o *ops) AddDecision(ctx context.Context, d *greenlight.Decision) error {
	_, err := o.exec(ctx, `INSERT INTO decisions (approval_id, approver, verdict, comment, ip,
		user_agent, at, rule) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ApprovalID, d.Approver, d.Verdict, d.Comment, d.IP, d.UserAgent, o.t(d.At), d.Rule)
	if classify(err) == foreignKeyViolation {
		return greenlight.Errorf(greenlight.ENOTFOUND, "approval %d not found", d.ApprovalID)
	}
	if err != nil {
		return fmt.Errorf("add decision to approval %d: %w", d.ApprovalID, err)
	}
	return nil
}

// mustExist returns nil if the query finds a row, ENOTFOUND if not.
func (o *ops) mustExist(ctx context.Context, query string, arg any, format string, args ...any) error {
	found, err := o.exists(ctx, query, arg)
	if err != nil {
		return fmt.Errorf(format+": %w", append(args, err)...)
	}
	if !found {
		return greenlight.Errorf(greenlight.ENOTFOUND, format+" not found", args...)
	}
	return nil
}
