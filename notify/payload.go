package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Payload is the JSON body a webhook notification posts, documented in the
// README: its field names are a contract with receivers. Chat messages are
// made from it too.
type Payload struct {
	Event    string           `json:"event"`    // a name of greenlight.NotificationEvents
	Delivery string           `json:"delivery"` // the X-Greenlight-Delivery header
	Seq      int64            `json:"seq"`      // the event log's order (grows; gaps are other events)
	At       time.Time        `json:"at"`       // when it happened
	Pipeline string           `json:"pipeline"`
	Run      PayloadRun       `json:"run"`
	Stage    *PayloadStage    `json:"stage,omitempty"`    // stage.* and approval.* events
	Approval *PayloadApproval `json:"approval,omitempty"` // approval.* events
	Release  *PayloadRelease  `json:"release,omitempty"`  // release.* events
}

// PayloadRun is the run an event is about, as it was when the notice was made.
type PayloadRun struct {
	ID          int64                `json:"id"`
	Status      greenlight.RunStatus `json:"status"`
	Trigger     greenlight.Trigger   `json:"trigger"`
	TriggeredBy string               `json:"triggered_by,omitempty"`
	URL         string               `json:"url"` // the run's page
	Commit      greenlight.Commit    `json:"commit"`
	Error       string               `json:"error,omitempty"`
	Reason      string               `json:"reason,omitempty"`
	CreatedAt   time.Time            `json:"created_at"`
	FinishedAt  *time.Time           `json:"finished_at"`
}

// PayloadStage is the stage an event is about.
type PayloadStage struct {
	Name   string                 `json:"name"`
	Type   greenlight.StageType   `json:"type"`
	Status greenlight.StageStatus `json:"status"`
	Error  string                 `json:"error,omitempty"`
}

// PayloadApproval is the gate an approval event is about. It never holds a
// token or a decision link: those are one approver's secret.
type PayloadApproval struct {
	ID        int64                     `json:"id"`
	Status    greenlight.ApprovalStatus `json:"status"`
	Required  int                       `json:"required"`
	Approved  int                       `json:"approved"` // approvals so far
	Approvers []string                  `json:"approvers"`
	Deadline  time.Time                 `json:"deadline"`
	ReviewURL string                    `json:"review_url,omitempty"`
	Decision  *PayloadDecision          `json:"decision,omitempty"` // approval.decided
	Reason    string                    `json:"reason,omitempty"`   // approval.revoked: superseded or cancelled
}

// PayloadDecision is one approver's decision.
type PayloadDecision struct {
	Approver string             `json:"approver"`
	Decision greenlight.Verdict `json:"decision"`
	Comment  string             `json:"comment,omitempty"`
}

// PayloadRelease is the release a release event is about.
type PayloadRelease struct {
	Environment string `json:"environment"`
	Status      string `json:"status"`
}

// payload gathers what event e (public name name) is about.
func (a *Announcer) payload(ctx context.Context, e greenlight.Event, name string) (*Payload, error) {
	run, err := a.cfg.Store.Run(ctx, e.RunID)
	if err != nil {
		return nil, fmt.Errorf("load run %d: %w", e.RunID, err)
	}
	p := &Payload{Event: name, Seq: e.Seq, At: e.CreatedAt.UTC(), Pipeline: e.Pipeline, Run: PayloadRun{
		ID: run.ID, Status: run.Status, Trigger: run.Trigger, TriggeredBy: run.TriggeredBy,
		URL: a.base + "/runs/" + strconv.FormatInt(run.ID, 10), Commit: run.Commit, Error: run.Error,
		Reason: run.Reason, CreatedAt: run.CreatedAt, FinishedAt: run.FinishedAt}}
	// Data the log wrote cannot become readable later: an event whose Data
	// does not decode is announced with what the run says.
	switch e.Type {
	case greenlight.EventRunFinished:
		var d greenlight.RunFinished
		_ = json.Unmarshal(e.Data, &d)
		if d.Status != "" {
			p.Run.Status = d.Status
		}
		if d.Error != "" {
			p.Run.Error = d.Error
		}
	case greenlight.EventStageStarted:
		var d greenlight.StageStarted
		_ = json.Unmarshal(e.Data, &d)
		if p.Stage = stageOf(run, d.Stage); p.Stage != nil {
			p.Stage.Status, p.Stage.Error = greenlight.StageRunning, ""
		}
	case greenlight.EventStageFinished:
		var d greenlight.StageFinished
		_ = json.Unmarshal(e.Data, &d)
		if p.Stage = stageOf(run, d.Stage); p.Stage != nil {
			if d.Status != "" {
				p.Stage.Status = d.Status
			}
			if d.Error != "" {
				p.Stage.Error = d.Error
			}
		}
	case greenlight.EventApprovalOpened, greenlight.EventApprovalDecided, greenlight.EventApprovalRevoked:
		var d struct { // the approval id is "approval" in each of the three
			ApprovalID int64 `json:"approval"`
		}
		_ = json.Unmarshal(e.Data, &d)
		ap, err := a.cfg.Store.Approval(ctx, d.ApprovalID)
		if err != nil {
			return nil, fmt.Errorf("load approval %d: %w", d.ApprovalID, err)
		}
		p.Stage = stageOf(run, ap.Stage)
		p.Approval = &PayloadApproval{ID: ap.ID, Status: ap.Status, Required: ap.Required,
			Approvers: ap.Approvers, Deadline: ap.Deadline.UTC(), ReviewURL: ap.ReviewURL}
		if p.Approval.Approvers == nil {
			p.Approval.Approvers = []string{}
		}
		// Counted as of this event: later decisions are later events.
		for _, d := range ap.Decisions {
			if d.Verdict == greenlight.Approve && !d.At.After(e.CreatedAt) {
				p.Approval.Approved++
			}
		}
		switch e.Type {
		case greenlight.EventApprovalOpened:
			p.Approval.Status = greenlight.ApprovalPending
		case greenlight.EventApprovalDecided:
			var dd greenlight.ApprovalDecided
			_ = json.Unmarshal(e.Data, &dd)
			p.Approval.Status = dd.Status
			dec := &PayloadDecision{Approver: dd.Approver, Decision: dd.Verdict}
			for _, d := range ap.Decisions {
				if d.Approver == dd.Approver {
					dec.Comment = d.Comment
				}
			}
			p.Approval.Decision = dec
		case greenlight.EventApprovalRevoked:
			var r greenlight.Revocation
			_ = json.Unmarshal(e.Data, &r)
			p.Approval.Status, p.Approval.Reason = greenlight.ApprovalRevoked, r.Reason
		}
	case greenlight.EventReleaseLive, greenlight.EventReleaseRolledBack, greenlight.EventReleaseFailed:
		var d greenlight.ReleaseOutcome
		_ = json.Unmarshal(e.Data, &d)
		p.Release = &PayloadRelease{Environment: d.Environment, Status: string(d.Status)}
	}
	return p, nil
}

func stageOf(run *greenlight.Run, name string) *PayloadStage {
	for _, s := range run.Stages {
		if s.Name == name {
			return &PayloadStage{Name: s.Name, Type: s.Type, Status: s.Status, Error: s.Error}
		}
	}
	return nil
}

// marshal encodes v as compact JSON without HTML escapes (receivers read
// JSON, not HTML), with no trailing newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// messageBody is p in the format of a target of type typ.
func messageBody(typ string, p *Payload) ([]byte, error) {
	switch typ {
	case greenlight.NotifyWebhook:
		return marshal(p)
	case greenlight.NotifySlack:
		return marshal(slackMessage(p))
	case greenlight.NotifyTeams:
		return marshal(teamsMessage(p))
	}
	return nil, fmt.Errorf("unknown notification type %q", typ)
}
