package greenlight

import "time"

// Mail is one message in the mail table: sent through SMTP when configured,
// otherwise kept as the outbox. Key makes enqueueing idempotent, so a
// subscriber that handles an event twice still sends one mail; an empty Key
// is never de-duplicated.
type Mail struct {
	ID          int64      `json:"-"`
	Key         string     `json:"-"`
	To          []string   `json:"to"`
	Subject     string     `json:"subject"`
	Text        string     `json:"text"`
	HTML        string     `json:"html"`
	CreatedAt   time.Time  `json:"created_at"`
	SentAt      *time.Time `json:"sent_at"`
	Attempts    int        `json:"attempts"`
	NextAttempt time.Time  `json:"-"`
	LastError   string     `json:"last_error,omitempty"`
	// ApprovalID and Approver, when ApprovalID is not 0, make this an
	// approver's decision mail: it is stored with TokenPlaceholder where the
	// token goes, and the token is made only when the mail is sent, so that
	// no working link is ever written to the database (SPEC §6).
	ApprovalID int64  `json:"-"`
	Approver   string `json:"-"`
}

// TokenPlaceholder stands for the approval token in a stored decision mail's
// links. It is not base64url (WellFormedToken refuses it), so it can never be
// mistaken for a token, and it survives URL and HTML escaping unchanged.
const TokenPlaceholder = "~approval-token~"
