package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/internal/config"
)

// check validates the file and prints the configuration the servers would
// run with, secrets redacted, followed by what is risky about it. The
// output stays YAML (the rest are comments), so it can be saved and
// compared; an invalid file is an error, which main turns into a non-zero
// exit status.
func check(path string, stdout io.Writer) error {
	c, err := config.Load(path)
	if err != nil {
		return err
	}
	var parts []string
	if c.File.AuthServer != nil {
		parts = append(parts, "authserver on "+c.File.AuthServer.Listen)
	}
	if c.File.Proxy != nil {
		parts = append(parts, "proxy on "+c.File.Proxy.Listen)
	}
	if c.File.DemoUpstream != nil {
		parts = append(parts, "demo upstream on "+c.File.DemoUpstream.Listen)
	}
	fmt.Fprintf(stdout, "# %s is valid: %s.\n", path, strings.Join(parts, ", "))
	fmt.Fprintf(stdout, "# The configuration in effect (environment variables, *_file secrets and defaults applied; secrets shown as %s):\n", config.Redacted)
	if err := c.WriteEffective(stdout); err != nil {
		return err
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(stdout, "# warning: %s\n", w)
	}
	for _, r := range c.Risks {
		fmt.Fprintf(stdout, "# warning: %s\n", r)
	}
	if n := len(c.Warnings) + len(c.Risks); n > 0 {
		fmt.Fprintf(stdout, "# %d warning(s): the file is valid, but read them before relying on it.\n", n)
	}
	return nil
}
