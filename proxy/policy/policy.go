// Package policy decides who may pass a route of the proxy: lists of users,
// email addresses, email domains, groups and claim values that admit or
// refuse a signed-in person. It knows nothing of HTTP; the proxy and the
// explain command both ask it the same question.
package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Identity is what the proxy knows about a signed-in person: the standard
// claims it always keeps, and the other claims that a policy or header
// mapping asked for.
type Identity struct {
	Subject string
	Email   string
	// EmailVerified is whether the provider vouched for Email. Only a
	// verified address matches the emails and email_domains of allow:
	// anyone can type any address into an account at some providers.
	EmailVerified     bool
	PreferredUsername string
	Name              string
	Groups            []string
	// Claims holds the values of the further claims named in Claims of a
	// Rules (or in a header mapping), as strings.
	Claims map[string][]string
}

// The standard claims, which live in fields of Identity rather than in
// Identity.Claims.
const (
	ClaimSubject           = "sub"
	ClaimEmail             = "email"
	ClaimPreferredUsername = "preferred_username"
	ClaimName              = "name"
	ClaimGroups            = "groups"
)

// IsStandard reports whether claim is kept in a field of Identity.
func IsStandard(claim string) bool {
	switch claim {
	case ClaimSubject, ClaimEmail, ClaimPreferredUsername, ClaimName, ClaimGroups:
		return true
	}
	return false
}

// Rules lists who matches. A person matches when any list matches them:
// the lists combine with OR.
type Rules struct {
	Users        []string            // the sub claim, exactly
	Emails       []string            // verified addresses, ignoring case
	EmailDomains []string            // the domain of a verified address, ignoring case
	Groups       []string            // the groups claim, exactly
	Claims       map[string][]string // a claim having any of the values, exactly
}

// Policy says who may pass one route. Deny wins over Allow; a nil Allow
// admits every signed-in person.
type Policy struct {
	Allow *Rules
	Deny  *Rules
}

// FieldError is a problem with one field of a Policy, named as in the
// configuration file (e.g. "allow.email_domains[1]").
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// Compiled is a Policy ready to decide quickly.
type Compiled struct {
	allow, deny *matcher
}

// matcher is Rules as sets.
type matcher struct {
	name    string // "allow" or "deny"
	rules   Rules
	users   set
	emails  set // lower case
	domains set // lower case
	groups  set
	claims  map[string]set
	// rule names each list for Decision, built once: "allow.groups".
	rule map[string]string
	// order lists the claim names, sorted, so decisions are stable;
	// claimRules and claimKinds name each for Decision, built once.
	order      []string
	claimRules []string
	claimKinds []string
}

type set map[string]struct{}

func newSet(items []string, fold bool) set {
	s := make(set, len(items))
	for _, v := range items {
		if fold {
			v = strings.ToLower(v)
		}
		s[v] = struct{}{}
	}
	return s
}

func (s set) has(v string) bool {
	_, ok := s[v]
	return ok
}

// Compile checks p and prepares it. All problems are returned together.
func Compile(p Policy) (*Compiled, []FieldError) {
	var errs []FieldError
	c := &Compiled{}
	if p.Allow != nil {
		c.allow = compileRules("allow", p.Allow, &errs)
	}
	if p.Deny != nil {
		c.deny = compileRules("deny", p.Deny, &errs)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func compileRules(name string, r *Rules, errs *[]FieldError) *matcher {
	add := func(field, format string, args ...any) {
		*errs = append(*errs, FieldError{Field: name + field, Msg: fmt.Sprintf(format, args...)})
	}
	if len(r.Users)+len(r.Emails)+len(r.EmailDomains)+len(r.Groups)+len(r.Claims) == 0 {
		what := "admits nobody, which is never meant"
		if name == "allow" {
			what += ": list users, emails, email_domains, groups or claims, or remove allow to admit every signed-in person"
		} else {
			what += ": list users, emails, email_domains, groups or claims to refuse, or remove deny"
		}
		add("", "is empty; an empty %s %s", name, what)
		return nil
	}
	nonEmpty := func(field string, items []string) {
		for i, v := range items {
			if strings.TrimSpace(v) == "" {
				add(fmt.Sprintf(".%s[%d]", field, i), "is empty")
			}
		}
	}
	nonEmpty("users", r.Users)
	nonEmpty("groups", r.Groups)
	for i, e := range r.Emails {
		if at := strings.LastIndexByte(e, '@'); at <= 0 || at == len(e)-1 {
			add(fmt.Sprintf(".emails[%d]", i), "%q is not an email address", e)
		}
	}
	for i, d := range r.EmailDomains {
		switch {
		case strings.HasPrefix(d, "@"):
			add(fmt.Sprintf(".email_domains[%d]", i), "write the domain without @: %q", strings.TrimPrefix(d, "@"))
		case d == "" || strings.ContainsAny(d, "@/ ") || strings.HasPrefix(d, "."):
			add(fmt.Sprintf(".email_domains[%d]", i), "%q is not a domain such as example.com (subdomains are not included; list them too)", d)
		}
	}
	m := &matcher{
		name:    name,
		rules:   *r,
		users:   newSet(r.Users, false),
		emails:  newSet(r.Emails, true),
		domains: newSet(r.EmailDomains, true),
		groups:  newSet(r.Groups, false),
		claims:  make(map[string]set, len(r.Claims)),
	}
	for claim, values := range r.Claims {
		field := ".claims." + claim
		switch {
		case claim == "":
			add(".claims", "a claim name is empty")
		case len(values) == 0:
			add(field, "lists no values; list the values that match, e.g. [sales]")
		}
		nonEmpty("claims."+claim, values)
		m.claims[claim] = newSet(values, false)
		m.order = append(m.order, claim)
	}
	slices.Sort(m.order)
	m.rule = map[string]string{}
	for _, list := range []string{"users", "emails", "email_domains", "groups"} {
		m.rule[list] = name + "." + list
	}
	for _, claim := range m.order {
		m.claimRules = append(m.claimRules, name+".claims."+claim)
		m.claimKinds = append(m.claimKinds, "claim "+claim+" =")
	}
	return m
}

// ClaimNames returns the names of the non-standard claims c reads, which
// the proxy must keep in sessions.
func (c *Compiled) ClaimNames() []string {
	var names []string
	for _, m := range []*matcher{c.allow, c.deny} {
		if m == nil {
			continue
		}
		for _, n := range m.order {
			if !IsStandard(n) && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// Decision is the outcome of a policy for one person.
type Decision struct {
	Allowed bool
	// Rule names what decided, as in the configuration file: "deny.groups",
	// "allow.email_domains", "allow" (no list of allow matched) or
	// "signed-in" (no allow lists: every signed-in person passes).
	Rule string
	// Value is what matched: the user, email, domain, group or claim value.
	Value string

	kind string   // what Value is, in words
	by   *matcher // the allow lists, when none of them matched
}

// Reason says why, in words fit for the person refused and for the log.
// It is built on demand, so that deciding allocates nothing.
func (d Decision) Reason() string {
	switch {
	case d.Rule == "signed-in":
		return "every signed-in person may pass"
	case d.by != nil:
		return "only " + d.by.describe() + " may pass"
	case d.Allowed:
		return d.kind + " " + d.Value + " is allowed"
	}
	return d.kind + " " + d.Value + " is refused"
}

// Decide applies c to id: deny first, then allow.
func (c *Compiled) Decide(id *Identity) Decision {
	if c.deny != nil {
		if d, ok := c.deny.match(id); ok {
			return d
		}
	}
	if c.allow == nil {
		return Decision{Allowed: true, Rule: "signed-in"}
	}
	if d, ok := c.allow.match(id); ok {
		d.Allowed = true
		return d
	}
	return Decision{Rule: "allow", by: c.allow}
}

// match finds the first list of m that matches id.
func (m *matcher) match(id *Identity) (Decision, bool) {
	if m.users.has(id.Subject) {
		return Decision{Rule: m.rule["users"], Value: id.Subject, kind: "user"}, true
	}
	// Allow trusts only a verified address; deny refuses any address the
	// person presents, verified or not.
	if id.Email != "" && (id.EmailVerified || m.name == "deny") {
		email := id.Email
		if hasUpper(email) {
			email = strings.ToLower(email)
		}
		if m.emails.has(email) {
			return Decision{Rule: m.rule["emails"], Value: email, kind: "email"}, true
		}
		if at := strings.LastIndexByte(email, '@'); at >= 0 && m.domains.has(email[at+1:]) {
			return Decision{Rule: m.rule["email_domains"], Value: email[at+1:], kind: "email domain"}, true
		}
	}
	for _, g := range id.Groups {
		if m.groups.has(g) {
			return Decision{Rule: m.rule["groups"], Value: g, kind: "group"}, true
		}
	}
	for i, claim := range m.order {
		if v, ok := id.valueIn(claim, m.claims[claim]); ok {
			return Decision{Rule: m.claimRules[i], Value: v, kind: m.claimKinds[i]}, true
		}
	}
	return Decision{}, false
}

// valueIn returns the first value of claim that is in want.
func (id *Identity) valueIn(claim string, want set) (string, bool) {
	var one string
	switch claim {
	case ClaimSubject:
		one = id.Subject
	case ClaimEmail:
		one = id.Email
	case ClaimPreferredUsername:
		one = id.PreferredUsername
	case ClaimName:
		one = id.Name
	default:
		list := id.Claims[claim]
		if claim == ClaimGroups {
			list = id.Groups
		}
		for _, v := range list {
			if want.has(v) {
				return v, true
			}
		}
		return "", false
	}
	return one, one != "" && want.has(one)
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' || s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// describe lists m's lists in words.
func (m *matcher) describe() string {
	var parts []string
	list := func(what string, items []string) {
		if len(items) > 0 {
			parts = append(parts, what+" "+strings.Join(items, ", "))
		}
	}
	list("users", m.rules.Users)
	list("emails", m.rules.Emails)
	list("email domains", m.rules.EmailDomains)
	list("members of groups", m.rules.Groups)
	for _, claim := range m.order {
		list("people whose "+claim+" is one of", m.rules.Claims[claim])
	}
	return strings.Join(parts, "; ")
}

// AddClaim adds a value of claim to id: into its field for a standard claim
// (appending for groups, replacing otherwise), into Claims for any other.
func (id *Identity) AddClaim(claim, value string) {
	switch claim {
	case ClaimSubject:
		id.Subject = value
	case ClaimEmail:
		id.Email, id.EmailVerified = value, true
	case ClaimPreferredUsername:
		id.PreferredUsername = value
	case ClaimName:
		id.Name = value
	case ClaimGroups:
		id.Groups = append(id.Groups, value)
	default:
		if id.Claims == nil {
			id.Claims = map[string][]string{}
		}
		id.Claims[claim] = append(id.Claims[claim], value)
	}
}
