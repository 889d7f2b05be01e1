// Package auth decides who a request comes from and whether they may do
// what it asks. Authentication is by bearer token or console session
// cookie; authorization is by project role (admin, edit, view) or the
// cluster-admin flag. The rules are pure functions of the identity, the
// role and the RequestInfo, so they are tested as a table.
package auth

import (
	"net/http"
	"strings"
)

// RequestInfo says what an API request asks for, read off its path and
// method the way the Kubernetes apiserver does.
type RequestInfo struct {
	// IsResourceRequest is false for discovery and other non-resource paths.
	IsResourceRequest bool
	// Verb is get, list, watch, create, update, patch, delete or
	// deletecollection.
	Verb        string
	APIGroup    string
	APIVersion  string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
	// Path is the request path, kept for messages and audit.
	Path string
	// FieldSelector is the query's field selector, which decides what a
	// node's list or watch may return.
	FieldSelector string
}

// namespaceSubresources are the subresources of a namespace itself, so that
// /api/v1/namespaces/NS/status is not read as a resource called "status".
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// ParseRequestInfo reads the resource coordinates from an API path
// (/api/v1/... or /apis/GROUP/VERSION/...).
func ParseRequestInfo(r *http.Request) RequestInfo {
	ri := RequestInfo{Path: r.URL.Path, FieldSelector: r.URL.Query().Get("fieldSelector")}
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		ri.APIVersion, parts = parts[1], parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		ri.APIGroup, ri.APIVersion, parts = parts[1], parts[2], parts[3:]
	default:
		ri.Verb = strings.ToLower(r.Method)
		return ri
	}
	if len(parts) == 0 {
		ri.Verb = strings.ToLower(r.Method)
		return ri
	}
	ri.IsResourceRequest = true
	if parts[0] == "namespaces" && len(parts) >= 2 {
		ri.Namespace = parts[1]
		if len(parts) == 2 || (len(parts) == 3 && namespaceSubresources[parts[2]]) {
			ri.Resource, ri.Name = "namespaces", parts[1]
			if len(parts) == 3 {
				ri.Subresource = parts[2]
			}
			parts = nil
		} else {
			parts = parts[2:]
		}
	}
	if len(parts) > 0 {
		ri.Resource = parts[0]
	}
	if len(parts) > 1 {
		ri.Name = parts[1]
	}
	if len(parts) > 2 {
		ri.Subresource = strings.Join(parts[2:], "/")
	}
	ri.Verb = verbOf(r, ri.Name)
	return ri
}

func verbOf(r *http.Request, name string) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if w := r.URL.Query().Get("watch"); w == "1" || w == "true" {
			return "watch"
		}
		if name == "" {
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if name == "" {
			return "deletecollection"
		}
		return "delete"
	}
	return strings.ToLower(r.Method)
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// IsNamespaceObject reports whether the request is about a namespace
// object itself (/api/v1/namespaces/NAME[/status]), whose name the path
// carries where other requests carry their namespace.
func (ri RequestInfo) IsNamespaceObject() bool {
	return ri.Resource == "namespaces" && ri.Name == ri.Namespace
}

// IsReadOnly reports whether a verb only reads.
func IsReadOnly(verb string) bool {
	return verb == "get" || verb == "list" || verb == "watch"
}

// Project is the project (namespace) whose role governs the request: the
// namespace of a namespaced resource, or the name of a namespace or
// project itself.
func (ri RequestInfo) Project() string {
	if ri.Resource == "namespaces" || (ri.APIGroup == "berth.dev" && ri.Resource == "projects") {
		return ri.Name
	}
	return ri.Namespace
}
