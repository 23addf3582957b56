// Package proxy is an OAuth 2.0 / OpenID Connect client that sits in front of
// unmodified upstream applications: it signs people in with any standard
// OpenID Provider, keeps their session in an encrypted cookie (or, with a
// SessionStore, server-side), and forwards their requests to the upstream
// with identity headers the upstream can trust.
//
// Paths under /oauth2/ belong to the proxy itself: /oauth2/start,
// /oauth2/callback, /oauth2/sign_out and /oauth2/userinfo. Every other path is
// matched against the configured routes.
package proxy
