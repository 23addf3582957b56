package policy

import (
	"strings"
	"testing"
)

func TestDecide(t *testing.T) {
	ada := &Identity{
		Subject: "ada", Email: "Ada@Example.COM", EmailVerified: true, PreferredUsername: "ada", Groups: []string{"eng", "ops"},
		Claims: map[string][]string{"department": {"research"}, "level": {"3"}},
	}
	contractor := &Identity{Subject: "bob", Email: "bob@contractor.example", EmailVerified: true, Groups: []string{"eng", "contractors"}}
	unverified := &Identity{Subject: "mallory", Email: "ada@example.com"}
	noEmail := &Identity{Subject: "eve", Groups: []string{"guests"}}
	tests := []struct {
		name     string
		policy   Policy
		id       *Identity
		allowed  bool
		rule     string
		inReason string
	}{
		{"no allow: every signed-in person", Policy{}, noEmail, true, "signed-in", "every signed-in person"},
		{"user listed", Policy{Allow: &Rules{Users: []string{"ada"}}}, ada, true, "allow.users", "user ada is allowed"},
		{"user not listed", Policy{Allow: &Rules{Users: []string{"ada"}}}, contractor, false, "allow", "only users ada may pass"},
		{"users are exact", Policy{Allow: &Rules{Users: []string{"ADA"}}}, ada, false, "allow", "users ADA"},
		{"email ignores case", Policy{Allow: &Rules{Emails: []string{"ada@example.com"}}}, ada, true, "allow.emails", "ada@example.com"},
		{"email domain", Policy{Allow: &Rules{EmailDomains: []string{"example.com"}}}, ada, true, "allow.email_domains", "example.com"},
		{"email domain ignores case", Policy{Allow: &Rules{EmailDomains: []string{"EXAMPLE.com"}}}, ada, true, "allow.email_domains", ""},
		{"subdomains are not the domain", Policy{Allow: &Rules{EmailDomains: []string{"example.com"}}}, &Identity{Subject: "x", Email: "x@evil.example.com", EmailVerified: true}, false, "allow", ""},
		{"domain is not a suffix match", Policy{Allow: &Rules{EmailDomains: []string{"example.com"}}}, &Identity{Subject: "x", Email: "x@notexample.com", EmailVerified: true}, false, "allow", ""},
		// "nOAuth": an address the provider never verified is anyone's.
		{"unverified email", Policy{Allow: &Rules{Emails: []string{"ada@example.com"}}}, unverified, false, "allow", ""},
		{"unverified email domain", Policy{Allow: &Rules{EmailDomains: []string{"example.com"}}}, unverified, false, "allow", ""},
		{"unverified email is denied all the same", Policy{Deny: &Rules{Emails: []string{"ada@example.com"}}}, unverified, false, "deny.emails", ""},
		{"no email, no domain match", Policy{Allow: &Rules{EmailDomains: []string{"example.com"}}}, noEmail, false, "allow", ""},
		{"group listed", Policy{Allow: &Rules{Groups: []string{"ops"}}}, ada, true, "allow.groups", "group ops"},
		{"groups are exact", Policy{Allow: &Rules{Groups: []string{"Ops"}}}, ada, false, "allow", "members of groups Ops"},
		{"claim value", Policy{Allow: &Rules{Claims: map[string][]string{"department": {"sales", "research"}}}}, ada, true, "allow.claims.department", "claim department = research"},
		{"claim missing", Policy{Allow: &Rules{Claims: map[string][]string{"department": {"sales"}}}}, contractor, false, "allow", "department is one of sales"},
		{"standard claim by name", Policy{Allow: &Rules{Claims: map[string][]string{"preferred_username": {"ada"}}}}, ada, true, "allow.claims.preferred_username", ""},
		{"lists combine with OR", Policy{Allow: &Rules{Users: []string{"nobody"}, Groups: []string{"contractors"}}}, contractor, true, "allow.groups", ""},
		{"deny wins over allow", Policy{Allow: &Rules{Groups: []string{"eng"}}, Deny: &Rules{Groups: []string{"contractors"}}}, contractor, false, "deny.groups", "group contractors is refused"},
		{"deny without allow", Policy{Deny: &Rules{EmailDomains: []string{"contractor.example"}}}, contractor, false, "deny.email_domains", ""},
		{"deny not matching", Policy{Deny: &Rules{Users: []string{"bob"}}}, ada, true, "signed-in", ""},
		{"deny by claim", Policy{Deny: &Rules{Claims: map[string][]string{"level": {"3"}}}}, ada, false, "deny.claims.level", "claim level = 3 is refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, errs := Compile(tt.policy)
			if errs != nil {
				t.Fatalf("Compile: %v", errs)
			}
			d := c.Decide(tt.id)
			if d.Allowed != tt.allowed || d.Rule != tt.rule || !strings.Contains(d.Reason(), tt.inReason) {
				t.Fatalf("got allowed=%v rule=%q reason=%q, want allowed=%v rule=%q reason containing %q", d.Allowed, d.Rule, d.Reason(), tt.allowed, tt.rule, tt.inReason)
			}
		})
	}
}

func TestCompileRefuses(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		field  string
		msg    string
	}{
		{"empty allow", Policy{Allow: &Rules{}}, "allow", "is empty"},
		{"empty deny", Policy{Deny: &Rules{}}, "deny", "is empty"},
		{"allow with only empty lists", Policy{Allow: &Rules{Groups: []string{}, Claims: map[string][]string{}}}, "allow", "is empty"},
		{"empty group", Policy{Allow: &Rules{Groups: []string{"a", " "}}}, "allow.groups[1]", "is empty"},
		{"empty user", Policy{Deny: &Rules{Users: []string{""}}}, "deny.users[0]", "is empty"},
		{"not an email", Policy{Allow: &Rules{Emails: []string{"ada"}}}, "allow.emails[0]", "not an email"},
		{"email without domain", Policy{Allow: &Rules{Emails: []string{"ada@"}}}, "allow.emails[0]", "not an email"},
		{"domain with @", Policy{Allow: &Rules{EmailDomains: []string{"@example.com"}}}, "allow.email_domains[0]", "without @"},
		{"domain with leading dot", Policy{Allow: &Rules{EmailDomains: []string{".example.com"}}}, "allow.email_domains[0]", "subdomains are not included"},
		{"claim without values", Policy{Allow: &Rules{Claims: map[string][]string{"dept": nil}}}, "allow.claims.dept", "lists no values"},
		{"claim with an empty value", Policy{Allow: &Rules{Claims: map[string][]string{"dept": {""}}}}, "allow.claims.dept[0]", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, errs := Compile(tt.policy)
			if c != nil {
				t.Fatal("Compile returned a policy along with errors")
			}
			for _, e := range errs {
				if e.Field == tt.field && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Fatalf("got %v, want %s: …%s…", errs, tt.field, tt.msg)
		})
	}
}

func TestClaimNames(t *testing.T) {
	c, _ := Compile(Policy{
		Allow: &Rules{Claims: map[string][]string{"department": {"a"}, "email": {"x@y"}}},
		Deny:  &Rules{Claims: map[string][]string{"level": {"1"}, "department": {"b"}}},
	})
	got := strings.Join(c.ClaimNames(), ",")
	if got != "department,level" {
		t.Fatalf("ClaimNames = %s, want department,level (standard claims are in Identity's fields)", got)
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	c, _ := Compile(Policy{
		Allow: &Rules{Groups: []string{"a", "b", "ops"}, EmailDomains: []string{"example.com"}, Claims: map[string][]string{"level": {"3"}}},
		Deny:  &Rules{Users: []string{"mallory"}, Groups: []string{"contractors"}},
	})
	id := &Identity{Subject: "ada", Email: "ada@elsewhere.org", Groups: []string{"eng", "ops"}}
	if n := testing.AllocsPerRun(100, func() { c.Decide(id) }); n != 0 {
		t.Fatalf("Decide allocates %v times per call, want 0", n)
	}
}

func TestAddClaim(t *testing.T) {
	var id Identity
	for _, kv := range [][2]string{{"sub", "ada"}, {"email", "a@x"}, {"groups", "g1"}, {"groups", "g2"}, {"preferred_username", "ada"}, {"name", "Ada"}, {"dept", "r"}, {"dept", "s"}} {
		id.AddClaim(kv[0], kv[1])
	}
	if id.Subject != "ada" || id.Email != "a@x" || strings.Join(id.Groups, ",") != "g1,g2" || id.PreferredUsername != "ada" || id.Name != "Ada" || strings.Join(id.Claims["dept"], ",") != "r,s" {
		t.Fatalf("got %+v", id)
	}
}
