package server

import (
	"context"
	"net/http"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
)

// componentAuditor records the writes of the master's own components
// (scheduler, controllers) in the audit log, as the API's HTTP audit
// records every request's; writes made on behalf of an API request are
// left to that one.
type componentAuditor struct {
	writer *accounts.AuditWriter
}

var _ generic.Auditor = componentAuditor{}

func (a componentAuditor) RecordWrite(ctx context.Context, verb, resource, ns, name string, err error) {
	id, ok := auth.IdentityFrom(ctx)
	if !ok || id.Component == "" {
		return
	}
	code := http.StatusOK
	if err != nil {
		code = int(errdefs.Status(err, schema.GroupResource{Resource: resource}, name).ErrStatus.Code)
	}
	a.writer.Record(accounts.AuditEntry{
		User: id.Name, Verb: verb, Resource: resource, Namespace: ns, Name: name,
		Code: code, SourceIP: "in-process", UserAgent: id.Component,
	})
}
