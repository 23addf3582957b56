package httpx

import (
	"encoding/json"
	"net/http"
)

// WriteJSON writes v as a JSON response with the status. Unless the
// handler already chose a Cache-Control (a public key set may be cached),
// the response is marked no-store: JSON answers carry tokens, claims and
// error details meant for one client only.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error gets here: every value written is a
		// plain struct or map.
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
