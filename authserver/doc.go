// Package authserver is gatehouse's OAuth 2.0 authorization server and
// OpenID Provider: discovery, JWKS, the authorization endpoint with its
// login and consent pages, the token endpoint, userinfo, and the tutorial's
// /api/me resource endpoint. Each endpoint or flow has its own file;
// request.go holds the pure parsers of untrusted input.
//
// Users and clients come from a read-only directory; everything that
// changes (codes, tokens, consents, signing keys) lives in a storage.Store,
// so several replicas can share one database.
package authserver
