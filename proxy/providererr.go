package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// providerRefusal is an error answer of the provider's token or
// introspection endpoint as the proxy logs it and errors carry it: the
// status and the OAuth error, never the body. A provider may put what the
// request sent (a code, a refresh token, a bearer token) into its body, and
// even into its error_description, so that is cleaned of the secrets sent.
type providerRefusal struct {
	endpoint    string
	status      string
	code        string // OAuth error code; empty when the body had none
	description string
	// cause is the error the answer came as, for errors.As; its own text
	// is never shown.
	cause error
}

func (e *providerRefusal) Error() string {
	s := fmt.Sprintf("the %s answered %s", e.endpoint, e.status)
	switch {
	case e.code == "":
		s += " without an OAuth error"
	case e.description == "":
		s += ": " + e.code
	default:
		s += fmt.Sprintf(": %s (%.200q)", e.code, e.description)
	}
	return s
}

func (e *providerRefusal) Unwrap() error { return e.cause }

// redactTokenError turns an *oauth2.RetrieveError from the token endpoint
// into a *providerRefusal, sent being the secrets of the request; any
// other error (the endpoint unreachable, say) is returned as it is.
func redactTokenError(err error, sent ...string) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	status := "with no response"
	if re.Response != nil {
		status = re.Response.Status
	}
	return &providerRefusal{endpoint: "token endpoint", status: status, code: re.ErrorCode,
		description: scrub(re.ErrorDescription, sent), cause: re}
}

// refusalOf describes a non-200 answer of the endpoint from its status and
// JSON body (RFC 6749 section 5.2), sent being the secrets of the request.
func refusalOf(endpoint, status string, body []byte, sent ...string) *providerRefusal {
	var oe struct {
		Code        string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &oe) // a body that is no OAuth error leaves both empty
	return &providerRefusal{endpoint: endpoint, status: status, code: scrub(oe.Code, sent),
		description: scrub(oe.Description, sent), cause: errors.New(status)}
}

// scrub replaces every secret of sent that appears in s.
func scrub(s string, sent []string) string {
	for _, secret := range sent {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// scrubbedError is err with the secrets sent removed from its text: for
// errors whose text may hold a provider's answer, such as go-oidc's for
// userinfo.
type scrubbedError struct {
	err  error
	sent []string
}

func (e *scrubbedError) Error() string { return scrub(e.err.Error(), e.sent) }
func (e *scrubbedError) Unwrap() error { return e.err }
