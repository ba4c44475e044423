// Package storetest is the conformance suite of greenlight.Store: every
// implementation (SQLite and PostgreSQL in package store) must pass Run, so
// that the dialects cannot drift apart.
package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Opener returns a fresh, empty store for one test and arranges its cleanup.
type Opener func(t *testing.T) greenlight.Store

// Run runs the whole suite. Subtests run in parallel, each on its own store.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s greenlight.Store)
	}{
		{"RunRoundTrip", testRunRoundTrip},
		{"RunNotFound", testRunNotFound},
		{"UpdateRun", testUpdateRun},
		{"StageAttempts", testStageAttempts},
		{"LockRun", testLockRun},
		{"RunsFilter", testRunsFilter},
		{"TimesUTC", testTimesUTC},
		{"Events", testEvents},
		{"EventsConcurrent", testEventsConcurrent},
		{"Cursor", testCursor},
		{"Approval", testApproval},
		{"ApprovalConditional", testApprovalConditional},
		{"ApprovalRace", testApprovalRace},
		{"Token", testToken},
		{"UseToken", testUseToken},
		{"UseTokenRace", testUseTokenRace},
		{"RevokeTokens", testRevokeTokens},
		{"Releases", testReleases},
		{"TargetStates", testTargetStates},
		{"Retirements", testRetirements},
		{"Mail", testMail},
		{"EnqueueMailRace", testEnqueueMailRace},
		{"DueMail", testDueMail},
		{"RecordDelivery", testRecordDelivery},
		{"StatusOutbox", testStatusOutbox},
		{"Notices", testNotices},
		{"NoticeQueues", testNoticeQueues},
		{"DeleteRunsNotices", testDeleteRunsNotices},
		{"LastBuilt", testLastBuilt},
		{"AdvanceLastBuilt", testAdvanceLastBuilt},
		{"RunTagAndPullRequest", testRunTagAndPullRequest},
		{"Inbox", testInbox},
		{"QueuedHeads", testQueuedHeads},
		{"PruneDeliveries", testPruneDeliveries},
		{"EnqueueDeliveryRace", testEnqueueDeliveryRace},
		{"EnvironmentLock", testEnvironmentLock},
		{"InTx", testInTx},
		{"DeleteRuns", testDeleteRuns},
		{"RunsFinishedBefore", testRunsFinishedBefore},
		{"DeleteSentMail", testDeleteSentMail},
		{"NextMailAttempt", testNextMailAttempt},
		{"NextStatusAttempt", testNextStatusAttempt},
		{"NextNoticeAttempt", testNextNoticeAttempt},
		{"NextRetirement", testNextRetirement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// at returns a fixed instant plus d. The instant has microseconds, the
// precision both dialects keep, so values round-trip exactly.
func at(d time.Duration) time.Time {
	return time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC).Add(d)
}

func ptr[T any](v T) *T { return &v }

// wantCode fails unless err carries the greenlight error code want.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	var e *greenlight.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want a *greenlight.Error with code %s", err, want)
	}
	if e.Code != want {
		t.Fatalf("got code %s (%v), want %s", e.Code, err, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newRun returns an unsaved run of pipeline with a build, a deploy and an
// approval stage.
func newRun(pipeline string, created time.Time) *greenlight.Run {
	return &greenlight.Run{
		Pipeline: pipeline,
		Status:   greenlight.RunQueued,
		Trigger:  greenlight.TriggerWebhook,
		Commit: greenlight.Commit{
			SHA: "0123456789abcdef0123456789abcdef01234567", Branch: "main",
			Title: "Fix the thing", AuthorName: "Ada", AuthorEmail: "ada@example.com",
		},
		CreatedAt: created,
		Stages: []greenlight.Stage{
			{Name: "build", Type: greenlight.StageBuild, Status: greenlight.StagePending},
			{Name: "staging", Type: greenlight.StageDeploy, Environment: "staging", Status: greenlight.StagePending},
			{Name: "approval", Type: greenlight.StageApproval, Status: greenlight.StagePending},
		},
	}
}

// createRun saves a new run and returns it.
func createRun(t *testing.T, s greenlight.Store, pipeline string, created time.Time) *greenlight.Run {
	t.Helper()
	r := newRun(pipeline, created)
	must(t, s.CreateRun(context.Background(), r))
	return r
}

// createApproval saves a pending approval for a new run.
func createApproval(t *testing.T, s greenlight.Store) *greenlight.Approval {
	t.Helper()
	r := createRun(t, s, "hello", at(0))
	a := &greenlight.Approval{
		RunID: r.ID, Pipeline: "hello", Stage: "approval",
		Approvers: []string{"pm@example.com", "cto@example.com"}, Required: 1,
		ReviewURL: "http://127.0.0.1:8081", Deadline: at(72 * time.Hour),
		Changes: []greenlight.Change{{SHA: strings.Repeat("ab", 20), Title: "Fix <b>login</b>", Author: "Ada"}, {Title: "Add banner"}},
		Status:  greenlight.ApprovalPending, CreatedAt: at(0),
		Rules: []greenlight.ApprovalRule{{Name: "product", Approvers: []string{"pm@example.com"}, Required: 1},
			{Name: "exec", Approvers: []string{"cto@example.com", "ada@example.com"}, Required: 1}},
		Excluded:        []greenlight.Exclusion{{Approver: "ada@example.com", Why: "the commit's author"}},
		CommentRequired: greenlight.CommentBoth, OnTimeout: greenlight.TimeoutReject,
		EscalateTo: []string{"ceo@example.com"}, EscalateAt: ptr(at(48 * time.Hour)),
		RemindAt: []time.Time{at(48 * time.Hour), at(68 * time.Hour)}, OpensAt: at(time.Minute),
	}
	must(t, s.CreateApproval(context.Background(), a))
	return a
}
