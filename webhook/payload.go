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

// payload is the part of a push body Greenlight reads. GitHub, GitLab, Gitea,
// Forgejo and the generic form all name these fields alike.
type payload struct {
	Ref   *string `json:"ref"`
	After *string `json:"after"`
}

// readPush fills p's ref and sha from a verified body.
func readPush(p *Push, h http.Header, body []byte) error {
	body, err := jsonBody(h, body)
	if err != nil {
		return err
	}
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
	if err := checkRef(*pl.Ref); err != nil {
		return err
	}
	after := strings.ToLower(*pl.After)
	if !greenlight.ValidSHA(after) {
		return greenlight.Errorf(greenlight.EINVALID, "push payload's \"after\" %q is not a full commit sha (40 hex digits)", clip(after))
	}
	p.Ref = *pl.Ref
	p.Branch, _ = strings.CutPrefix(p.Ref, "refs/heads/")
	if p.Branch == p.Ref {
		p.Branch = ""
	}
	p.After = after
	p.Deleted = strings.Trim(after, "0") == ""
	return nil
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
	case strings.Contains(ref, ".."), strings.HasSuffix(ref, "/"), strings.ContainsAny(ref, " ~^:?*[\\"):
		return bad("is not a valid ref name")
	}
	for i := 0; i < len(ref); i++ {
		if ref[i] < 0x20 || ref[i] == 0x7f {
			return bad("contains a control character")
		}
	}
	return nil
}
