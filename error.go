package greenlight

import (
	"errors"
	"fmt"
)

// Error codes. The web layer maps each to an HTTP status; nothing else needs to
// know about HTTP.
const (
	ECONFLICT = "conflict" // 409: the state does not allow it (e.g. cancel a finished run)
	EGONE     = "gone"     // 410: existed, no longer usable (used or expired token)
	EINTERNAL = "internal" // 500: a bug or an unavailable dependency
	EINVALID  = "invalid"  // 400/422: bad input
	// EUNPROCESSABLE (422): well-formed input that lacks what a rule needs,
	// such as a decision without the comment its gate requires.
	EUNPROCESSABLE = "unprocessable"
	ENOTFOUND      = "not_found"    // 404
	EUNAUTHORIZED  = "unauthorized" // 401
	ETOOLARGE      = "too_large"    // 413
	EUNAVAILABLE   = "unavailable"  // 503: a dependency (git remote, shutting down) cannot serve now
)

// Error is an error a user may see. Message is safe to show; wrap causes with
// fmt.Errorf("…: %w", err) around an *Error to keep both.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic text that leaks nothing of an internal error.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
