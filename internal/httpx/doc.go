// Package httpx is what both servers, the authserver and the proxy, need
// from HTTP and would otherwise each write: the request id, the middleware
// around every request (access log, request metrics, panic recovery), the
// adapter for handlers that return errors, the JSON writer and the health
// answers. It knows nothing of OAuth, pages or routes.
package httpx
