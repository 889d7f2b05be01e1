// Package migrations holds Berth's PostgreSQL schema as goose SQL migrations
// (NNNNN_name.sql with -- +goose Up / Down sections). backend/accounts applies
// them at start; nothing else lives here.
package migrations

import "embed"

// FS holds every migration file, named so that goose orders them by version.
//
//go:embed *.sql
var FS embed.FS
