package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/labstack/echo/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// openStream takes a slot of kind for the caller (429 past the limits)
// and returns the session to serve the stream under: its context ends
// when the caller's credential is revoked. Close it when the stream ends.
func (a *API) openStream(c echo.Context, kind streams.Kind) (*streams.Session, error) {
	return a.streams.Open(c.Request().Context(), streamOwner(identity(c)), kind)
}

// streamOwner is whose a stream is. A node credential counts as its
// node, not as the admin who made it: each node's agent has its own
// allowance.
func streamOwner(id auth.Identity) streams.Owner {
	user := id.Name
	if id.TokenKind == auth.TokenKindNode {
		user = "node:" + id.NodeName
	}
	return streams.Owner{User: user, UserID: id.UserID, Credential: streams.CredentialOf(id.Secret)}
}

// watchWhoAmI answers GET whoami?watch=1: the caller's WhoAmI as an ADDED
// event, then nothing for as long as the credential stays valid. When it
// is revoked (logout, a password change, the token or user deleted) an
// ERROR event with a 401 Status ends the stream. The console holds one for
// each of its websockets, which therefore count (as console streams) and
// end with the session; any client may use it to learn when its
// credential goes.
func (a *API) watchWhoAmI(c echo.Context, _ auth.RequestInfo, res *resource) error {
	stream, err := a.openStream(c, streams.Console)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	defer stream.Close()
	id := identity(c)
	who := withKind(&berthv1.WhoAmI{Username: id.Name, ClusterAdmin: id.ClusterAdmin, Via: id.Via}, res)
	resp := c.Response()
	resp.Header().Set("Content-Type", "application/json")
	resp.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(resp)
	if err := enc.Encode(&metav1.WatchEvent{Type: string(watch.Added), Object: runtime.RawExtension{Object: who}}); err != nil {
		return nil
	}
	resp.Flush()
	<-stream.Context().Done()
	if cause := context.Cause(stream.Context()); errors.Is(cause, streams.ErrRevoked) {
		status := statusError(cause, zeroGR, "").Status()
		status.Kind, status.APIVersion = "Status", "v1"
		enc.Encode(&metav1.WatchEvent{Type: string(watch.Error), Object: runtime.RawExtension{Object: &status}})
		resp.Flush()
	}
	return nil
}
