// Command gatehouse runs the gatehouse authorization server and/or proxy
// described by one YAML file, and offers the small tools operators need
// around it. It only wires packages together; the behaviour lives in them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// the module version from the build info is used.
var version = ""

const usage = `gatehouse — an OAuth 2.0 / OpenID Connect gateway

Usage:
  gatehouse serve --config FILE   run the servers the file configures
  gatehouse check --config FILE   validate FILE, print the configuration in
                                  effect (secrets redacted) and warn about
                                  risky settings; exit status 0 if valid
  gatehouse healthcheck --config FILE [--ready] [--timeout 2s]
                                  ask each configured server's /healthz (or
                                  /readyz); exit status 0 if all answer 200
  gatehouse explain --config FILE --user ID [--email E] [--groups a,b] [--claim k=v] METHOD URL
                                  show the route and rule that decide a request
  gatehouse hash-password [--argon2id]
                                  read a password on stdin, print its bcrypt
                                  (or argon2id) hash
  gatehouse version               print the version, Go version and the
                                  revision it was built from
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gatehouse:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		path, err := configFlag("serve", args[1:], stderr)
		if err != nil {
			return err
		}
		return serve(ctx, path, stderr)
	case "check":
		path, err := configFlag("check", args[1:], stderr)
		if err != nil {
			return err
		}
		return check(path, stdout)
	case "explain":
		return explain(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args[1:], stdout, stderr)
	case "hash-password":
		return hashPassword(args[1:], stdin, stdout, stderr)
	case "version", "--version", "-version":
		printVersion(stdout)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func configFlag(cmd string, args []string, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the YAML configuration `file` (see config.example.yaml)")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if *path == "" || fs.NArg() > 0 {
		fs.Usage()
		return "", fmt.Errorf("%s needs --config FILE and nothing else", cmd)
	}
	return *path, nil
}

// printVersion prints the version and, from the build information, the Go
// release and the commit the binary was built from, for bug reports.
func printVersion(w io.Writer) {
	fmt.Fprintln(w, "gatehouse", buildVersion())
	fmt.Fprintln(w, "go:", runtime.Version())
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	vcs := map[string]string{}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	if rev := vcs["vcs.revision"]; rev != "" {
		if vcs["vcs.modified"] == "true" {
			rev += " (with uncommitted changes)"
		}
		fmt.Fprintln(w, "revision:", rev)
	}
	if t := vcs["vcs.time"]; t != "" {
		fmt.Fprintln(w, "time:", t)
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
