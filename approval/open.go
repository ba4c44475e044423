package approval

import (
	"sort"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Gate is an approval stage's configuration as the gate needs it when it
// opens (config.Stage, groups already resolved).
type Gate struct {
	Rules         []greenlight.ApprovalRule
	SelfApproval  bool
	Comment       string
	OnTimeout     string
	Timeout       time.Duration
	Wait          time.Duration
	Remind        []time.Duration // before the deadline
	EscalateAfter time.Duration   // after the links go out; 0: no escalation
	EscalateTo    []string
	ReviewURL     string
}

// Open returns the approval of stage for run, opened at now, not yet
// stored: the links go out at now+Wait, the deadline is Timeout after that,
// reminders are due Remind before the deadline and escalation EscalateAfter
// after the links. Unless SelfApproval, the commit's author and committer
// and whoever triggered the run are excluded and say why. Its Status is
// pending, or failed when a rule cannot pass without the excluded (Problem
// says which).
func Open(run *greenlight.Run, stage string, g Gate, changes []greenlight.Change, now time.Time) *greenlight.Approval {
	opens := now.Add(max(g.Wait, 0))
	a := &greenlight.Approval{RunID: run.ID, Pipeline: run.Pipeline, Stage: stage, ReviewURL: g.ReviewURL,
		Changes: changes, Rules: g.Rules, Excluded: []greenlight.Exclusion{}, CommentRequired: g.Comment,
		OnTimeout: g.OnTimeout, OpensAt: opens, Deadline: opens.Add(g.Timeout),
		Status: greenlight.ApprovalPending, CreatedAt: now, Decisions: []greenlight.Decision{}}
	if a.CommentRequired == "" {
		a.CommentRequired = greenlight.CommentReject
	}
	if a.OnTimeout == "" {
		a.OnTimeout = greenlight.TimeoutExpire
	}
	if g.EscalateAfter > 0 && len(g.EscalateTo) > 0 {
		at := opens.Add(g.EscalateAfter)
		a.EscalateTo, a.EscalateAt = g.EscalateTo, &at
	}
	for _, d := range g.Remind {
		if at := a.Deadline.Add(-d); at.After(opens) {
			a.RemindAt = append(a.RemindAt, at)
		}
	}
	sort.Slice(a.RemindAt, func(i, j int) bool { return a.RemindAt[i].Before(a.RemindAt[j]) })

	listed := map[string]string{} // key → the address as configured
	var order []string
	for _, who := range append(allApprovers(g.Rules), g.EscalateTo...) {
		if k := key(who); listed[k] == "" {
			listed[k] = who
			order = append(order, k)
		}
	}
	if !g.SelfApproval {
		why := map[string][]string{}
		note := func(who, reason string) {
			m := mailbox(who)
			if m == "" {
				return
			}
		next:
			for _, k := range order {
				if mailbox(k) != m {
					continue
				}
				for _, r := range why[k] {
					if r == reason {
						continue next
					}
				}
				why[k] = append(why[k], reason)
			}
		}
		note(run.Commit.AuthorEmail, "the commit's author")
		note(run.Commit.CommitterEmail, "the commit's committer")
		switch run.Trigger {
		case greenlight.TriggerWebhook:
			note(run.TriggeredBy, "pushed the commit")
		default:
			note(run.TriggeredBy, "started this run")
		}
		for _, k := range order {
			if len(why[k]) > 0 {
				a.Excluded = append(a.Excluded, greenlight.Exclusion{Approver: listed[k], Why: joinAnd(why[k])})
			}
		}
	}
	inRules := map[string]bool{}
	for _, who := range allApprovers(g.Rules) {
		inRules[key(who)] = true
	}
	for _, k := range order {
		if excluded(a, k) == "" && inRules[k] {
			a.Approvers = append(a.Approvers, listed[k])
		}
	}
	for _, r := range g.Rules {
		a.Required += max(r.Required, 1)
	}
	if Status(a) == greenlight.ApprovalFailed {
		a.Status = greenlight.ApprovalFailed
	}
	return a
}

func allApprovers(rules []greenlight.ApprovalRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Approvers...)
	}
	return out
}

// Escalated returns who escalation asks: the escalation contacts not asked
// already and not excluded.
func Escalated(a *greenlight.Approval) []string {
	asked := map[string]bool{}
	for _, x := range a.Approvers {
		asked[key(x)] = true
	}
	var out []string
	for _, x := range a.EscalateTo {
		if k := key(x); !asked[k] && excluded(a, k) == "" {
			asked[k] = true
			out = append(out, x)
		}
	}
	return out
}

// mailbox is the mailbox an address reaches, for matching the people a gate
// excludes: the commit's author and committer are whatever git recorded, so
// an approver is excluded however their address is spelled there. Besides
// case and surrounding spaces (key), a trailing dot on the domain (the same
// host in DNS) and a +tag on the local part (sub-addressing) are ignored.
// Excluding too widely only asks fewer people; excluding too narrowly would
// let an author approve their own change. A look-alike address (a Cyrillic
// а) is another mailbox: it is not asked, so it has no links to decide with.
func mailbox(addr string) string {
	k := key(addr)
	at := strings.LastIndexByte(k, '@')
	if at < 0 {
		return k
	}
	local, domain := k[:at], strings.TrimRight(k[at+1:], ".")
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	return local + "@" + domain
}
