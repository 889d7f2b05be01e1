package api

import "github.com/berthpaas/berth/backend/auth"

// otherLabel stands for every value a metric label does not know.
const otherLabel = "other"

// knownVerbs are the request verbs metrics name: the API's, and the
// lowercased methods of non-resource requests.
var knownVerbs = map[string]bool{
	"get": true, "list": true, "watch": true, "create": true, "update": true, "patch": true,
	"delete": true, "deletecollection": true, "head": true, "post": true, "put": true, "options": true,
}

// MetricLabels are the verb and resource labels of a request in metrics.
// Only what the API serves is named; any other verb or resource (a path
// that does not exist, a made-up method) is "other", so that clients
// cannot grow the metrics' label sets, and the server's memory, by asking
// for paths that do not exist. The resource is "" for non-resource
// requests (discovery).
func (a *API) MetricLabels(ri auth.RequestInfo) (verb, resource string) {
	verb = ri.Verb
	if !knownVerbs[verb] {
		verb = otherLabel
	}
	if !ri.IsResourceRequest {
		return verb, ""
	}
	res, err := a.lookup(ri)
	if err != nil {
		return verb, otherLabel
	}
	return verb, res.name
}
