package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/labstack/echo/v4"
)

// canListRaw reports whether a list can pass the stored bytes through:
// plain JSON, no selector, nothing to filter per caller.
func canListRaw(c echo.Context, res *resource, opts generic.ListOptions) bool {
	accept := c.Request().Header.Get("Accept")
	return opts.Predicate == nil &&
		(opts.Labels == nil || opts.Labels.Empty()) &&
		(opts.Fields == nil || opts.Fields.Empty()) &&
		!wantsTable(accept) && !strings.HasPrefix(accept, "application/yaml")
}

// listRaw writes a list from the stored bytes, each item with its
// resourceVersion spliced in: no decode, no re-encode.
func (a *API) listRaw(c echo.Context, res *resource, ns string, opts generic.ListOptions) error {
	list, err := res.registry.ListRaw(c.Request().Context(), ns, opts)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	resp := c.Response()
	resp.Header().Set("Content-Type", "application/json")
	resp.WriteHeader(http.StatusOK)
	w := bufio.NewWriterSize(resp, 64<<10)
	w.WriteString(`{"kind":"` + res.kind + `List","apiVersion":"v1","metadata":{"resourceVersion":"`)
	w.WriteString(strconv.FormatInt(list.Revision, 10))
	w.WriteByte('"')
	if list.Continue != "" {
		cont, _ := json.Marshal(list.Continue)
		w.WriteString(`,"continue":`)
		w.Write(cont)
	}
	w.WriteString(`},"items":[`)
	buf := make([]byte, 0, 4096)
	for i, item := range list.Items {
		if i > 0 {
			w.WriteByte(',')
		}
		buf = storage.AppendWithResourceVersion(buf[:0], item)
		w.Write(buf)
	}
	w.WriteString("]}\n")
	return w.Flush()
}
