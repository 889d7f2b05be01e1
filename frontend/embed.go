// Package frontend holds the browser console: HTML, CSS and ES modules with
// no build step, embedded into the berth binary.
package frontend

import "embed"

// FS is the console's files, rooted at this directory.
//
//go:embed index.html css js vendor
var FS embed.FS
