package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// testDeleteRuns: a deleted run takes its stages, approval, decisions,
// tokens, releases, target states, commit statuses and handled events with
// it; another run keeps all of its own.
func testDeleteRuns(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	var runs []*greenlight.Run
	var approvals []*greenlight.Approval
	var releases []*greenlight.Release
	var hashes [][]byte
	for i := 0; i < 2; i++ {
		a := createApproval(t, s)
		r, err := s.Run(ctx, a.RunID)
		must(t, err)
		_, hash := greenlight.NewToken()
		hashes = append(hashes, hash)
		must(t, s.CreateToken(ctx, &greenlight.ApprovalToken{Hash: hash, ApprovalID: a.ID, RunID: r.ID, Approver: "pm@example.com", ExpiresAt: at(time.Hour)}))
		must(t, s.AddDecision(ctx, &greenlight.Decision{ApprovalID: a.ID, Approver: "pm@example.com", Verdict: greenlight.Approve, At: at(time.Minute)}))
		rel := &greenlight.Release{Pipeline: "hello", Environment: "staging", RunID: r.ID, Commit: r.Commit.SHA,
			Artifact: "ab", Status: greenlight.ReleaseReplaced, DeployedAt: at(0)}
		must(t, s.CreateRelease(ctx, rel))
		must(t, s.SetTargetState(ctx, &greenlight.TargetState{ReleaseID: rel.ID, Target: "/srv/a", Phase: greenlight.PhaseLive, UpdatedAt: at(0)}))
		must(t, s.QueueStatus(ctx, &greenlight.CommitStatus{Pipeline: "hello", RunID: r.ID, SHA: r.Commit.SHA,
			Context: "greenlight/" + string(rune('a'+i)), State: greenlight.StatusSuccess, NextAttempt: at(0), UpdatedAt: at(0)}))
		must(t, s.AppendEvent(ctx, &greenlight.Event{Pipeline: "hello", RunID: r.ID, Type: greenlight.EventRunCreated, CreatedAt: at(0)}))
		runs, approvals, releases = append(runs, r), append(approvals, a), append(releases, rel)
	}
	// One more event of the first run that no subscriber has read yet.
	unread := &greenlight.Event{Pipeline: "hello", RunID: runs[0].ID, Type: greenlight.EventRunFinished, CreatedAt: at(time.Hour)}
	must(t, s.AppendEvent(ctx, unread))
	must(t, s.SetCursor(ctx, "mail", unread.Seq-1))

	n, err := s.DeleteRuns(ctx, []int64{runs[0].ID, 999999})
	must(t, err)
	if n != 1 {
		t.Fatalf("deleted %d runs, want 1", n)
	}
	_, err = s.Run(ctx, runs[0].ID)
	wantCode(t, err, greenlight.ENOTFOUND)
	_, err = s.Approval(ctx, approvals[0].ID)
	wantCode(t, err, greenlight.ENOTFOUND)
	_, err = s.Token(ctx, hashes[0])
	wantCode(t, err, greenlight.ENOTFOUND)
	if _, err := s.Token(ctx, hashes[1]); err != nil {
		t.Errorf("the other run's token: %v", err)
	}
	if st, err := s.TargetStates(ctx, releases[0].ID); err != nil || len(st) != 0 {
		t.Errorf("target states of a deleted run's release: %v %v", st, err)
	}
	rels, err := s.Releases(ctx, "hello", "staging", 0)
	must(t, err)
	if len(rels) != 1 || rels[0].RunID != runs[1].ID {
		t.Errorf("releases after delete: %+v, want only run %d's", rels, runs[1].ID)
	}
	if st, err := s.CommitStatuses(ctx, "hello", runs[0].Commit.SHA); err != nil || len(st) != 1 || st[0].RunID != runs[1].ID {
		t.Errorf("commit statuses after delete: %+v %v, want only run %d's", st, err, runs[1].ID)
	}
	evs, err := s.Events(ctx, 0, 100)
	must(t, err)
	var left []int64
	for _, e := range evs {
		if e.RunID == runs[0].ID {
			left = append(left, e.Seq)
		}
	}
	if len(left) != 1 || left[0] != unread.Seq {
		t.Errorf("events of the deleted run left: %v, want only the unread one %d", left, unread.Seq)
	}
	// The other run keeps everything.
	a, err := s.Approval(ctx, approvals[1].ID)
	must(t, err)
	if len(a.Decisions) != 1 {
		t.Errorf("the other run's approval has %d decisions, want 1", len(a.Decisions))
	}
	if st, err := s.TargetStates(ctx, releases[1].ID); err != nil || len(st) != 1 {
		t.Errorf("the other run's target states: %v %v", st, err)
	}
	if n, err := s.DeleteRuns(ctx, nil); err != nil || n != 0 {
		t.Errorf("deleting no runs: %d %v", n, err)
	}
}

func testRunsFinishedBefore(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	var ids []int64
	for i := 0; i < 4; i++ {
		r := createRun(t, s, "hello", at(time.Duration(i)*time.Hour))
		if i < 3 { // the last one never finished
			r.Status, r.FinishedAt = greenlight.RunSucceeded, ptr(at(time.Duration(i)*time.Hour+time.Minute))
			must(t, s.UpdateRun(ctx, r))
		}
		ids = append(ids, r.ID)
	}
	got, err := s.Runs(ctx, greenlight.RunFilter{FinishedBefore: at(2 * time.Hour)})
	must(t, err)
	if len(got) != 2 || got[0].ID != ids[1] || got[1].ID != ids[0] {
		t.Fatalf("finished before 2h: %v, want runs %d and %d", runIDs(got), ids[1], ids[0])
	}
	got, err = s.Runs(ctx, greenlight.RunFilter{FinishedBefore: at(10 * time.Hour), BeforeID: ids[2]})
	must(t, err)
	if len(got) != 2 || got[0].ID != ids[1] {
		t.Fatalf("finished before 10h with id < %d: %v", ids[2], runIDs(got))
	}
	r, err := s.Run(ctx, ids[1])
	must(t, err)
	r.Artifact = &greenlight.ArtifactRef{SHA256: "ab12", Size: 1}
	must(t, s.UpdateRun(ctx, r))
	got, err = s.Runs(ctx, greenlight.RunFilter{Artifact: "ab12"})
	must(t, err)
	if len(got) != 1 || got[0].ID != ids[1] {
		t.Fatalf("runs that built ab12: %v, want %d", runIDs(got), ids[1])
	}
}

func runIDs(runs []*greenlight.Run) []int64 {
	var out []int64
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func testDeleteSentMail(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	old, unsent, recent := newMail("a", at(0)), newMail("b", at(0)), newMail("c", at(0))
	for _, m := range []*greenlight.Mail{old, unsent, recent} {
		if _, err := s.EnqueueMail(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	must(t, s.MarkMailSent(ctx, old.ID, at(time.Hour)))
	must(t, s.MarkMailSent(ctx, recent.ID, at(3*time.Hour)))
	n, err := s.DeleteSentMail(ctx, at(2*time.Hour))
	must(t, err)
	if n != 1 {
		t.Fatalf("deleted %d mails, want 1", n)
	}
	left, err := s.Mails(ctx, 10)
	must(t, err)
	if len(left) != 2 {
		t.Fatalf("%d mails left, want 2 (the unsent and the recent)", len(left))
	}
	for _, m := range left {
		if m.ID == old.ID {
			t.Errorf("the old sent mail is still there")
		}
	}
}
