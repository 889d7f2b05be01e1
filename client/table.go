package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// tableAccept asks for server-side printing, falling back to plain JSON,
// as kubectl does.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"

// Table asks the server to print one object (name set) or a list (name
// empty; all namespaces when namespace is empty) as a meta.k8s.io/v1 Table.
// Each row's Object holds the object's metadata at least.
func (c *Client) Table(ctx context.Context, res Resource, namespace, name string, opts ListOptions) (*metav1.Table, error) {
	path := res.Path(namespace, "")
	query := opts.query()
	if name != "" {
		var err error
		if path, err = objectPath(res, namespace, name); err != nil {
			return nil, err
		}
		query = nil
	}
	var raw json.RawMessage
	if err := c.do(ctx, request{method: http.MethodGet, path: path, query: query, accept: tableAccept}, &raw); err != nil {
		return nil, err
	}
	return DecodeTable(raw)
}

// DecodeTable decodes a Table. A server that answered plain JSON instead (an
// object or a list) gets a table of its own with the columns every object
// has: Name and Age.
func DecodeTable(raw []byte) (*metav1.Table, error) {
	var head struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("decoding a table: %w", err)
	}
	if head.Kind == "Table" {
		var t metav1.Table
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("decoding a table: %w", err)
		}
		return &t, nil
	}
	items := head.Items
	var list metav1.ListMeta
	if head.Items == nil {
		items = []json.RawMessage{raw}
	} else {
		var meta struct {
			Metadata metav1.ListMeta `json:"metadata"`
		}
		_ = json.Unmarshal(raw, &meta)
		list = meta.Metadata
	}
	t := &metav1.Table{
		TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"},
		ListMeta: list,
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name"},
			{Name: "Age", Type: "string"},
		},
	}
	for _, item := range items {
		var obj struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(item, &obj); err != nil {
			return nil, fmt.Errorf("decoding an object: %w", err)
		}
		age := "<unknown>"
		if created := obj.Metadata.CreationTimestamp; !created.IsZero() {
			age = duration.HumanDuration(time.Since(created.Time))
		}
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{obj.Metadata.Name, age},
			Object: runtime.RawExtension{Raw: item},
		})
	}
	return t, nil
}
