package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

// claimFlags collects repeated --claim k=v flags.
type claimFlags []string

func (c *claimFlags) String() string { return strings.Join(*c, " ") }
func (c *claimFlags) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q is not NAME=VALUE", v)
	}
	*c = append(*c, v)
	return nil
}

// explain prints what the configured proxy would do with one request from
// one person, using the proxy's own routing and policy code.
func explain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the YAML configuration `file`")
	user := fs.String("user", "", "the person's user `id` (the sub claim)")
	email := fs.String("email", "", "their verified email `address`")
	groups := fs.String("groups", "", "their `groups`, comma-separated")
	var claims claimFlags
	fs.Var(&claims, "claim", "a further claim as `name=value` (repeat for more values or claims)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gatehouse explain --config FILE --user ID [--email E] [--groups a,b] [--claim k=v] METHOD URL")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *user == "" || fs.NArg() != 2 {
		fs.Usage()
		return errors.New("explain needs --config FILE, --user ID, a method and a URL")
	}
	c, err := config.Load(*path)
	if err != nil {
		return err
	}
	if c.File.Proxy == nil {
		return fmt.Errorf("%s has no proxy section to explain", *path)
	}
	cfg, err := c.Proxy(nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	id := policy.Identity{Subject: *user, Email: *email}
	for _, g := range strings.Split(*groups, ",") {
		if g = strings.TrimSpace(g); g != "" {
			id.Groups = append(id.Groups, g)
		}
	}
	for _, kv := range claims {
		k, v, _ := strings.Cut(kv, "=")
		id.AddClaim(k, v)
	}
	fmt.Fprint(stdout, p.Explain(ctx, fs.Arg(0), fs.Arg(1), &id))
	return nil
}
