// Package web holds the authorization server's page templates and
// stylesheet, embedded in the binary so that it needs no files at run time.
package web

import "embed"

// FS holds templates/*.html (a layout and one file per page) and static/
// (served as-is).
//
//go:embed templates static
var FS embed.FS
