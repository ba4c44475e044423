package webhook

import (
	"encoding/json"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// bbRef is one side of a Bitbucket Cloud push change: the ref as it was
// (old) or is (new); null when the ref was created or deleted.
type bbRef struct {
	Type   string `json:"type"` // branch, tag, annotated_tag, bookmark
	Name   string `json:"name"`
	Target struct {
		Hash    string `json:"hash"`
		Message string `json:"message"`
	} `json:"target"`
}

type bbPush struct {
	Push *struct {
		Changes []struct {
			New     *bbRef `json:"new"`
			Old     *bbRef `json:"old"`
			Created bool   `json:"created"`
			Forced  bool   `json:"forced"`
		} `json:"changes"`
	} `json:"push"`
}

// readBitbucketPush fills p from a Bitbucket Cloud repo:push. One push may
// change several refs (git push --all); Greenlight reads the first change
// only, the way Bitbucket's own Pipelines builds one ref per push event.
func readBitbucketPush(p *Push, body []byte) error {
	var pl bbPush
	if err := json.Unmarshal(body, &pl); err != nil {
		return greenlight.Errorf(greenlight.EINVALID, "malformed bitbucket push payload: %s", jsonProblem(err))
	}
	if pl.Push == nil || len(pl.Push.Changes) == 0 {
		return greenlight.Errorf(greenlight.EINVALID, "bitbucket push payload has no \"push.changes\"")
	}
	c := pl.Push.Changes[0]
	ref := c.New
	if ref == nil {
		ref = c.Old
	}
	if ref == nil {
		return greenlight.Errorf(greenlight.EINVALID, "bitbucket push change has neither \"new\" nor \"old\"")
	}
	var full string
	switch ref.Type {
	case "branch", "named_branch":
		full = "refs/heads/" + ref.Name
	case "tag", "annotated_tag":
		full = "refs/tags/" + ref.Name
	default:
		return greenlight.Errorf(greenlight.EINVALID, "bitbucket push of a %q: only branches and tags start runs", clip(ref.Type))
	}
	if ref.Name == "" {
		return greenlight.Errorf(greenlight.EINVALID, "bitbucket push change has no ref name")
	}
	if err := setRef(p, full); err != nil {
		return err
	}
	p.Before, p.After = zeroSHA, zeroSHA
	var err error
	if c.Old != nil {
		if p.Before, err = fullSHA("old.target.hash", c.Old.Target.Hash); err != nil {
			return err
		}
	}
	if c.New != nil {
		if p.After, err = fullSHA("new.target.hash", c.New.Target.Hash); err != nil {
			return err
		}
		p.Message = c.New.Target.Message
	}
	p.Created = c.Old == nil || c.Created
	p.Deleted = c.New == nil
	p.Forced = c.Forced
	return nil
}

// bbPull is the part of a Bitbucket Cloud pull request event Greenlight reads.
type bbPull struct {
	PullRequest *struct {
		ID     int    `json:"id"`
		Title  string `json:"title"`
		Source bbSide `json:"source"`
		Dest   bbSide `json:"destination"`
		Links  struct {
			HTML struct {
				Href string `json:"href"`
			} `json:"html"`
		} `json:"links"`
	} `json:"pullrequest"`
}

type bbSide struct {
	Branch struct {
		Name string `json:"name"`
	} `json:"branch"`
	Commit struct {
		Hash string `json:"hash"`
	} `json:"commit"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

// readBitbucketPull reads a pullrequest:created or :updated event. Bitbucket
// gives the head commit's first 12 hex digits only: After keeps them, and
// whoever builds resolves them against the head branch (Push.Abbreviated).
func readBitbucketPull(p *Push, body []byte) error {
	var pl bbPull
	if err := json.Unmarshal(body, &pl); err != nil {
		return greenlight.Errorf(greenlight.EINVALID, "malformed bitbucket pull request payload: %s", jsonProblem(err))
	}
	pr := pl.PullRequest
	if pr == nil {
		return greenlight.Errorf(greenlight.EINVALID, "bitbucket pull request payload has no \"pullrequest\"")
	}
	head := strings.ToLower(pr.Source.Commit.Hash)
	if !abbreviatedSHA(head) {
		return greenlight.Errorf(greenlight.EINVALID, "bitbucket pull request's source commit %q is not a commit sha", clip(head))
	}
	headRepo := ""
	if name := pr.Source.Repository.FullName; name != "" {
		if strings.Count(name, "/") != 1 || strings.ContainsAny(name, " \\:?#@") || strings.HasPrefix(name, "-") {
			return greenlight.Errorf(greenlight.EINVALID, "bitbucket pull request's source repository %q is not workspace/name", clip(name))
		}
		headRepo = "https://bitbucket.org/" + name + ".git"
	}
	return setPull(p, pullFields{number: pr.ID, title: pr.Title, url: pr.Links.HTML.Href,
		head: pr.Source.Branch.Name, base: pr.Dest.Branch.Name, headRepo: headRepo, sha: head})
}

// abbreviatedSHA accepts 7 to 40 lower-case hex digits.
func abbreviatedSHA(s string) bool {
	if len(s) < 7 || len(s) > 40 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
