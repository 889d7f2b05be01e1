// Package openapi describes served kinds as OpenAPI schemas, read from
// their Go types, as kube-apiserver's generated definitions do: kubectl
// explain reads them, kubectl apply finds patch merge keys in them, and
// generated clients are built from them.
//
// A schema is made by reflection over the Go type: JSON names and
// omitempty from the field tags (a field without omitempty is required),
// descriptions from the type's SwaggerDoc() (k8s.io/api's generated
// documentation) or from another DocSource (Berth's own types give their
// doc comments), names from OpenAPIModelName() or the package path turned
// around as kube-openapi does (k8s.io/api/core/v1.Pod is
// io.k8s.api.core.v1.Pod), and the patch strategy and merge key from the
// patchStrategy and patchMergeKey tags. Types that say how they are
// serialised (OpenAPISchemaType: quantities, times, int-or-string) are
// described that way, not by their fields.
//
// One Builder serves one document:
//
//	NewBuilder(v3, docs...) ──Kind(gvk, type)…──▶ Schemas() ──▶ /openapi/v2 definitions
//	                                                          └▶ /openapi/v3 components.schemas
//
// Each kind's schema carries x-kubernetes-group-version-kind, by which
// kubectl finds it; the types it reaches are defined once each and
// referred to by $ref.
package openapi
