package httpx

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Check is one condition a server needs to be ready, such as its store
// answering.
type Check struct {
	Name string
	// Run returns nil when the condition holds, or what is wrong.
	Run func(ctx context.Context) error
}

// checkTimeout bounds each check, so a hung database makes readyz answer
// 503 in time for the probe rather than hang with it.
const checkTimeout = 5 * time.Second

// ServeChecks answers a health probe: 200 "ok" when every check passes,
// else 503 with one line per failing check. The answer is plain text and
// never cached, since it describes this moment only.
func ServeChecks(w http.ResponseWriter, r *http.Request, checks []Check) {
	var failed strings.Builder
	for _, c := range checks {
		ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
		err := c.Run(ctx)
		cancel()
		if err != nil {
			// One line each: an error text must not add lines of its own.
			failed.WriteString(c.Name + ": " + strings.Join(strings.Fields(err.Error()), " ") + "\n")
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if failed.Len() > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(failed.String()))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}
