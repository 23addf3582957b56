package httpx

import "net/http"

// HandlerFunc is a handler that returns its error instead of answering it,
// so that one ErrorWriter per server turns errors into responses and logs.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ErrorWriter answers a request whose handler failed with err.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Handle adapts h to an http.Handler whose errors onError answers.
func Handle(h HandlerFunc, onError ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			onError(w, r, err)
		}
	})
}
