package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
)

const mailColumns = `id, dedup_key, recipients, subject, body_text, body_html, created_at, sent_at,
	attempts, next_attempt, last_error, token_approval_id, token_approver`

// EnqueueMail inserts m unless a mail with m.Key exists (one statement,
// ON CONFLICT DO NOTHING), reporting whether it inserted and setting m.ID if
// so. An empty Key is stored as NULL and never conflicts.
func (o *ops) EnqueueMail(ctx context.Context, m *greenlight.Mail) (bool, error) {
	to, err := jsonText(m.To)
	if err != nil {
		return false, fmt.Errorf("enqueue mail: %w", err)
	}
	var approval any // NULL unless the mail carries decision links
	if m.ApprovalID != 0 {
		approval = m.ApprovalID
	}
	err = o.insertRow(ctx, `INSERT INTO mail (dedup_key, recipients, subject, body_text, body_html,
		created_at, sent_at, attempts, next_attempt, last_error, token_approval_id, token_approver)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING RETURNING id`,
		nullString(m.Key), to, m.Subject, m.Text, m.HTML, o.t(m.CreatedAt), o.nt(m.SentAt),
		m.Attempts, o.t(m.NextAttempt), m.LastError, approval, m.Approver).Scan(&m.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enqueue mail %q: %w", m.Key, err)
	}
	return true, nil
}

// DueMail returns unsent mail whose NextAttempt is at or before now, oldest
// first (limit 0: a default).
func (o *ops) DueMail(ctx context.Context, now time.Time, limit int) ([]*greenlight.Mail, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	return o.mails(ctx, `SELECT `+mailColumns+` FROM mail WHERE sent_at IS NULL AND next_attempt <= ?
		ORDER BY id LIMIT ?`, o.t(now), limit)
}

// Mails returns the newest mail first (limit 0: a default).
func (o *ops) Mails(ctx context.Context, limit int) ([]*greenlight.Mail, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	return o.mails(ctx, `SELECT `+mailColumns+` FROM mail ORDER BY id DESC LIMIT ?`, limit)
}

func (o *ops) mails(ctx context.Context, query string, args ...any) ([]*greenlight.Mail, error) {
	rows, err := o.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	defer rows.Close()
	list := []*greenlight.Mail{}
	for rows.Next() {
		var m greenlight.Mail
		var key sql.NullString
		var approval sql.NullInt64
		err := rows.Scan(&m.ID, &key, jsonCol{&m.To}, &m.Subject, &m.Text, &m.HTML, utc{&m.CreatedAt},
			nullUTC{&m.SentAt}, &m.Attempts, utc{&m.NextAttempt}, &m.LastError, &approval, &m.Approver)
		if err != nil {
			return nil, fmt.Errorf("list mail: %w", err)
		}
		m.Key, m.ApprovalID = key.String, approval.Int64
		list = append(list, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	return list, nil
}

// MarkMailSent records delivery at at, counting the attempt.
func (o *ops) MarkMailSent(ctx context.Context, id int64, at time.Time) error {
	var ok bool
	err := o.reached("mail.sent", func() (err error) {
		ok, err = o.execOne(ctx, `UPDATE mail SET sent_at = ?, attempts = attempts + 1 WHERE id = ?`, o.t(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark mail %d sent: %w", id, err)
	}
	if !ok {
		return greenlight.Errorf(greenlight.ENOTFOUND, "mail %d not found", id)
	}
	return nil
}

// RedactMail replaces the stored text and HTML of a mail (the caller says
// why: links removed after delivery, or filled in when the outbox is the
// delivery).
func (o *ops) RedactMail(ctx context.Context, id int64, text, html string) error {
	ok, err := o.execOne(ctx, `UPDATE mail SET body_text = ?, body_html = ? WHERE id = ?`, text, html, id)
	if err != nil {
		return fmt.Errorf("redact mail %d: %w", id, err)
	}
	if !ok {
		return greenlight.Errorf(greenlight.ENOTFOUND, "mail %d not found", id)
	}
	return nil
}

// MarkMailFailed records a failed attempt, its reason, and when to try again.
func (o *ops) MarkMailFailed(ctx context.Context, id int64, reason string, next time.Time) error {
	ok, err := o.execOne(ctx, `UPDATE mail SET attempts = attempts + 1, last_error = ?, next_attempt = ?
		WHERE id = ?`, reason, o.t(next), id)
	if err != nil {
		return fmt.Errorf("mark mail %d failed: %w", id, err)
	}
	if !ok {
		return greenlight.Errorf(greenlight.ENOTFOUND, "mail %d not found", id)
	}
	return nil
}

// RecordDelivery remembers a webhook delivery id in one INSERT … ON CONFLICT
// DO NOTHING; false if it was already seen.
func (o *ops) RecordDelivery(ctx context.Context, pipeline, id string, at time.Time) (bool, error) {
	ok, err := o.execOne(ctx, `INSERT INTO deliveries (pipeline, id, at) VALUES (?, ?, ?)
		ON CONFLICT (pipeline, id) DO NOTHING`, pipeline, id, o.t(at))
	if err != nil {
		return false, fmt.Errorf("record delivery %s/%s: %w", pipeline, id, err)
	}
	return ok, nil
}
