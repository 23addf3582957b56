package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestChromiumSignIn has a real browser do what a person does on first
// visit: open the app, type the user id and password, press Approve, and see
// the app say who they are.
func TestChromiumSignIn(t *testing.T) {
	exe := os.Getenv("GATEHOUSE_TEST_CHROMIUM")
	if exe == "" {
		t.Skip("GATEHOUSE_TEST_CHROMIUM not set (path to Debian's chromium): skipping the real-browser test")
	}
	s := startStack(t, "")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.proxyURL+"/reports?year=2026"),
		chromedp.WaitVisible(`#user_id`),
		chromedp.SendKeys(`#user_id`, testUser),
		chromedp.SendKeys(`#password`, testPassword),
		chromedp.Click(`form button[type=submit]`),
		chromedp.WaitVisible(`button[value=approve]`),
		chromedp.Click(`button[value=approve]`),
		chromedp.WaitVisible(`#identity`),
	)
	if err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	identity, err := chromedp.Run(ctx, chromedp.Text(`#identity`))
	if err != nil {
		t.Fatal(err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if location != s.proxyURL+"/reports?year=2026" {
		t.Errorf("ended at %s, want the page first asked for", location)
	}
	for _, want := range []string{"alice", "alice@example.com", "admins,staff"} {
		if !strings.Contains(identity, want) {
			t.Errorf("the app's identity table lacks %q:\n%s", want, identity)
		}
	}
}
