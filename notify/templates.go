package notify

// The mail bodies. Readers are not engineers: say what is asked of them, put
// the staging site first, and keep the two decision links unmistakable. Every
// value is user or configuration data; html/template escapes it in the HTML
// part, and compose.go makes single-line values one line.

const textTemplates = `
{{- define "commit"}}Commit:   {{.Short}} {{.Title}}
Author:   {{.Author}}
{{- if .Branch}}
Branch:   {{.Branch}}{{end}}{{end}}

{{- define "approval" -}}
Hello,
{{if .Note}}
{{.Note}}
{{end}}
A new version of {{.Pipeline}} (run #{{.Run}}) is on the staging site and
waits for your decision before it goes to {{.Environment}}.

{{if .ReviewURL}}Please look at it first:

    {{.ReviewURL}}

{{end}}What ships:
{{- if .SameAsLive}}
  The same version as the one live in {{.Environment}} now: nothing changes.
{{else if .Changes}}
{{range .Changes}}  - {{if .Short}}{{.Short}} {{end}}{{.Title}}{{if .Author}} ({{.Author}}){{end}}
{{end}}{{else}}
  {{.Commit.Short}} {{.Commit.Title}}
{{end}}
{{- if .CompareURL}}  Compare: {{.CompareURL}}
{{end}}
{{template "commit" .Commit}}
Started:  {{.StartedBy}}
{{- if .Artifact}}
Artifact: {{.Artifact}}{{end}}
{{- if .Tests}}
Tests:    {{.Tests}}{{range .Failures}}
          failed: {{.}}{{end}}{{end}}
{{- template "decisions" .Decisions}}

Please decide by {{.Deadline}} ({{.DeadlineIn}}).
{{- if .Needed}}
{{.Needed}}{{end}}

Approve: {{.ApproveURL}}

Reject:  {{.RejectURL}}

Each link opens a page where you confirm your choice; opening a link
changes nothing. The links are yours alone and work once: please do not
forward this mail.
{{end}}

{{- define "excluded" -}}
Hello,

Run #{{.Run}} of {{.Pipeline}} waits for approval, and you are listed as
one of its approvers. You cannot approve this one: you are {{.Why}},
and nobody approves their own change. The other approvers have been asked.

{{template "commit" .Commit}}

Details: {{.RunURL}}
{{end}}

{{- define "revoked" -}}
Hello,

Run #{{.Run}} of {{.Pipeline}} no longer needs your decision:
{{if eq .Reason "superseded"}}a newer version replaced it on the staging site, and you will get a
separate mail to approve that one.{{else if eq .Reason "cancelled"}}it was cancelled.{{else}}{{.Reason}}.{{end}}

{{template "commit" .Commit}}

The Approve and Reject links of the earlier mail no longer work.
{{end}}

{{- define "decisions"}}{{if .}}

Decisions:{{range .}}
  {{.Verdict}} by {{.Approver}} at {{.At}}{{if .Comment}}:
    {{.Indented}}{{end}}{{end}}{{end}}{{end}}

{{- define "outcome" -}}
{{.Outcome}}

Run #{{.Run}} of {{.Pipeline}}, which you were asked to approve.

{{template "commit" .Commit}}
{{- template "decisions" .Decisions}}

Details: {{.RunURL}}
{{end}}

{{- define "failure" -}}
Run #{{.Run}} of {{.Pipeline}} {{if eq .Status "failed"}}failed{{if .Stage}} at stage {{.Stage}}{{end}}{{else if eq .Status "rejected"}}was rejected{{else if eq .Status "expired"}}expired: nobody decided before the deadline{{else}}ended: {{.Status}}{{end}}.

{{template "commit" .Commit}}
{{- if .Reason}}

Reason:   {{.Reason}}{{end}}
{{- range .Rejections}}

Rejected by {{.Approver}} at {{.At}}{{if .Comment}}:
    {{.Indented}}{{end}}{{end}}

Details and logs: {{.RunURL}}
{{end}}
`

const htmlLayout = `
{{- define "start" -}}
<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.}}</title></head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328;line-height:1.5">
<div style="max-width:600px;margin:0 auto;background:#fff;border-radius:8px;padding:24px">
{{end}}

{{- define "end" -}}
<p style="margin-top:32px;color:#6e7781;font-size:12px">Sent by Greenlight.</p>
</div></body></html>
{{end}}

{{- define "decisions" -}}
{{- if .}}
<p style="margin-bottom:4px"><strong>Decisions</strong></p>
<ul style="margin-top:0;padding-left:20px">
{{- range .}}
<li><strong style="color:{{if eq .Verdict "approved"}}#1a7f37{{else}}#cf222e{{end}}">{{.Verdict}}</strong> by {{.Approver}} <span style="color:#6e7781">at {{.At}}</span>
{{- if .Comment}}<blockquote style="margin:4px 0 8px;padding-left:12px;border-left:3px solid #d0d7de;white-space:pre-wrap">{{.Comment}}</blockquote>{{end}}</li>
{{- end}}
</ul>
{{- end}}
{{- end}}

{{- define "commit" -}}
<table style="border-collapse:collapse;margin:16px 0;font-size:14px">
<tr><td style="color:#6e7781;padding:2px 12px 2px 0;width:64px">Commit</td><td><code>{{.Short}}</code> {{.Title}}</td></tr>
<tr><td style="color:#6e7781;padding:2px 12px 2px 0;width:64px">Author</td><td>{{.Author}}</td></tr>
{{- if .Branch}}
<tr><td style="color:#6e7781;padding:2px 12px 2px 0;width:64px">Branch</td><td>{{.Branch}}</td></tr>{{end}}
</table>
{{end}}
`

const htmlTemplates = `
{{- define "approval" -}}
{{template "start" "Your approval is needed"}}
{{- if .Note}}
<p style="padding:8px 12px;background:#fff8c5;border-radius:6px"><strong>{{.Note}}</strong></p>{{end}}
<h1 style="font-size:20px;margin:0 0 12px">{{.Pipeline}} #{{.Run}} needs your decision</h1>
<p>A new version of <strong>{{.Pipeline}}</strong> is on the staging site and waits for your decision before it goes to {{.Environment}}.</p>
{{- if .ReviewURL}}
<p style="margin:20px 0"><a href="{{.ReviewURL}}" style="display:inline-block;padding:10px 18px;border:2px solid #0969da;border-radius:6px;color:#0969da;text-decoration:none;font-weight:600">Look at the staging site</a><br>
<span style="font-size:13px;color:#6e7781;word-break:break-all">{{.ReviewURL}}</span></p>
{{- end}}
<p style="margin-bottom:4px"><strong>What ships</strong></p>
{{- if .SameAsLive}}
<p style="margin-top:0">The same version as the one live in {{.Environment}} now: nothing changes.</p>
{{- else if .Changes}}
<ul style="margin-top:0;padding-left:20px">{{range .Changes}}<li>{{if .Short}}<code>{{.Short}}</code> {{end}}{{.Title}}{{if .Author}} <span style="color:#6e7781">({{.Author}})</span>{{end}}</li>{{end}}</ul>
{{- else}}
<p style="margin-top:0"><code>{{.Commit.Short}}</code> {{.Commit.Title}}</p>
{{- end}}
{{- if .CompareURL}}
<p style="margin-top:0"><a href="{{.CompareURL}}" style="color:#0969da">Compare with the version live now</a></p>
{{- end}}
{{template "commit" .Commit}}
<table style="border-collapse:collapse;margin:0 0 16px;font-size:14px">
<tr><td style="color:#6e7781;padding:2px 12px 2px 0;width:64px">Started</td><td>{{.StartedBy}}</td></tr>
{{- if .Artifact}}
<tr><td style="color:#6e7781;padding:2px 12px 2px 0;width:64px">Artifact</td><td><code>{{.Artifact}}</code></td></tr>{{end}}
{{- if .Tests}}
<tr><td style="color:#6e7781;padding:2px 12px 2px 0;width:64px;vertical-align:top">Tests</td><td>{{.Tests}}{{range .Failures}}<br><span style="color:#cf222e">failed: {{.}}</span>{{end}}</td></tr>{{end}}
</table>
{{- template "decisions" .Decisions}}
<p>Please decide by <strong>{{.Deadline}}</strong> ({{.DeadlineIn}}).
{{- if .Needed}} {{.Needed}}{{end}}</p>
<p style="margin:24px 0">
<a href="{{.ApproveURL}}" style="display:inline-block;padding:12px 24px;background:#fff;border:2px solid #1a7f37;border-radius:6px;color:#1a7f37;text-decoration:none;font-weight:600;margin:0 12px 8px 0">Approve&hellip;</a>
<a href="{{.RejectURL}}" style="display:inline-block;padding:12px 24px;background:#fff;border:2px solid #cf222e;border-radius:6px;color:#cf222e;text-decoration:none;font-weight:600;margin:0 0 8px 0">Reject&hellip;</a>
</p>
<p style="font-size:13px;color:#6e7781">Each button opens a page where you confirm your choice; opening it changes nothing. The links are yours alone and work once: please do not forward this mail.</p>
{{template "end"}}
{{- end}}

{{- define "outcome" -}}
{{template "start" .Outcome}}
<h1 style="font-size:20px;margin:0 0 12px">{{.Outcome}}</h1>
<p>Run #{{.Run}} of <strong>{{.Pipeline}}</strong>, which you were asked to approve.</p>
{{template "commit" .Commit}}
{{- template "decisions" .Decisions}}
<p style="margin:24px 0"><a href="{{.RunURL}}" style="display:inline-block;padding:10px 18px;background:#0969da;border-radius:6px;color:#fff;text-decoration:none;font-weight:600">Details</a><br>
<span style="font-size:13px;color:#6e7781">{{.RunURL}}</span></p>
{{template "end"}}
{{- end}}

{{- define "excluded" -}}
{{template "start" "Waiting for approval by others"}}
<h1 style="font-size:20px;margin:0 0 12px">{{.Pipeline}} #{{.Run}} waits for approval by others</h1>
<p>You are listed as one of its approvers, but you cannot approve this one: you are <strong>{{.Why}}</strong>, and nobody approves their own change. The other approvers have been asked.</p>
{{template "commit" .Commit}}
<p style="margin:24px 0"><a href="{{.RunURL}}" style="display:inline-block;padding:10px 18px;background:#0969da;border-radius:6px;color:#fff;text-decoration:none;font-weight:600">Details</a></p>
{{template "end"}}
{{- end}}

{{- define "revoked" -}}
{{template "start" "No longer needed"}}
<h1 style="font-size:20px;margin:0 0 12px">{{.Pipeline}} #{{.Run}} no longer needs your decision</h1>
<p>
{{- if eq .Reason "superseded"}}A newer version replaced it on the staging site; you will get a separate mail to approve that one.
{{- else if eq .Reason "cancelled"}}The run was cancelled.
{{- else}}{{.Reason}}.{{end}}</p>
{{template "commit" .Commit}}
<p>The Approve and Reject links of the earlier mail no longer work.</p>
{{template "end"}}
{{- end}}

{{- define "failure" -}}
{{template "start" "Run ended"}}
<h1 style="font-size:20px;margin:0 0 12px">{{.Pipeline}} #{{.Run}}
{{- if eq .Status "failed"}} failed{{if .Stage}} at stage {{.Stage}}{{end}}
{{- else if eq .Status "rejected"}} was rejected
{{- else if eq .Status "expired"}} expired{{else}} ended: {{.Status}}{{end}}</h1>
{{- if eq .Status "expired"}}<p>Nobody decided before the deadline.</p>{{end}}
{{template "commit" .Commit}}
{{- if .Reason}}
<p><strong>Reason:</strong> {{.Reason}}</p>{{end}}
{{- range .Rejections}}
<p>Rejected by <strong>{{.Approver}}</strong> at {{.At}}{{if .Comment}}:</p>
<blockquote style="margin:0 0 12px;padding-left:12px;border-left:3px solid #d0d7de;white-space:pre-wrap">{{.Comment}}</blockquote>{{else}}</p>{{end}}
{{- end}}
<p style="margin:24px 0"><a href="{{.RunURL}}" style="display:inline-block;padding:10px 18px;background:#0969da;border-radius:6px;color:#fff;text-decoration:none;font-weight:600">Details and logs</a><br>
<span style="font-size:13px;color:#6e7781">{{.RunURL}}</span></p>
{{template "end"}}
{{- end}}
`
