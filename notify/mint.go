package notify

import (
	"context"
	"strings"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

// mint makes the approver's token for decision mail m right before it is
// sent (approval.Mint: only the token's hash is stored, so no working link
// is ever written to the database), and returns m with the token in its
// links. A reminder's or an escalation's mail that no longer asks anything
// is approval.ErrNotNeeded.
func (d *Dispatcher) mint(ctx context.Context, m *greenlight.Mail) (*greenlight.Mail, error) {
	raw, err := approval.Mint(ctx, d.store, m.ApprovalID, m.Approver, d.now(), followUp(m))
	if err != nil {
		return nil, err
	}
	out := *m
	out.Text = fillLinks(m.Text, raw)
	out.HTML = fillLinks(m.HTML, raw)
	return &out, nil
}

// followUp reports whether m is a reminder or an escalation (by its key):
// those are dropped once they no longer ask anything.
func followUp(m *greenlight.Mail) bool {
	return strings.HasPrefix(m.Key, "remind:") || strings.HasPrefix(m.Key, "escalate:")
}

// fillLinks puts raw wherever the stored mail has the placeholder. Only the
// links have one: oneLine removes it from every value a mail shows.
func fillLinks(s, raw string) string {
	return strings.ReplaceAll(s, greenlight.TokenPlaceholder, raw)
}
