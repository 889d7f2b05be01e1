// Package ostreecompose holds the definitions of Berth's container host:
// rpm-ostree treefiles (a shared base, a Fedora host composed by
// rpm-ostree, a Debian host composed by Berth's OSTree runner), their
// package sources, and the files they add (the node agent's unit, its
// preset and configuration). The master offers them as its first host
// images; nothing else lives here.
package ostreecompose

import "embed"

// FS holds the definitions' files.
//
//go:embed *.yaml *.sources *.repo *.service *.preset *.env
var FS embed.FS

// Hosts names the host definitions, by their main treefile.
var Hosts = []string{"berth-host-debian.yaml", "berth-host.yaml"}
