package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// hashPassword prints the bcrypt hash of a password read from stdin: typed
// without echo at a terminal, or the first line of piped input, so passwords
// never appear in shell history or process lists.
func hashPassword(stdin io.Reader, stdout, stderr io.Writer) error {
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
	if len(password) > 72 {
		return fmt.Errorf("the password is %d bytes; bcrypt uses at most 72", len(password))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(hash))
	return nil
}
