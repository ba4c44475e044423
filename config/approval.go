package config

import (
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/greenlight-cd/greenlight"
)

// groupPrefix marks an approver entry that names a server-level group.
const groupPrefix = "group:"

// approverGroups reads the server's `groups:`, named lists of plain
// addresses that approval stages name as `group:NAME`. Decoded before the
// pipelines, which resolve the names.
func (d *decoder) approverGroups(top *object) map[string][]string {
	groups := map[string][]string{}
	d.approverGroupsByName = groups
	if !top.has("groups") {
		return groups
	}
	m := d.resolve(top.fields["groups"].value)
	switch m.(type) {
	case nil:
		return groups
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		d.errorf(m, "groups: expected a mapping of group names to lists of addresses, got %s", kind(m))
		return groups
	}
	d.eachEntry(m, "groups", func(name string, k, v ast.Node) {
		path := join("groups", name)
		if !greenlight.ValidName(name) {
			d.errorf(k, "%s: invalid group name %q: use lowercase letters, digits and \"-\"", path, name)
			return
		}
		if _, dup := groups[name]; dup {
			d.errorf(k, "%s: repeated key", path)
			return
		}
		members, nodes, ok := d.strings(v, path)
		if !ok {
			groups[name] = nil
			return
		}
		if len(members) == 0 {
			d.errorf(k, "%s: a group needs at least one address", path)
		}
		seen := map[string]bool{}
		for i, a := range members {
			switch lk := strings.ToLower(a); {
			case !plainEmail(a):
				d.errorf(nodes[i], "%s: %q is not a plain email address (like pm@example.com)", index(path, i), a)
			case seen[lk]:
				d.errorf(nodes[i], "%s: %q is listed twice", index(path, i), a)
			default:
				seen[lk] = true
			}
		}
		groups[name] = members
	})
	return groups
}

// approverList reads a list of approvers under key: plain addresses and
// `group:NAME`, resolved into addresses, each once (compared without case:
// a person in two of the groups listed is one approver). ok is false when
// the list could not be read or names something unknown.
func (d *decoder) approverList(o *object, key, path string) ([]string, bool) {
	items := o.sequence(key)
	if !o.valid(key) {
		return nil, false
	}
	path = join(path, key)
	ok := true
	var out []string
	literal := map[string]bool{}
	seen := map[string]bool{}
	add := func(a string) {
		if lk := strings.ToLower(a); !seen[lk] {
			seen[lk] = true
			out = append(out, a)
		}
	}
	for i, item := range items {
		ip := index(path, i)
		a, isGroup, itemOK := d.approverEntry(item, ip)
		if !itemOK {
			ok = false
			continue
		}
		lk := strings.ToLower(a)
		if isGroup {
			lk = groupPrefix + a
		}
		if literal[lk] {
			d.errorf(item, "%s: %q is listed twice", ip, a)
			ok = false
			continue
		}
		literal[lk] = true
		if isGroup {
			members, known := d.approverGroupsByName[a]
			if !known {
				d.errorf(item, "%s: unknown group %q%s", ip, a, d.groupHint())
				ok = false
				continue
			}
			for _, m := range members {
				add(m)
			}
			continue
		}
		if !plainEmail(a) {
			d.errorf(item, "%s: %q is not a plain email address (like pm@example.com) or group:NAME", ip, a)
			ok = false
			continue
		}
		add(a)
	}
	return out, ok
}

// approverEntry reads one approver: an address, or a group as the string
// "group:NAME" or, as YAML reads [group:NAME] in flow style, the mapping
// {group: NAME}. It returns the address or the group's name.
func (d *decoder) approverEntry(n ast.Node, path string) (string, bool, bool) {
	r := d.resolve(n)
	if m, isMap := r.(*ast.MappingValueNode); isMap {
		if k, _ := text(m.Key); k == "group" {
			name, ok := d.scalar(m.Value, path+".group")
			return name, true, ok
		}
	}
	if m, isMap := r.(*ast.MappingNode); isMap && len(m.Values) == 1 {
		if k, _ := text(m.Values[0].Key); k == "group" {
			name, ok := d.scalar(m.Values[0].Value, path+".group")
			return name, true, ok
		}
	}
	s, ok := d.scalar(n, path)
	if !ok {
		return "", false, false
	}
	if name, isGroup := strings.CutPrefix(s, groupPrefix); isGroup {
		return name, true, true
	}
	return s, false, true
}

// groupHint lists the groups that exist, for "unknown group" messages.
func (d *decoder) groupHint() string {
	if len(d.approverGroupsByName) == 0 {
		return ": the server defines no groups (groups: {NAME: [addresses]})"
	}
	var names []string
	for n := range d.approverGroupsByName {
		names = append(names, n)
	}
	slices.Sort(names)
	return " (groups: " + strings.Join(names, ", ") + ")"
}

// approvalStage reads an approval stage's gate (SPEC §6, §11).
func (d *decoder) approvalStage(o *object, path string, st *Stage) {
	switch {
	case o.has("rules") && (o.has("approvers") || o.has("required")):
		k := "approvers"
		if !o.has(k) {
			k = "required"
		}
		d.errorf(o.keyAt(k), "%s.%s: not with rules: write each rule's approvers and required inside rules", path, k)
	case o.has("rules"):
		d.approvalRules(o, path, st)
	default:
		approvers, ok := d.approverList(o, "approvers", path)
		if o.missing("approvers") {
			d.errorf(o.node, "%s.approvers: at least one approver is required (or write rules)", path)
		} else if o.valid("approvers") && o.count("approvers") == 0 {
			d.errorf(o.keyAt("approvers"), "%s.approvers: at least one approver is required", path)
		}
		st.Required = o.integer("required", 1)
		if ok && len(approvers) > 0 && o.valid("required") && (st.Required < 1 || st.Required > len(approvers)) {
			d.errorf(o.at("required"), "%s.required: must be between 1 and %d (the number of approvers), got %d", path, len(approvers), st.Required)
		}
		st.Rules = []greenlight.ApprovalRule{{Name: "approvers", Approvers: approvers, Required: st.Required}}
	}
	seen := map[string]bool{}
	for _, r := range st.Rules {
		for _, a := range r.Approvers {
			if lk := strings.ToLower(a); !seen[lk] {
				seen[lk] = true
				st.Approvers = append(st.Approvers, a)
			}
		}
	}

	st.ReviewURL = o.str("review_url", "")
	if st.ReviewURL != "" && o.valid("review_url") {
		if why := httpURLProblem(st.ReviewURL); why != "" {
			d.errorf(o.at("review_url"), "%s.review_url: invalid URL %q: %s", path, st.ReviewURL, why)
		}
	}
	st.SelfApproval = o.boolean("self_approval", false)
	st.Comment = o.str("comment", greenlight.CommentReject)
	switch st.Comment {
	case greenlight.CommentNone, greenlight.CommentReject, greenlight.CommentApprove, greenlight.CommentBoth:
	default:
		if o.valid("comment") {
			d.errorf(o.at("comment"), "%s.comment: unknown value %q: use none, reject, approve or both", path, st.Comment)
		}
	}
	st.OnTimeout = o.str("on_timeout", greenlight.TimeoutExpire)
	switch st.OnTimeout {
	case greenlight.TimeoutExpire, greenlight.TimeoutReject:
	default:
		if o.valid("on_timeout") {
			d.errorf(o.at("on_timeout"), "%s.on_timeout: unknown value %q: use expire or reject", path, st.OnTimeout)
		}
	}
	timeoutOK := o.valid("timeout") && st.Timeout > 0
	st.Wait = o.duration("wait", 0)
	if st.Wait < 0 && o.valid("wait") {
		d.errorf(o.at("wait"), "%s.wait: must not be negative", path)
	}
	for i, n := range o.sequence("remind") {
		ip := index(join(path, "remind"), i)
		v, ok := d.duration(n, ip)
		switch {
		case !ok:
		case v <= 0:
			d.errorf(n, "%s: must be positive (how long before the deadline)", ip)
		case timeoutOK && v >= st.Timeout:
			d.errorf(n, "%s: %s before the deadline is not after the links go out: it must be less than the timeout (%s)", ip, v, st.Timeout)
		case slices.Contains(st.Remind, v):
			d.errorf(n, "%s: %s is listed twice", ip, v)
		default:
			st.Remind = append(st.Remind, v)
		}
	}
	if o.has("escalate") {
		e := o.child("escalate", "after", "to")
		ep := join(path, "escalate")
		esc := &Escalate{After: e.duration("after", 0)}
		switch {
		case e.missing("after"):
			d.errorf(e.node, "%s.after: required (how long after the links go out)", ep)
		case !e.valid("after"):
		case esc.After <= 0:
			d.errorf(e.at("after"), "%s.after: must be positive", ep)
		case timeoutOK && esc.After >= st.Timeout:
			d.errorf(e.at("after"), "%s.after: %s is not before the deadline: it must be less than the timeout (%s)", ep, esc.After, st.Timeout)
		}
		to, ok := d.approverList(e, "to", ep)
		if e.missing("to") || (ok && len(to) == 0) {
			d.errorf(e.keyAt("to"), "%s.to: at least one address is required", ep)
		}
		esc.To = to
		st.Escalate = esc
	}
}

// approvalRules reads `rules:`, each {name, approvers, required}.
func (d *decoder) approvalRules(o *object, path string, st *Stage) {
	items := o.sequence("rules")
	if len(items) == 0 && o.valid("rules") {
		d.errorf(o.keyAt("rules"), "%s.rules: at least one rule is required", path)
	}
	for i, n := range items {
		rp := index(join(path, "rules"), i)
		r, ok := d.object(n, rp, "name", "approvers", "required")
		if !ok {
			continue
		}
		rule := greenlight.ApprovalRule{Name: d.uniqueName(r, rp, "rule", path)}
		approvers, ok := d.approverList(r, "approvers", rp)
		if r.missing("approvers") || (r.valid("approvers") && r.count("approvers") == 0) {
			d.errorf(r.keyAt("approvers"), "%s.approvers: at least one approver is required", rp)
		}
		rule.Approvers = approvers
		rule.Required = r.integer("required", 1)
		if ok && len(approvers) > 0 && r.valid("required") && (rule.Required < 1 || rule.Required > len(approvers)) {
			d.errorf(r.at("required"), "%s.required: must be between 1 and %d (the number of approvers), got %d", rp, len(approvers), rule.Required)
		}
		st.Rules = append(st.Rules, rule)
	}
}
