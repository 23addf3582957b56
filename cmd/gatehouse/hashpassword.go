package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// hashPassword prints the bcrypt hash, or with --argon2id the argon2id
// hash, of a password read from stdin: typed without echo at a terminal, or
// the first line of piped input, so passwords never appear in shell history
// or process lists.
func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	useArgon2id := fs.Bool("argon2id", false, "print an argon2id hash (m=19 MiB, t=2, p=1) instead of bcrypt")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("hash-password takes no arguments, got %q; the password is read from stdin", fs.Arg(0))
	}
	var password string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return err
		}
		password = string(b)
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return fmt.Errorf("no password given: type one, or pipe it in (echo -n secret | gatehouse hash-password)")
	}
	if *useArgon2id {
		fmt.Fprintln(stdout, directory.HashArgon2id(password))
		return nil
	}
	if len(password) > 72 {
		return fmt.Errorf("the password is %d bytes; bcrypt uses at most 72 (argon2id has no such limit: use --argon2id)", len(password))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(hash))
	return nil
}
