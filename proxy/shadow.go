package proxy

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
)

// Shadows reports routes whose sign-in or policy does not apply to requests
// they appear to cover, for `gatehouse check`. Routing picks the route with
// the most specific host first and compares path lengths only between
// routes of the same host class, so a route naming a host takes every
// request for that host under its prefix, even where a route without a host
// (or with a wildcard) has a longer, more specific-looking path:
//
//   - {host: app.example.com, path: /, public: true}
//   - {path: /admin, allow: {groups: [admins]}}
//
// leaves app.example.com/admin public. Each problem names the route that
// loses requests; a route nested below another on the same host class (a
// public /app/static below a protected /app) is a deliberate carve-out and
// is not reported. It returns nil for routes Check refuses.
func Shadows(cfg Config) ConfigErrors {
	var ps problems
	t := compileRoutes(cfg.Routes, &ps)
	if len(ps.list) > 0 || len(cfg.Routes) == 0 {
		return nil
	}
	var out ConfigErrors
	for qi, q := range t.inOrder {
		if q.public {
			continue
		}
		for pi, p := range t.inOrder {
			if !p.swallows(q) {
				continue
			}
			where := fmt.Sprintf("requests on %s under %s go to %s (host %s, path %s), not to this route: the more specific host wins before paths are compared",
				p.hostPattern(), q.prefix, p.field, p.hostPattern(), p.prefix)
			skip := p.skipsUnder(q.prefix)
			switch {
			case p.public:
				out = append(out, ConfigError{Field: q.field, Msg: where + "; that route is public, so they need no sign-in. Give this route the same host, or narrow the public one"})
			case skip != "":
				out = append(out, ConfigError{Field: q.field, Msg: where + "; its " + skip + " exempts some of them from sign-in. Give this route the same host, or narrow that rule"})
			case cfg.Routes[qi].Allow != nil || cfg.Routes[qi].Deny != nil:
				out = append(out, ConfigError{Field: q.field, Msg: fmt.Sprintf("%s; this route's allow and deny do not apply to them. Give this route the same host, or repeat its rules on routes[%d]", where, pi)})
			}
		}
	}
	return out
}

// swallows reports whether p takes every request that q matches on some
// host: its host class is higher, their hosts overlap, and p's prefix is
// q's or above it.
func (p *route) swallows(q *route) bool {
	if p.specificity()>>16 <= q.specificity()>>16 || len(p.segs) > len(q.segs) {
		return false
	}
	switch {
	case q.host == "":
	case q.wildcard && !p.wildcard && q.matchesHost(p.host):
	default:
		return false
	}
	for i, s := range p.segs {
		if !sameFold(s, q.segs[i]) {
			return false
		}
	}
	return true
}

// hostPattern is the route's host as configured, for messages.
func (rt *route) hostPattern() string {
	switch {
	case rt.host == "":
		return "any host"
	case rt.wildcard:
		return "*" + rt.host
	}
	return rt.host
}

// skipsUnder names the first skip_auth rule of rt that may match a path
// at or below prefix, or returns "".
func (rt *route) skipsUnder(prefix string) string {
	for i, s := range rt.skip {
		if mayMatchUnder(s.path.String(), prefix) {
			return fmt.Sprintf("skip_auth[%d] (%s %s)", i, strings.Join(s.methods, ","), s.path)
		}
	}
	return ""
}

// mayMatchUnder reports whether the regular expression src can match the
// path prefix, in any case (routes compare prefixes ignoring case), or a
// path below it. It runs the expression's automaton over the prefix and
// then asks whether a match is reachable at all; empty-width assertions
// count as passable, so the answer errs towards yes.
func mayMatchUnder(src, prefix string) bool {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return true
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return true
	}
	states := closure(prog, map[uint32]bool{}, uint32(prog.Start))
	for _, r := range prefix {
		states = step(prog, states, caseVariants(r))
	}
	for pc := range states {
		if prog.Inst[pc].Op == syntax.InstMatch {
			return true // the prefix itself
		}
	}
	if prefix != "/" {
		states = step(prog, states, []rune{'/'})
	}
	return reachesMatch(prog, states)
}

// closure adds pc and every instruction reachable from it without reading
// a character to set.
func closure(prog *syntax.Prog, set map[uint32]bool, pc uint32) map[uint32]bool {
	if set[pc] {
		return set
	}
	set[pc] = true
	switch i := prog.Inst[pc]; i.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		closure(prog, set, i.Out)
		closure(prog, set, i.Arg)
	case syntax.InstCapture, syntax.InstNop, syntax.InstEmptyWidth:
		closure(prog, set, i.Out)
	}
	return set
}

// step reads one character, any of runes, from every state in set.
func step(prog *syntax.Prog, set map[uint32]bool, runes []rune) map[uint32]bool {
	next := map[uint32]bool{}
	for pc := range set {
		i := prog.Inst[pc]
		for _, r := range runes {
			ok := false
			switch i.Op {
			case syntax.InstRune, syntax.InstRune1:
				ok = i.MatchRune(r)
			case syntax.InstRuneAny:
				ok = true
			case syntax.InstRuneAnyNotNL:
				ok = r != '\n'
			}
			if ok {
				closure(prog, next, i.Out)
				break
			}
		}
	}
	return next
}

// reachesMatch reports whether some string leads from set to a match.
func reachesMatch(prog *syntax.Prog, set map[uint32]bool) bool {
	seen := map[uint32]bool{}
	var todo []uint32
	for pc := range set {
		todo = append(todo, pc)
	}
	for len(todo) > 0 {
		pc := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[pc] {
			continue
		}
		seen[pc] = true
		switch i := prog.Inst[pc]; i.Op {
		case syntax.InstMatch:
			return true
		case syntax.InstFail:
		case syntax.InstAlt, syntax.InstAltMatch:
			todo = append(todo, i.Out, i.Arg)
		default:
			todo = append(todo, i.Out)
		}
	}
	return false
}

// caseVariants are the characters a route prefix treats as r.
func caseVariants(r rune) []rune {
	out := []rune{r}
	for _, base := range []rune{r, unicode.ToUpper(r), unicode.ToLower(r)} {
		for f := base; ; {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
			if f = unicode.SimpleFold(f); f == base {
				break
			}
		}
	}
	return out
}
