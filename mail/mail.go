// Package mail sends Greenlight's mail: through an SMTP server when one is
// configured, or into the server log when none is (the outbox; the rows stay
// in the store either way). It is an adapter: it decides nothing about who
// gets what, only how a greenlight.Mail leaves the process.
package mail

import (
	"context"

	"github.com/greenlight-cd/greenlight"
)

// Sender delivers one mail.
//
// Contract: Send is safe for concurrent use. It returns when the mail was
// accepted by the next hop, or with an error when it was not (the caller keeps
// the mail and tries again later); ctx bounds the whole attempt. Send does not
// modify m.
type Sender interface {
	Send(ctx context.Context, m *greenlight.Mail) error
}

var (
	_ Sender = (*SMTP)(nil)
	_ Sender = (*Outbox)(nil)
)
