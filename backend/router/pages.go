package router

import (
	"html/template"
	"net/http"
	"strconv"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// The router's own answers. They name the route matched (its project,
// name and service), never the request's host or any other route: a
// stranger learns nothing of the cluster's other tenants.
var (
	notFoundPage = page("Not found", `<p>No application answers at this address.</p>
<p>Check the host name and the path. If this is your application, create a route for it.</p>`)
	unavailablePage = page("Application not available", `<p>The route <b>{{.Namespace}}/{{.Name}}</b> leads to the service
<b>{{.Spec.To.Name}}</b>, which has no ready endpoint right now.</p>
<p>Its pods may be starting, failing their readiness checks, or scaled to zero. Try again shortly.</p>`)
	badGatewayPage = page("Bad gateway", `<p>{{if .}}The route <b>{{.Namespace}}/{{.Name}}</b> reached{{else}}The router reached{{end}}
an endpoint that did not answer properly.</p><p>Try again shortly.</p>`)
)

func page(title, body string) *template.Template {
	return template.Must(template.New(title).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>` + title + `</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}h1{font-size:1.5em}</style>
</head><body><h1>` + title + `</h1>
` + body + `
<p><small>Berth router</small></p></body></html>
`))
}

// writePage answers with one of the router's pages; rt may be nil.
func writePage(w http.ResponseWriter, status int, t *template.Template, rt *berthv1.Route) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(5))
	}
	w.WriteHeader(status)
	_ = t.Execute(w, rt)
}
