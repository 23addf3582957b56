package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/internal/config"
)

// Health endpoints, relative to where each server serves: the authserver
// below its issuer's path, the proxy below its reserved /oauth2/ prefix so
// an application's own /healthz stays reachable.
const (
	proxyHealthPath = "/oauth2" + authserver.PathHealth
	readyPath       = "/readyz"
	proxyReadyPath  = "/oauth2" + readyPath
)

// healthTarget is one server to ask.
type healthTarget struct {
	name, url string
}

// healthcheck asks every server the file configures whether it is alive
// (or, with --ready, ready to serve) and succeeds only if all answer 200.
// It is the container's HEALTHCHECK: no shell or curl needed, one short
// timeout for the whole run, and no redirects followed, since a health
// endpoint that redirects is not answering.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the YAML configuration `file` the servers run with")
	ready := fs.Bool("ready", false, "ask /readyz (store and provider reachable) instead of /healthz (alive)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for all answers")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gatehouse healthcheck --config FILE [--ready] [--timeout 2s]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("healthcheck needs --config FILE and nothing else")
	}
	c, err := config.Load(*path)
	if err != nil {
		return err
	}
	targets, err := healthTargets(c, *ready)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("%s configures no authserver or proxy to check", *path)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true}, // no proxy from the environment: the servers are local
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	results := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { results[i] = probe(ctx, client, t.url) })
	}
	wg.Wait()
	failed := 0
	for i, t := range targets {
		status := "ok"
		if results[i] != nil {
			status, failed = results[i].Error(), failed+1
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", t.name, t.url, status)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d servers are not healthy", failed, len(targets))
	}
	return nil
}

func probe(ctx context.Context, client *http.Client, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the cause, without the method and URL printed beside it
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s, want 200 OK", resp.Status)
	}
	return nil
}

// healthTargets lists the health URLs of the servers c configures.
func healthTargets(c *config.Config, ready bool) ([]healthTarget, error) {
	var out []healthTarget
	if a := c.File.AuthServer; a != nil {
		issuer, err := url.Parse(a.Issuer)
		if err != nil {
			return nil, err
		}
		p := authserver.PathHealth
		if ready {
			p = readyPath
		}
		out = append(out, healthTarget{"authserver", healthURL(a.Listen, issuer.EscapedPath()+p)})
	}
	if p := c.File.Proxy; p != nil {
		path := proxyHealthPath
		if ready {
			path = proxyReadyPath
		}
		out = append(out, healthTarget{"proxy", healthURL(p.Listen, path)})
	}
	return out, nil
}

// healthURL is the URL of path on a server listening on listen, reached
// over loopback when it listens on every address. The servers speak plain
// HTTP; when listeners get TLS, the scheme is to follow theirs here.
func healthURL(listen, path string) string {
	host, port, _ := net.SplitHostPort(listen) // validated at load
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.Equal(net.IPv4zero):
		host = "127.0.0.1"
	case ip != nil && ip.Equal(net.IPv6unspecified):
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + path
}
