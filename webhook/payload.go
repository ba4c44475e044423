package webhook

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// zeroSHA is what forges send for the missing side of a created or deleted ref.
var zeroSHA = strings.Repeat("0", 40)

// commit is a commit as GitHub, GitLab and Gitea list them in a push.
type commit struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

// payload is the part of a push body Greenlight reads. GitHub, GitLab, Gitea,
// Forgejo and the generic form name these fields alike; the rest are said by
// some of them only.
type payload struct {
	Ref         *string  `json:"ref"`
	Before      string   `json:"before"`
	After       *string  `json:"after"`
	Created     *bool    `json:"created"` // GitHub
	Forced      bool     `json:"forced"`  // GitHub
	CheckoutSHA *string  `json:"checkout_sha"`
	HeadCommit  *commit  `json:"head_commit"` // GitHub, Gitea
	Commits     []commit `json:"commits"`
}

// readPush fills p from the verified JSON of a GitHub, GitLab, Gitea,
// Forgejo or generic push.
func readPush(p *Push, body []byte) error {
	var pl payload
	if err := json.Unmarshal(body, &pl); err != nil {
		return greenlight.Errorf(greenlight.EINVALID, "malformed %s push payload: %s", p.Forge, jsonProblem(err))
	}
	if pl.Ref == nil || *pl.Ref == "" {
		return greenlight.Errorf(greenlight.EINVALID, "push payload has no \"ref\"")
	}
	if pl.After == nil || *pl.After == "" {
		return greenlight.Errorf(greenlight.EINVALID, "push payload has no \"after\" commit")
	}
	after, err := fullSHA("after", *pl.After)
	if err != nil {
		return err
	}
	before := ""
	if pl.Before != "" {
		if before, err = fullSHA("before", pl.Before); err != nil {
			return err
		}
	}
	if err := setRef(p, *pl.Ref); err != nil {
		return err
	}
	p.Before, p.After = before, after
	p.Deleted = after == zeroSHA
	p.Created = before == zeroSHA
	if pl.Created != nil {
		p.Created = *pl.Created
	}
	p.Forced = pl.Forced
	if p.Tag != "" && !p.Deleted {
		// An annotated tag's "after" is the tag object; build the commit it
		// tags, which GitLab gives as checkout_sha and GitHub and Gitea as
		// the head commit.
		if pl.CheckoutSHA != nil && greenlight.ValidSHA(*pl.CheckoutSHA) {
			p.After = strings.ToLower(*pl.CheckoutSHA)
		} else if pl.HeadCommit != nil && greenlight.ValidSHA(pl.HeadCommit.ID) {
			p.After = strings.ToLower(pl.HeadCommit.ID)
		}
	}
	p.Message = headMessage(pl, p.After)
	return nil
}

// headMessage finds the message of the pushed head commit: GitHub's and
// Gitea's head_commit, or the commit of the list that is the new head (GitLab
// lists commits oldest first, and at most 20 of them).
func headMessage(pl payload, head string) string {
	if pl.HeadCommit != nil && strings.EqualFold(pl.HeadCommit.ID, head) {
		return pl.HeadCommit.Message
	}
	for i := len(pl.Commits) - 1; i >= 0; i-- {
		if strings.EqualFold(pl.Commits[i].ID, head) {
			return pl.Commits[i].Message
		}
	}
	return ""
}

// setRef checks ref and sets p's Ref and its Branch or Tag.
func setRef(p *Push, ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	p.Ref = ref
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		p.Branch = b
	} else if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		p.Tag = t
	}
	return nil
}

// fullSHA checks a full commit sha sent as field and returns it lower-case.
func fullSHA(field, sha string) (string, error) {
	sha = strings.ToLower(sha)
	if !greenlight.ValidSHA(sha) {
		return "", greenlight.Errorf(greenlight.EINVALID, "push payload's %q %q is not a full commit sha (40 hex digits)", field, clip(sha))
	}
	return sha, nil
}

// jsonBody returns the JSON of a delivery. GitHub and Gitea may send it as
// the "payload" field of a form (content type application/x-www-form-
// urlencoded); the signature covers the form as sent, so this runs after it
// is checked.
func jsonBody(h http.Header, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, greenlight.Errorf(greenlight.EINVALID, "malformed form body: %s", clip(err.Error()))
	}
	if !form.Has("payload") {
		return nil, greenlight.Errorf(greenlight.EINVALID, "form body has no \"payload\" field")
	}
	return []byte(form.Get("payload")), nil
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "invalid JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		return "field \"" + typ.Field + "\" should be a " + typ.Type.String() + ", not a JSON " + typ.Value
	}
	return "invalid JSON"
}

// checkRef accepts a full ref name. The pipeline's branch rules decide
// whether it starts anything; this only keeps out what no ref can be.
func checkRef(ref string) error {
	bad := func(why string) error {
		return greenlight.Errorf(greenlight.EINVALID, "push payload's \"ref\" %q %s", clip(ref), why)
	}
	switch {
	case !strings.HasPrefix(ref, "refs/"):
		return bad("is not a full ref name (refs/heads/… or refs/tags/…)")
	case len(ref) > 255:
		return bad("is too long")
	case strings.Contains(ref, ".."), strings.HasSuffix(ref, "/"), strings.ContainsAny(ref, " ~^:?*[\\"),
		strings.Contains(ref, "//"), strings.Contains(ref, "@{"), strings.HasSuffix(ref, ".lock"):
		return bad("is not a valid ref name")
	}
	for i := 0; i < len(ref); i++ {
		if ref[i] < 0x20 || ref[i] == 0x7f {
			return bad("contains a control character")
		}
	}
	return nil
}
